"""Child processes that cannot outlive the launcher.

Each child gets its own process group (so its own children, e.g. the extractor's worker pool,
are stopped with it) and PR_SET_PDEATHSIG (so it dies with the launcher even on SIGKILL; a
killed launcher stops no group, so every service ties its own children to itself the same way:
shared/lifeline.py). A pid file per child lets the next start clean up after a launcher that
was killed mid-way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import time
from pathlib import Path

from shared.lifeline import die_with_parent


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        run_dir: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.run_dir = run_dir
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        #: When the current incarnation started (time.monotonic()).
        self.started_at = 0.0
        #: Every pid this process ever had (one per start): tests check none outlives a stop.
        self.pids: list[int] = []

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        kill_stale(self.pid_file)
        log = self.log_path.open("ab")
        env = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
            start_new_session=True,
            # SIGTERM, not SIGKILL: a service then stops its own children and flushes its
            # work. With our pid: a child whose launcher died before it asked exits at once.
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM, parent=os.getpid()),
        )
        log.close()
        self.started_at = time.monotonic()
        self.pids.append(self.proc.pid)
        self.pid_file.write_text(f"{self.proc.pid} {_start_time(self.proc.pid)}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The last incarnation's exit status (negative: killed by that signal); None if running."""
        return self.proc.poll() if self.proc is not None else None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the main process only, as ``kill -9 <pid>`` or the OOM killer would: its
        children are left to notice (the supervisor clears them out in :meth:`reap`)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def reap(self) -> None:
        """After the main process exited: kill what is left of its group (orphaned workers
        would hold ports, files and CPU), forget the pid file."""
        if self.proc is None:
            return
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # Children that ignored the TERM (a stuck worker) go with the group.
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def kill_stale(pid_file: Path) -> None:
    """Stop what a previous, killed launcher left running from this same folder."""
    try:
        pid_text, started = pid_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return
    if _start_time(pid) != started:  # gone, or the pid now belongs to someone else
        pid_file.unlink(missing_ok=True)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _start_time(pid: int) -> str:
    """The kernel's start time of a process: with the pid, it names the process uniquely."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "-"
    return stat.rsplit(")", 1)[1].split()[19]
