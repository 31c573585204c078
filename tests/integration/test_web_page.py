"""The web page at / in a real browser (Debian's Chromium, driven by Playwright): upload two
files, watch both bars reach 100%, open one and read its summary and text, cancel a long one,
and see a refused upload's reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration


async def _signed_in(browser: Browser, pipeline: Pipeline, owner: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{pipeline.api}/")
    await page.get_by_label("API token").fill(pipeline.token(owner))
    await page.get_by_role("button", name="Use token").click()
    await expect(page.locator("#who")).to_contain_text(owner)
    return page


async def test_upload_two_files_and_watch_them_finish(
    browser: Browser, pipeline: Pipeline, corpus: Path
) -> None:
    page = await _signed_in(browser, pipeline, "webby")
    files = [corpus / "pdf/scotus-transcript-p1.pdf", corpus / "docx/test.docx"]
    await page.locator("#files").set_input_files([str(f) for f in files])
    rows = page.locator("#documents li")
    await expect(rows).to_have_count(2, timeout=15_000)
    for name in ("scotus-transcript-p1.pdf", "test.docx"):
        row = rows.filter(has_text=name)
        await expect(row.locator(".status")).to_have_text("completed", timeout=60_000)
        await expect(row.locator("progress")).to_have_attribute("value", "100")
    await rows.filter(has_text="scotus-transcript-p1.pdf").get_by_role("button").click()
    detail = page.locator("#detail")
    await expect(detail).to_be_visible()
    await expect(detail.get_by_role("heading", name="Summary")).to_be_visible(timeout=10_000)
    await expect(page.locator("#text")).to_contain_text(
        "Official - Subject to Final", timeout=10_000
    )
    await expect(page.locator("#pages tbody tr")).to_have_count(1)
    await page.close()


async def test_cancel_a_long_document_from_the_page(browser: Browser, pipeline: Pipeline) -> None:
    page = await _signed_in(browser, pipeline, "canceller")
    await page.locator("#files").set_input_files(
        files=[
            {
                "name": "slow.txt",
                "mimeType": "text/plain",
                "buffer": b"DOCSTREAM-TEST-HOOK sleep 60\n",
            }
        ]
    )
    row = page.locator("#documents li").filter(has_text="slow.txt")
    await expect(row.locator(".status")).to_have_text("extracting", timeout=20_000)
    await row.get_by_role("button").click()
    await page.get_by_role("button", name="Cancel").click()
    await expect(row.locator(".status")).to_have_text("cancelled", timeout=15_000)
    await page.close()


async def test_a_refused_upload_shows_its_reason(browser: Browser, pipeline: Pipeline) -> None:
    page = await _signed_in(browser, pipeline, "refused")
    image: dict[str, Any] = {
        "name": "photo.png",
        "mimeType": "image/png",
        "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    }
    await page.locator("#files").set_input_files(files=[image])
    await expect(page.locator("#errors")).to_contain_text("unsupported_type", timeout=10_000)
    await page.close()
