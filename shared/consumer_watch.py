"""A consumer service watched from inside: what it is stuck on, and whether it stopped taking
records. Every service that consumes with :class:`shared.record_consumer.RecordConsumer` runs
one (the stages, status, webhooks): :func:`watch_consumer` builds it.

Two failures look alike from outside (documents stop moving, the process is up and healthy)
and need different answers:

- a record in flight far longer than a document takes (a send that never returns, a worker
  that never answers): logged, once every ``slow_after_s``, with where its task waits (the
  coroutine stack), which is what an operator (or a failed CI run) needs to know;
- records left waiting on this member's partitions for ``stall_after_s`` while it held none
  in flight and took none: the consumer stopped handing out records (faust's consumer thread,
  which the stages ran on before, had known ways of doing so, e.g. faust-streaming issues 175
  and 640; the watch stays, since any consumer may). Nothing else would ever
  take those records (the partitions are this member's), so the member reports itself
  stalled: ``/healthz`` says so, and the service exits to be restarted (by the launcher's
  supervisor or the orchestrator) into a fresh group membership. With nothing in flight, the
  restart loses nothing: the records are read again from the committed offsets.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from shared.lag import offset_clients

if TYPE_CHECKING:
    from shared.record_consumer import RecordConsumer
    from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
#: The exit status of a service whose consumer stalled (restarted by its supervisor).
STALLED_EXIT_CODE = 75


@dataclass
class _Record:
    label: str
    started: float
    task: asyncio.Future[Any] | None
    reported: float | None = None


class InFlight:
    """The records (or batches) a consumer service is handling now, and when it last took one."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: dict[int, _Record] = {}
        self._tokens = itertools.count()
        self.last_taken = clock()

    def __len__(self) -> int:
        return len(self._records)

    def start(self, label: str, task: asyncio.Future[Any] | None) -> int:
        """A record (or batch) taken; ``task`` is where it is handled (its stack is logged
        when it is slow). Returns the token :meth:`finish` takes."""
        token = next(self._tokens)
        now = self._clock()
        self._records[token] = _Record(label, now, task)
        self.last_taken = now
        return token

    def finish(self, token: int) -> None:
        self._records.pop(token, None)

    @contextmanager
    def record(self, label: str) -> Iterator[None]:
        """In flight while the current task handles it."""
        token = self.start(label, asyncio.current_task())
        try:
            yield
        finally:
            self.finish(token)

    def now(self) -> float:
        return self._clock()

    def idle_s(self) -> float:
        """How long nothing has been in flight and nothing taken (0 while busy)."""
        return 0.0 if self._records else self._clock() - self.last_taken

    def report_slow(self, slow_after_s: float) -> int:
        """Log each record in flight for longer than ``slow_after_s`` (again every
        ``slow_after_s``), with its task's stack; how many were logged."""
        now = self._clock()
        logged = 0
        for record in list(self._records.values()):
            age = now - record.started
            last = record.reported if record.reported is not None else record.started
            if age < slow_after_s or now - last < slow_after_s:
                continue
            record.reported = now
            logged += 1
            log.warning(
                "record still in flight",
                extra={"record": record.label, "age_s": round(age, 1), "waits_in": _stack(record)},
            )
        return logged


def _stack(record: _Record) -> str:
    if not isinstance(record.task, asyncio.Task) or record.task.done():
        return ""
    out = io.StringIO()
    record.task.print_stack(limit=30, file=out)
    return out.getvalue()


async def waiting_records(
    bootstrap_servers: str, group: str, partitions: Collection[TopicPartition]
) -> dict[TopicPartition, int]:
    """Per partition, how many records lie beyond the group's committed offset (from the
    partition's first offset when the group never committed there)."""
    if not partitions:
        return {}
    async with offset_clients(bootstrap_servers) as (admin, consumer):
        committed = await _committed(admin, group, list(partitions))
        starts = await consumer.beginning_offsets(list(partitions))
        ends = await consumer.end_offsets(list(partitions))
    waiting = {}
    for tp in partitions:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else starts.get(tp, 0)
        waiting[tp] = max(int(ends.get(tp, position)) - int(position), 0)
    return waiting


async def _committed(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, Any]:
    # A broker that just started loads its group coordinator a moment after it answers.
    for attempt in range(20):
        try:
            offsets: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(
                group, partitions=partitions
            )
            return offsets
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            if attempt == 19:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("unreachable")


