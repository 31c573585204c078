"""Session fixtures: one real Kafka and one FerretDB per test session, on free ports.

Tests that need them are marked ``integration`` (automatically, by using these fixtures).
Each test module that runs the services gets its own topic prefix and database, so tests
never see each other's records.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import Ports

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test that ran the services carries their logs' last lines in its report:
    a CI run that fails once, on a machine nobody can look at afterwards, says why."""
    report = yield
    if report.failed:
        for name, text in _service_log_tails(item):
            report.sections.append((f"service log {name}", text))
    return report


def _service_log_tails(item: pytest.Item, lines: int = 40) -> list[tuple[str, str]]:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    cfgs = [getattr(value, "cfg", None) for value in funcargs.values()]
    tails = []
    for cfg in cfgs:
        if not isinstance(cfg, StackConfig):
            continue
        for log in sorted((cfg.data_dir / "logs").glob("*.log")):
            try:
                text = log.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            if text:
                tails.append((f"{cfg.topic_prefix}{log.stem}", "\n".join(text)))
    return tails


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    infra = {"infra", "mongo_url", "kafka_bootstrap", "pipeline"}
    for item in items:
        if infra & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium (``make install`` installs it) through Playwright, for the tests
    that need a real browser."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def infra() -> Iterator[Stack]:
    """Kafka + FerretDB for the whole session (started once: they take seconds)."""
    data_dir = Path(tempfile.mkdtemp(prefix="docstream-test-"))
    cfg = StackConfig(
        data_dir=data_dir,
        ports=Ports.free(),
        log_level="WARNING",
        auth_secret=uuid.uuid4().hex + uuid.uuid4().hex,
    )
    stack = Stack(cfg)
    try:
        asyncio.run(stack.start_infra())
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def mongo_url(infra: Stack) -> str:
    return infra.cfg.mongo_url


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Stack) -> str:
    return infra.cfg.bootstrap


@pytest.fixture
async def scratch_db(mongo_url: str) -> AsyncIterator[Any]:
    """A database of its own on the session's FerretDB (timezone-aware), dropped after."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    database = client[f"scratch_{uuid.uuid4().hex[:8]}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()
