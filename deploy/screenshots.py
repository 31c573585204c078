"""``make screenshots``: the web page's list and a document, as docs/screenshots/*.png.

Starts its own stack on free ports (like the tests), uploads two corpus files through the page
in Debian's Chromium, and saves what a person sees."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from pathlib import Path

from playwright.async_api import async_playwright, expect

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import REPO, Ports
from shared.auth import issue_token

CORPUS = REPO.parent / "shared" / "corpus"
OUT = REPO / "docs" / "screenshots"
FILES = ("pdf/federal-register-2020-17221.pdf", "docx/blk-paras-and-tables.docx")


async def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="docstream-shots-"))
    stack = Stack(
        StackConfig(
            data_dir=data_dir,
            ports=Ports.free(),
            log_level="WARNING",
            auth_secret=uuid.uuid4().hex * 2,
        )
    )
    try:
        await stack.start_infra()
        await stack.start_services()
        await stack.wait_consumers_ready()
        api = f"http://127.0.0.1:{stack.cfg.ports.ingest}"
        token = issue_token(stack.cfg.ensure_secret(), "dev")
        OUT.mkdir(parents=True, exist_ok=True)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox"],
            )
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(f"{api}/")
            await page.get_by_label("API token").fill(token)
            await page.get_by_role("button", name="Use token").click()
            await page.locator("#files").set_input_files([str(CORPUS / f) for f in FILES])
            rows = page.locator("#documents li")
            await expect(rows).to_have_count(len(FILES), timeout=15_000)
            for i in range(len(FILES)):
                await expect(rows.nth(i).locator(".status")).to_have_text(
                    "completed", timeout=120_000
                )
            await page.screenshot(path=OUT / "list.png")
            await rows.filter(has_text="federal-register").get_by_role("button").click()
            await expect(page.locator("#text")).not_to_be_empty(timeout=15_000)
            await page.screenshot(path=OUT / "document.png", full_page=True)
            await browser.close()
        print(f"[docstream] screenshots in {OUT}")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main())
