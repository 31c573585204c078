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
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import Ports

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    infra = {"infra", "mongo_url", "kafka_bootstrap", "pipeline"}
    for item in items:
        if infra & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


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
