"""``python -m deploy.launcher run`` (what ``make run`` runs), stopped by a signal: nothing
of that run is left, however deep (the analyzer's forkserver, its workers and resource
tracker, the extractor's readers, Kafka, FerretDB, Prometheus), as the README promises for
Ctrl-C, SIGTERM and a killed launcher.

Each run has its own data folder and ports (so does its Kafka); everything it starts carries an
environment variable unique to the test (tests/leftovers.py), which is how what is left is found.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import pytest

from deploy.launcher.config import REPO, Ports
from shared.auth import issue_token
from tests import leftovers

pytestmark = pytest.mark.integration


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    #: What every process of this run carries (tests/leftovers.py).
    mark: str
    data_dir: Path
    log: Path
    ports: Ports

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def pid_of(self, name: str) -> int:
        """A child's pid, from the launcher's pid file (``<pid> <start time>``)."""
        return int((self.data_dir / "run" / f"{name}.pid").read_text().split()[0])


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """The whole stack, started as ``make run`` does, with the analyzer's pool running."""
    mark = leftovers.new_mark()
    ports = Ports.free()
    data_dir = tmp_path / "data"
    # Nothing of the developer's own settings (ports, replicas) leaks into this run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSTREAM_")}
    env |= {
        leftovers.VAR: mark,
        "DOCSTREAM_DATA_DIR": str(data_dir),
        "DOCSTREAM_LOG_LEVEL": "WARNING",
        **{f"DOCSTREAM_{name.upper()}_PORT": str(port) for name, port in asdict(ports).items()},
    }
    log = tmp_path / "launcher.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.launcher", "run"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    current = Run(proc, mark, data_dir, log, ports)
    try:
        _wait_running(current)
        _start_analysis_pool(current)
        yield current
    finally:
        proc.kill()
        proc.wait(10)
        leftovers.kill_all(mark)


def _wait_running(run: Run, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while "docstream is running" not in run.log.read_text(errors="replace"):
        if run.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the launcher did not start:\n{run.log_tail()}")
        time.sleep(0.2)


def _start_analysis_pool(run: Run, timeout_s: float = 30.0) -> None:
    """The analyzer starts its process pool with its first document: upload one."""
    token = issue_token((run.data_dir / "dev-auth-secret").read_text().strip(), "dev")
    response = httpx.post(
        f"http://127.0.0.1:{run.ports.ingest}/v1/documents",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("note.txt", b"A short note. It starts the analysis pool.", "text/plain")},
        timeout=10.0,
    )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + timeout_s
    while True:
        cmdlines = [" ".join(p.cmdline()) for p in leftovers.marked(run.mark)]
        pool = [c for c in cmdlines if "multiprocessing.forkserver" in c]
        tracker = [c for c in cmdlines if "multiprocessing.resource_tracker" in c]
        if len(pool) == 3 and tracker:  # the forkserver and its two workers
            return
        assert time.monotonic() < deadline, f"no analysis pool:\n{run.log_tail()}"
        time.sleep(0.2)


#: How long the services may take to stop by themselves once their launcher (and so Kafka) is
#: gone: a final offset commit gives up after 10 s, on a shared two-core machine.
SERVICES_STOP_S = 40.0


def _assert_nothing_left(run: Run, timeout_s: float, *, cmdline_has: str = "") -> None:
    left = leftovers.wait_gone(run.mark, timeout_s, cmdline_has=cmdline_has)
    assert left == [], "left running:\n" + "\n".join(left)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_stops_everything_in_order(run: Run, sig: signal.Signals) -> None:
    run.proc.send_signal(sig)
    assert run.proc.wait(90) == 0, run.log_tail()
    assert "stopped; nothing left running" in run.log.read_text()
    _assert_nothing_left(run, timeout_s=5.0)


def test_a_killed_launcher_leaves_nothing(run: Run) -> None:
    # Each child gets SIGTERM from the kernel and stops its own children.
    run.proc.kill()
    run.proc.wait(10)
    _assert_nothing_left(run, timeout_s=SERVICES_STOP_S)


def test_a_killed_launcher_and_analyzer_leave_nothing(run: Run) -> None:
    """The analyzer killed too before it could stop its pool (the OOM killer, ``kill -9`` of
    both): nobody is left to stop its process group."""
    analyzer = run.pid_of("analyzer")
    run.proc.kill()
    os.kill(analyzer, signal.SIGKILL)
    run.proc.wait(10)
    # The pool goes with the analyzer at once (it used to stay for good), the rest in time.
    _assert_nothing_left(run, timeout_s=5.0, cmdline_has="multiprocessing")
    _assert_nothing_left(run, timeout_s=SERVICES_STOP_S)
