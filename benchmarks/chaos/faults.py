"""The faults of a run: ``kill -9`` of service instances at random moments, and a stop and
restart of the broker and of the database, on a schedule fixed by the seed."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from deploy.launcher import Stack
from deploy.launcher.install import say

SERVICES = ("ingest", "gateway", "extractor", "analyzer", "status")


@dataclass
class Kill:
    service: str
    instance: str
    planned_s: float
    at: float = 0.0  # time.monotonic() of the kill
    pid: int = 0
    healthy_at: float | None = None  # the restarted instance answered /healthz
    ready_at: float | None = None  # an agent's restarted instance holds partitions again
    recovery_s: float | None = None  # filled in by checks (what the user/the pipeline saw)
    note: str = ""


@dataclass
class Outage:
    target: str  # "kafka" or "ferretdb"
    planned_s: float
    down_s: float
    stopped_at: float = 0.0
    started_at: float = 0.0
    healthy_at: float | None = None
    error: str = ""


@dataclass
class Schedule:
    kills: list[Kill] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)


def make_schedule(
    rng: random.Random,
    duration_s: float,
    *,
    kills_per_service: dict[str, int],
    broker_restart: bool,
    db_restart: bool,
    outage_s: float = 15.0,
) -> Schedule:
    """Kills spread over the run (10%..85% of it), none of one service within 20 s of
    another, and none from 20 s before an outage to 20 s after it: a kill's recovery time is to be
    the kill's, not the broker's."""
    schedule = Schedule()
    if broker_restart:
        schedule.outages.append(Outage("kafka", 0.6 * duration_s, outage_s))
    if db_restart:
        schedule.outages.append(Outage("ferretdb", 0.8 * duration_s, outage_s * 0.6))
    # A kill's recovery takes up to ~15 s: keep kills that far from an outage's start.
    busy = [(o.planned_s - 20, o.planned_s + o.down_s + 20) for o in schedule.outages]
    for service, count in kills_per_service.items():
        placed: list[float] = []
        for _ in range(count):
            for _attempt in range(500):
                t = rng.uniform(0.1 * duration_s, 0.85 * duration_s)
                if all(not a <= t <= b for a, b in busy) and all(abs(t - p) > 20 for p in placed):
                    break
            placed.append(t)
            schedule.kills.append(Kill(service, "", t))
    schedule.kills.sort(key=lambda k: k.planned_s)
    return schedule


async def run_schedule(stack: Stack, schedule: Schedule, t0: float, rng: random.Random) -> None:
    actions: list[tuple[float, Kill | Outage]] = [(k.planned_s, k) for k in schedule.kills]
    actions += [(o.planned_s, o) for o in schedule.outages]
    actions.sort(key=lambda a: a[0])
    pending: list[asyncio.Task[None]] = []
    for planned, action in actions:
        await asyncio.sleep(max(0.0, t0 + planned - time.monotonic()))
        if isinstance(action, Kill):
            pending.append(asyncio.create_task(_kill(stack, action, rng)))
        else:
            # Outages run one at a time, and kills wait for them: the schedule keeps them apart.
            await _outage(stack, action)
    await asyncio.gather(*pending)


async def _kill(stack: Stack, kill: Kill, rng: random.Random) -> None:
    instances = stack.instances[kill.service]
    inst = rng.choice(instances)
    kill.instance = inst.name
    # Only a healthy instance: killing one that is still restarting measures nothing new.
    await stack.wait_healthy(inst.name, timeout_s=120)
    kill.pid = stack.kill(inst.name)
    kill.at = time.monotonic()
    say(f"chaos: kill -9 {inst.name} (pid {kill.pid})")
    try:
        kill.healthy_at = await stack.wait_healthy(inst.name, timeout_s=120)
        if kill.service in ("extractor", "analyzer", "status"):
            kill.ready_at = await stack.wait_ready(inst.name, timeout_s=120)
    except TimeoutError:
        kill.note = "not back within 120 s"


async def _outage(stack: Stack, outage: Outage) -> None:
    say(f"chaos: stopping {outage.target} for {outage.down_s:.0f} s")
    outage.stopped_at = time.monotonic()
    try:
        await stack.stop_process(outage.target)
        await asyncio.sleep(max(0.0, outage.stopped_at + outage.down_s - time.monotonic()))
        outage.started_at = time.monotonic()
        outage.healthy_at = await stack.start_process(outage.target, timeout_s=180)
        say(f"chaos: {outage.target} back after {outage.healthy_at - outage.stopped_at:.1f} s")
    except (TimeoutError, RuntimeError, OSError) as exc:
        outage.error = repr(exc)
        say(f"chaos: {outage.target} restart failed: {exc!r}")
