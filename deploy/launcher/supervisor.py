"""Keeps the local stack running: a process that exits is restarted with backoff; only a
crash loop (repeated fast crashes) stops the stack, with the process's name and log tail.

One asyncio task (:meth:`Supervisor.run`) serves ``make run``, the fault suite and the tests.
Processes are started from the event loop's thread on purpose: PR_SET_PDEATHSIG fires when the
*thread* that forked the child ends, so a child started from a worker thread would be killed
as soon as that thread finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from deploy.launcher.config import RestartPolicy
from deploy.launcher.install import say
from deploy.launcher.processes import ManagedProcess

#: True once the process serves (its health endpoint answers, Kafka answers metadata, ...).
Probe = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class ExitRecord:
    """One exit the supervisor saw, as logged."""

    name: str
    service: str
    instance: int
    exit_code: int | None
    ran_s: float
    restarts: int
    at: float


class CrashLoopError(RuntimeError):
    def __init__(self, unit: Unit, record: ExitRecord, policy: RestartPolicy) -> None:
        self.name = unit.name
        self.record = record
        super().__init__(
            f"{unit.name} (instance {unit.index + 1} of {unit.service}) crashed "
            f"{policy.max_fast_crashes} times within {policy.window_s:.0f}s, each less than "
            f"{policy.fast_crash_s:.0f}s after its start (last exit code {record.exit_code}); "
            f"stopping the stack. Last lines of {unit.proc.log_path}:\n"
            f"{unit.proc.log_tail(20)}"
        )


@dataclass(eq=False)
class Unit:
    """One supervised process and what the supervisor knows about it."""

    proc: ManagedProcess
    service: str
    index: int = 0
    probe: Probe | None = None
    restarts: int = 0
    #: Deliberately stopped (a fault test's broker outage): not restarted while held.
    held: bool = False
    #: Not needed for the system to work (local monitoring): a crash loop drops it instead
    #: of stopping the stack.
    optional: bool = False
    #: A restart is scheduled or under way: the exit was handled already.
    restarting: bool = False
    fast_crashes: deque[float] = field(default_factory=deque)
    fast_in_a_row: int = 0
    healthy: asyncio.Event = field(default_factory=asyncio.Event)
    #: time.monotonic() of the last time this unit became healthy.
    healthy_at: float | None = None

    @property
    def name(self) -> str:
        return self.proc.name


class Supervisor:
    def __init__(
        self,
        policy: RestartPolicy | None = None,
        *,
        poll_s: float = 0.2,
        health_timeout_s: float = 120.0,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.poll_s = poll_s
        self.health_timeout_s = health_timeout_s
        self.units: dict[str, Unit] = {}
        self.history: list[ExitRecord] = []
        self.closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._fatal: CrashLoopError | None = None

    # --- registration ---

    def add(self, unit: Unit, *, healthy: bool = True) -> Unit:
        """Watch a process that was just started (and, with ``healthy``, found healthy)."""
        self.units[unit.name] = unit
        if healthy:
            self._mark_healthy(unit)
        else:
            self._probe(unit)
        return unit

    def remove(self, name: str) -> None:
        self.units.pop(name, None)

    # --- the loop ---

    async def run(self) -> None:
        """Until cancelled; raises :class:`CrashLoopError` when a process keeps crashing."""
        try:
            while not self.closed:
                for unit in list(self.units.values()):
                    if unit.held or unit.restarting or unit.proc.proc is None:
                        continue
                    if not unit.proc.alive():
                        self._on_exit(unit)
                if self._fatal is not None:
                    raise self._fatal
                await asyncio.sleep(self.poll_s)
        finally:
            self.close()

    def close(self) -> None:
        """No restart from now on (the stack is stopping)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()

    def _on_exit(self, unit: Unit) -> None:
        now = time.monotonic()
        ran = now - unit.proc.started_at
        code = unit.proc.exit_code
        unit.proc.reap()
        unit.healthy.clear()
        policy = self.policy
        if ran < policy.fast_crash_s:
            unit.fast_in_a_row += 1
            unit.fast_crashes.append(now)
        else:
            unit.fast_in_a_row = 0
        while unit.fast_crashes and now - unit.fast_crashes[0] > policy.window_s:
            unit.fast_crashes.popleft()
        record = ExitRecord(unit.name, unit.service, unit.index, code, ran, unit.restarts, now)
        self.history.append(record)
        if len(unit.fast_crashes) >= policy.max_fast_crashes:
            error = CrashLoopError(unit, record, policy)
            say(str(error))
            if unit.optional:
                say(f"{unit.name} is optional: the rest runs on without it")
                self.remove(unit.name)
                return
            self._fatal = error
            return
        backoff = min(
            policy.backoff_max_s,
            policy.backoff_initial_s * 2 ** max(0, unit.fast_in_a_row - 1),
        )
        unit.restarts += 1
        say(
            f"{unit.name} (instance {unit.index + 1} of {unit.service}) exited with code "
            f"{code} after {ran:.1f}s; restart {unit.restarts} in {backoff:.1f}s "
            f"(log: {unit.proc.log_path})"
        )
        unit.restarting = True
        self._spawn(self._restart_later(unit, backoff))

    async def _restart_later(self, unit: Unit, backoff_s: float) -> None:
        try:
            await asyncio.sleep(backoff_s)
            if self.closed or unit.held:
                return
            unit.proc.start()
        finally:
            unit.restarting = False
        self._probe(unit)

    # --- health ---

    def _probe(self, unit: Unit) -> None:
        unit.healthy.clear()
        self._spawn(self._wait_probe(unit))

    async def _wait_probe(self, unit: Unit) -> None:
        deadline = time.monotonic() + self.health_timeout_s
        pid = unit.proc.pid
        while time.monotonic() < deadline:
            if not unit.proc.alive() or unit.proc.pid != pid:
                return  # exited meanwhile: the loop restarts it and probes the new one
            # Probes answer False for "not yet" (refused connection, no metadata yet).
            if unit.probe is None or await unit.probe():
                self._mark_healthy(unit)
                return
            await asyncio.sleep(0.2)
        say(f"{unit.name} is running but not healthy after {self.health_timeout_s:.0f}s")

    def _mark_healthy(self, unit: Unit) -> None:
        unit.healthy_at = time.monotonic()
        unit.healthy.set()

    async def wait_healthy(self, name: str, timeout_s: float = 60.0) -> float:
        """Until the process is up and healthy (after a restart: the new one); its time."""
        unit = self.units[name]
        async with asyncio.timeout(timeout_s):
            await unit.healthy.wait()
        assert unit.healthy_at is not None
        return unit.healthy_at

    # --- faults and deliberate stops ---

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """``kill -9`` the process (the loop then restarts it); the pid that was killed."""
        unit = self.units[name]
        pid = unit.proc.pid
        if pid is None or not unit.proc.alive():
            raise RuntimeError(f"{name} is not running")
        unit.healthy.clear()  # a wait_healthy() right after this waits for the new one
        unit.proc.kill(sig)
        return pid

    async def stop_unit(self, name: str, timeout_s: float = 30.0) -> None:
        """Stop the process and keep it down (held) until :meth:`start_unit`."""
        unit = self.units[name]
        unit.held = True
        unit.healthy.clear()
        await asyncio.to_thread(unit.proc.stop, timeout_s)

    async def start_unit(self, name: str, timeout_s: float = 120.0) -> float:
        """Start a held process again (same arguments, same data, same ports) and wait for
        it to be healthy; the time it became healthy."""
        unit = self.units[name]
        unit.proc.start()
        unit.fast_in_a_row = 0
        unit.held = False
        self._probe(unit)
        return await self.wait_healthy(name, timeout_s)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        self.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
