"""The supervisor on plain child processes (no Kafka): restarts, crash loops, clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

from deploy.launcher.config import RestartPolicy
from deploy.launcher.processes import ManagedProcess
from deploy.launcher.supervisor import CrashLoopError, Supervisor, Unit

# A parent that also starts a child in its process group, as the extractor's worker pool does.
SLEEPER = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("up", flush=True)
time.sleep(120)
"""
CRASHER = "import sys; print('boom: config is broken', flush=True); sys.exit(3)"
FAST = RestartPolicy(
    backoff_initial_s=0.05, backoff_max_s=0.2, fast_crash_s=5, max_fast_crashes=3, window_s=30
)


def _process(tmp_path: Path, name: str, script: str) -> ManagedProcess:
    return ManagedProcess(
        name,
        [sys.executable, "-c", script],
        run_dir=tmp_path / "run",
        log_path=tmp_path / "logs" / f"{name}.log",
    )


def _running(pid: int) -> bool:
    """Alive and not a zombie (a reparented orphan nobody reaps still has a /proc entry)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group_members(pgids: set[int]) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) in pgids and fields[0] != "Z":
            members.append(int(entry.name))
    return members


async def test_a_killed_process_is_restarted_and_healthy_again(tmp_path: Path) -> None:
    proc = _process(tmp_path, "sleeper", SLEEPER)
    proc.start()
    supervisor = Supervisor(FAST, poll_s=0.05)
    supervisor.add(Unit(proc, "sleeper"))
    task = asyncio.create_task(supervisor.run())
    try:
        first = supervisor.kill("sleeper")
        await supervisor.wait_healthy("sleeper", timeout_s=10)
        assert proc.alive()
        assert proc.pid != first
        assert not _running(first)
        [record] = supervisor.history
        assert (record.name, record.exit_code, record.restarts) == ("sleeper", -9, 0)
        assert supervisor.units["sleeper"].restarts == 1
        # The killed parent's child (its "worker") went with it, not left orphaned.
        await asyncio.sleep(0.2)
        assert _group_members({first}) == []
    finally:
        task.cancel()
        proc.stop()
    assert not any(_running(pid) for pid in proc.pids)
    assert _group_members(set(proc.pids)) == []
    assert not proc.pid_file.exists()


def _a_good_one_and_a_crasher(
    tmp_path: Path, *, optional: bool = False
) -> tuple[ManagedProcess, ManagedProcess, Supervisor]:
    """A healthy process and one that crashes at once (instance 2 of "bad"), both started
    and supervised."""
    good = _process(tmp_path, "good", SLEEPER)
    bad = _process(tmp_path, "bad", CRASHER)
    good.start()
    bad.start()
    supervisor = Supervisor(FAST, poll_s=0.05)
    supervisor.add(Unit(good, "good"))
    supervisor.add(Unit(bad, "bad", index=1, optional=optional))
    return good, bad, supervisor


async def test_a_crash_loop_stops_with_the_name_and_log_tail(tmp_path: Path) -> None:
    good, bad, supervisor = _a_good_one_and_a_crasher(tmp_path)
    try:
        with pytest.raises(CrashLoopError) as caught:
            await asyncio.wait_for(supervisor.run(), 20)
        message = str(caught.value)
        assert "bad (instance 2 of bad) crashed 3 times" in message
        assert "exit code 3" in message
        assert "boom: config is broken" in message
        assert [r.name for r in supervisor.history] == ["bad"] * 3
        # The healthy neighbour was left alone, and no restart happens after the stop.
        assert good.alive()
        assert supervisor.units["good"].restarts == 0
        assert supervisor.closed
        await asyncio.sleep(0.5)
        assert not bad.alive()
    finally:
        good.stop()
        bad.stop()


async def test_an_optional_process_in_a_crash_loop_is_dropped_not_fatal(tmp_path: Path) -> None:
    """Local monitoring (Prometheus) crashing again and again must not stop the system."""
    good, bad, supervisor = _a_good_one_and_a_crasher(tmp_path, optional=True)
    running = asyncio.create_task(supervisor.run())
    try:
        for _ in range(200):
            if "bad" not in supervisor.units:
                break
            await asyncio.sleep(0.05)
        assert "bad" not in supervisor.units
        assert [r.name for r in supervisor.history] == ["bad"] * 3
        await asyncio.sleep(0.3)
        assert not running.done()  # still supervising the rest
        assert good.alive()
        assert not bad.alive()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        good.stop()
        bad.stop()


async def test_backoff_doubles_for_fast_crashes(tmp_path: Path) -> None:
    bad = _process(tmp_path, "bad", CRASHER)
    bad.start()
    policy = RestartPolicy(
        backoff_initial_s=0.2, backoff_max_s=0.8, fast_crash_s=5, max_fast_crashes=5, window_s=30
    )
    supervisor = Supervisor(policy, poll_s=0.02)
    supervisor.add(Unit(bad, "bad"))
    with pytest.raises(CrashLoopError):
        await asyncio.wait_for(supervisor.run(), 30)
    starts = [r.at - r.ran_s for r in supervisor.history]
    exits = [r.at for r in supervisor.history]
    gaps = [start - exit for exit, start in zip(exits, starts[1:], strict=False)]
    # 0.2, 0.4, 0.8, 0.8 (capped) between an exit and the next start
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=True):
        assert expected <= gap < expected + 0.5


async def test_held_process_stays_down_until_started(tmp_path: Path) -> None:
    proc = _process(tmp_path, "broker", SLEEPER)
    proc.start()
    supervisor = Supervisor(FAST, poll_s=0.05)
    supervisor.add(Unit(proc, "broker"))
    task = asyncio.create_task(supervisor.run())
    try:
        await supervisor.stop_unit("broker", timeout_s=5)
        await asyncio.sleep(0.5)
        assert not proc.alive()
        assert supervisor.history == []  # a deliberate stop is no crash
        await supervisor.start_unit("broker", timeout_s=10)
        assert proc.alive()
        assert len(proc.pids) == 2
    finally:
        task.cancel()
        proc.stop()
    assert _group_members(set(proc.pids)) == []


def test_stale_pid_file_from_a_killed_launcher_is_cleaned(tmp_path: Path) -> None:
    proc = _process(tmp_path, "orphan", SLEEPER)
    proc.start()
    pid = proc.pid
    assert pid is not None
    # A new launcher (a new ManagedProcess for the same name) finds and stops the old one.
    again = _process(tmp_path, "orphan", SLEEPER)
    again.start()
    try:
        assert not _running(pid)
        assert again.alive()
    finally:
        again.stop()
        proc.stop()
    assert os.path.exists(again.pid_file) is False


def test_a_kafka_cluster_id_never_reads_as_an_option() -> None:
    from deploy.launcher.infra import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]  # about 31 would start with '-' unguarded
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)
