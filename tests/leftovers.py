"""Finding every process a test started, however deep, after its parent was killed: each
inherits an environment variable with a value unique to the run (children of a dead parent
belong to init, so the process tree no longer leads to them)."""

from __future__ import annotations

import contextlib
import time
import uuid

import psutil

#: The variable the tests set to a fresh value (:func:`new_mark`) for everything they start.
VAR = "DOCSTREAM_TEST_PROCESS_MARK"


def new_mark() -> str:
    return uuid.uuid4().hex


def marked(mark: str) -> list[psutil.Process]:
    """The live processes carrying ``mark`` (zombies are dead: only their entry is left)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get(VAR) == mark:
                found.append(proc)
    return found


def describe(procs: list[psutil.Process]) -> list[str]:
    lines = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            lines.append(f"{proc.pid} (ppid {proc.ppid()}): {' '.join(proc.cmdline())[:160]}")
    return lines


def wait_gone(mark: str, timeout_s: float, *, cmdline_has: str = "") -> list[str]:
    """Until no process carries ``mark`` (only those whose command line has ``cmdline_has``,
    if given): an empty list; or the timeout: what is left."""

    def left() -> list[psutil.Process]:
        found = marked(mark)
        if not cmdline_has:
            return found
        with_it = []
        for proc in found:
            with contextlib.suppress(psutil.Error):
                if cmdline_has in " ".join(proc.cmdline()):
                    with_it.append(proc)
        return with_it

    deadline = time.monotonic() + timeout_s
    while True:
        procs = left()
        if not procs or time.monotonic() > deadline:
            return describe(procs)
        time.sleep(0.2)


def kill_all(mark: str) -> None:
    """After a test, pass or fail: nothing it started stays running."""
    for proc in marked(mark):
        with contextlib.suppress(psutil.Error):
            proc.kill()
