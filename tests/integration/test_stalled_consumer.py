"""A service whose consumer stops handing out records (a test hook pauses it, as faust's
consumer thread was seen to stop) notices it, exits, and is restarted by the supervisor; the
document waiting on it completes, nothing lost (shared/consumer_watch.py). Every consumer
service has the watch: a stage (the analyzer), the read model's fold (status), webhooks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from deploy.launcher import Stack
from shared.consumer_watch import STALLED_EXIT_CODE
from tests.integration.client import Pipeline
from tests.integration.conftest import pipeline_config

pytestmark = pytest.mark.integration


async def _until(check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("service", ["analyzer", "status", "webhooks"])
async def test_a_stalled_consumer_restarts_and_the_waiting_document_completes(
    infra: Stack, tmp_path: Path, service: str
) -> None:
    flag = tmp_path / f"{service}-stalled"
    stack = Stack(
        pipeline_config(
            infra,
            DOCSTREAM_CONSUMER_STALL_S="5",
            **{f"DOCSTREAM_{service.upper()}_TEST_STALL_ONCE": str(flag)},
        )
    )
    try:
        await stack.start_services()
        await stack.wait_consumers_ready()
        stack.supervise()
        await _until(flag.exists, 30)  # its consumer hands out nothing from here on
        pipeline = Pipeline(stack.cfg)
        response = await pipeline.upload(
            None,
            "olga",
            data=b"A short text for the analyzer to summarise. " * 20,
            filename="a.txt",
        )
        assert response.status_code == 202
        document_id = response.json()["id"]
        doc = await pipeline.wait_for_status(
            document_id, "olga", {"completed", "failed"}, timeout_s=60
        )
        assert doc["status"] == "completed"
        # Webhooks hold nothing the document waits for: its records wait until it restarts.
        await _until(lambda: any(r.service == service for r in stack.supervisor.history), 60)
        exits = [r for r in stack.supervisor.history if r.service == service]
        assert [r.exit_code for r in exits] == [STALLED_EXIT_CODE]
        log = (stack.cfg.data_dir / "logs" / f"{service}.log").read_text()
        assert "consumer stalled; restarting" in log
    finally:
        stack.stop()
