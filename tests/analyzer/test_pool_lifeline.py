"""The offline provider's process pool dies with the process that owns it, even on SIGKILL
(the OOM killer, ``kill -9``, a launcher that was itself killed and so stops no group).

It used to be left for good: the forkserver, its two workers and the resource tracker, with
ppid 1. Each worker holds the write ends of its call queue and of the forkserver's "alive"
pipe, so none of them ever sees the owner go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from deploy.launcher.config import REPO
from tests import leftovers

#: The analyzer's pool in a process of its own; ``busy``: a long analysis is under way.
HOST = """
import asyncio, sys
from services.analyzer.analysis import OfflineConfig, OfflineProvider

async def main() -> None:
    provider = OfflineProvider(OfflineConfig(executor="process", workers=2))
    await provider.analyze("The pool starts with this one. It is warm.", document_id="warm")
    if sys.argv[1] == "busy":
        text = " ".join(f"Sentence {i} says the weather is fine today." for i in range(60_000))
        asyncio.ensure_future(provider.analyze(text, document_id="long"))
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.fixture
def mark() -> Iterator[str]:
    mark = leftovers.new_mark()
    yield mark
    leftovers.kill_all(mark)


def _pool_processes(host: psutil.Process) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """The host's forkserver processes (the server and its workers) and its resource tracker."""
    forkserver, tracker = [], []
    for proc in host.children(recursive=True):
        cmdline = " ".join(proc.cmdline())
        if "multiprocessing.forkserver" in cmdline:
            forkserver.append(proc)
        elif "multiprocessing.resource_tracker" in cmdline:
            tracker.append(proc)
    return forkserver, tracker


def _wait_worker_busy(workers: list[psutil.Process], timeout_s: float = 10.0) -> None:
    def cpu() -> float:
        return sum(sum(w.cpu_times()[:2]) for w in workers)

    start, deadline = cpu(), time.monotonic() + timeout_s
    while cpu() - start < 0.3:
        assert time.monotonic() < deadline, "no worker started the long analysis"
        time.sleep(0.1)


@pytest.mark.parametrize("state", ["idle", "busy"])
def test_a_killed_owner_leaves_no_pool_process(mark: str, state: str) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, state],
        cwd=REPO,
        env={**os.environ, leftovers.VAR: mark},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "ready"
        forkserver, tracker = _pool_processes(psutil.Process(host.pid))
        # The forkserver itself and the two workers it forked; the tracker the owner started.
        assert len(forkserver) == 3 and len(tracker) == 1, leftovers.describe(forkserver)
        if state == "busy":
            _wait_worker_busy([p for p in forkserver if p.ppid() != host.pid])
        host.kill()
        host.wait(10)
        # The tracker's cleanup of what the pool left (its semaphores) takes a moment.
        left = leftovers.wait_gone(mark, timeout_s=5.0)
        assert left == [], "\n".join(left)
    finally:
        host.kill()
        host.wait(10)
        if host.stdout is not None:
            host.stdout.close()