class ConsumerWatch:
    """Runs beside a consumer: logs slow records, and calls ``on_stall`` once the member
    holds records it does not take (see the module's docstring)."""

    def __init__(
        self,
        in_flight: InFlight,
        *,
        bootstrap_servers: str,
        group: str,
        assignment: Callable[[], Collection[TopicPartition] | None],
        on_stall: Callable[[str], Awaitable[None]],
        slow_after_s: float,
        stall_after_s: float,
        check_every_s: float = 5.0,
        before_check: Callable[[], None] | None = None,
    ) -> None:
        self.in_flight = in_flight
        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.assignment = assignment
        self.on_stall = on_stall
        self.slow_after_s = slow_after_s
        self.stall_after_s = stall_after_s
        # Often enough to notice a stall within a fraction of its own deadline.
        if stall_after_s > 0:
            check_every_s = min(check_every_s, stall_after_s / 2)
        self.check_every_s = check_every_s
        self.before_check = before_check
        self.stalled: str | None = None
        # An idle member asks the broker at most this often (two short-lived clients each).
        self._query_every_s = max(stall_after_s / 2, check_every_s)
        self._next_query = 0.0
        #: When records were first seen waiting while nothing was taken (None: not now).
        self._waiting_since: float | None = None

    def stopped_parts(self) -> list[str]:
        """For ``/healthz``: the consumer, once it is found stalled."""
        return ["consumer"] if self.stalled is not None else []

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.check_every_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must outlive a broker hiccup
                # Not seen waiting meanwhile: a broker outage is not the consumer's stall, and
                # the count starts again once the broker answers.
                self._waiting_since = None
                log.exception("consumer watch check failed")

    async def check(self) -> None:
        if self.before_check is not None:
            self.before_check()
        if self.slow_after_s > 0:
            self.in_flight.report_slow(self.slow_after_s)
        if self.stall_after_s <= 0 or self.in_flight.idle_s() < self.stall_after_s:
            self._waiting_since = None  # busy, or took a record lately
            return
        now = self.in_flight.now()
        if now < self._next_query:
            return
        partitions = self.assignment()  # None: a rebalance is under way
        if not partitions:
            self._waiting_since = None  # joining: its fetching has not begun
            return
        self._next_query = now + self._query_every_s
        waiting = await waiting_records(self.bootstrap_servers, self.group, partitions)
        held = {f"{tp.topic}[{tp.partition}]": n for tp, n in sorted(waiting.items()) if n}
        taken_since = (
            self._waiting_since is not None and self.in_flight.last_taken > self._waiting_since
        )
        if not held or self.in_flight.idle_s() < self.stall_after_s or taken_since:
            self._waiting_since = None
            return
        if self._waiting_since is None:
            # Records that arrived just now are not a stall: they must go untaken this long.
            self._waiting_since = now
            self._next_query = now + self.stall_after_s
            return
        if now - self._waiting_since < self.stall_after_s:
            return
        self.stalled = f"records waiting on {held} for {now - self._waiting_since:.0f}s, none taken"
        log.error("consumer stalled; restarting", extra={"waiting": held, "group": self.group})
        await self.on_stall(self.stalled)


def watch_consumer(settings: ServiceSettings, consumer: RecordConsumer) -> ConsumerWatch:
    """Slow records logged with where they wait; a consumer that stopped taking its records
    makes the service exit, to be restarted (see the module's docstring). What is in flight
    is the consumer's own account (:attr:`RecordConsumer.handling`). Start its
    :meth:`ConsumerWatch.run` once the consumer started, and keep it in ``app.state.watch``:
    ``/healthz`` reports a stall (shared/web_service.py)."""

    def assignment() -> list[TopicPartition] | None:
        if consumer.rebalancing:
            return None
        return sorted(consumer.assignment())

    async def restart(why: str) -> None:
        logging.shutdown()  # the error above reaches the log before the process goes
        os._exit(STALLED_EXIT_CODE)

    def stall_once_for_tests() -> None:
        flag = settings.test_stall_once
        if flag is None or flag.exists() or not assignment():
            return
        flag.touch()
        consumer.pause()
        log.warning("test hook: the consumer stops handing out records", extra={"flag": str(flag)})

    return ConsumerWatch(
        consumer.handling,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group=consumer.group,
        assignment=assignment,
        on_stall=restart,
        slow_after_s=settings.slow_record_s,
        stall_after_s=settings.consumer_stall_s,
        before_check=stall_once_for_tests if settings.test_stall_once else None,
    )
