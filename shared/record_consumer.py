"""A consumer-group member on plain aiokafka, in the service's own event loop (no faust).

faust's aiokafka driver runs its consumer in a thread of its own: every fetch crosses threads
through a method queue and ``call_soon_threadsafe``, and every record then walks faust's stream
machinery. A service that reads every record of a busy topic to act on few of them (webhooks
skips ~9 records of 10) paid that per record. :class:`RecordConsumer` keeps what such a service
relied on faust for, and nothing else:

- a consumer group named like faust's (``<topic prefix>docstream-<service>``, so committed
  offsets carry over), static membership (KIP-345) with the session timeout and heartbeat of
  the settings (as faust's agents had them), ``auto_offset_reset="earliest"``;
- at-least-once by hand: ``enable_auto_commit=False``, and only offsets of *finished* records
  are committed. A handler may finish a record later than it returns (a task beside the
  consumer), so records finish out of order; per partition the commit goes up to the first
  record still unfinished, as faust's acks do (:class:`PartitionOffsets`). With
  ``max_running``, at most that many such tasks run at once: the consumer hands out the next
  record only once one of them is done;
- commits every ``commit_interval_s`` (or sooner after ``commit_every`` finished records), on
  partition revocation (a rebalance) and on stop.

Records still running when their partition is revoked are not stopped: they finish here, but
their offsets are not committed any more, and the partition's new owner (maybe this member
again) reads them again. Records still running at :meth:`RecordConsumer.stop` are cancelled
and left uncommitted. Either way they are delivered again: at-least-once, never skipped.

A consumer that works on batches (status folds up to ``max_records`` events, or what came
within ``within_s``, into one write) gives a :class:`Batching` instead of a per-record handler:
the batch's records are finished only once its handler returned, a revocation waits for the
batch under way (then commits it), and a stop cancels it uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from shared import kafka_backoff  # noqa: F401 - aiokafka waits after a failed metadata update
from shared.consumer_watch import InFlight
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
T = TypeVar("T")
#: Awaited for each record, in order. Returns None when the record is finished on return, or
#: a future (a task it started) that finishes it: then the consumer goes on with the next
#: records at once, and the record counts as finished once the future is done (cancelled:
#: not finished, the record is read again after a restart or rebalance).
Handler = Callable[[Record], Awaitable["asyncio.Future[Any] | None"]]
#: Awaited for each batch (records of any assigned partitions, in offset order per partition);
#: the records are finished when it returns. Raising: the same batch again, after a pause.
BatchHandler = Callable[[list[Record]], Awaitable[None]]
#: Awaited on revocation, once what is finished is committed and before the partitions are
#: assigned again (with the revoked partitions).
RevokedHook = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass(frozen=True)
class Batching:
    """Records handed out in batches: up to ``max_records``, or what came within ``within_s``
    of the batch's first record."""

    handler: BatchHandler
    max_records: int = 500
    within_s: float = 0.25


RECORDS = Counter(
    "docstream_consumer_records_total",
    "Records read by this process's consumer-group member, by topic.",
    ["topic"],
)
COMMITS = Counter(
    "docstream_consumer_commits_total",
    "Offset commits of this process's consumer-group member, by outcome (ok, failed).",
    ["outcome"],
)


async def until_done(record: Record, attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()`` until it returns: a record is never skipped. Each failure is logged and
    tried again after a pause (0.5 s, doubling up to 30 s)."""
    delay = 0.5
    while True:
        try:
            return await attempt()
        except Exception:
            log.exception(
                "record handler failed; retrying the record",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "retry_in_s": delay,
                },
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def group_id(service: str, settings: ServiceSettings) -> str:
    """The group faust named after the service: the same group keeps its committed offsets."""
    return f"{settings.topic_prefix}docstream-{service}"


class PartitionOffsets:
    """One partition's records, handed out in offset order and finished in any order.

    :meth:`commit_point` is the offset to commit: the first record still unfinished, or one past
    the last record handed out when all are finished (offsets need not be contiguous: a
    compacted topic or a transaction marker leaves gaps, so we count what was handed out).
    """

    __slots__ = ("_finished", "_next", "_unfinished", "committed")

    def __init__(self) -> None:
        #: Handed out and not yet passed by the commit point, in offset order.
        self._unfinished: deque[int] = deque()
        #: Those of ``_unfinished`` already finished (out of order, behind an unfinished one).
        self._finished: set[int] = set()
        self._next: int | None = None
        #: The offset last committed by this member (None: nothing yet).
        self.committed: int | None = None

    def started(self, offset: int) -> None:
        """A record handed to the handler, to be finished later by :meth:`finished`."""
        self._unfinished.append(offset)
        self._next = offset + 1

    def passed(self, offset: int) -> None:
        """A record handed out and finished at once (the common case: a skipped record)."""
        if self._unfinished:
            self._unfinished.append(offset)
            self._finished.add(offset)
        self._next = offset + 1

    def finished(self, offset: int) -> None:
        unfinished = self._unfinished
        if unfinished and unfinished[0] == offset:
            unfinished.popleft()
            finished = self._finished
            while unfinished and unfinished[0] in finished:
                finished.discard(unfinished.popleft())
        else:
            self._finished.add(offset)

    @property
    def pending(self) -> int:
        """Records handed out and not finished."""
        return len(self._unfinished) - len(self._finished)

    def commit_point(self) -> int | None:
        """The offset to commit (the next record to read after a restart), None before any."""
        if self._unfinished:
            return self._unfinished[0]
        return self._next


class RecordConsumer(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """A group member feeding each record of ``topics`` to ``handler`` (see :data:`Handler`),
    or its batches to ``batch.handler`` (see :class:`Batching`; then ``handler`` is None).

    :meth:`start` subscribes and starts the loop (joining the group happens in the background;
    :attr:`ready` says when partitions are assigned); :meth:`stop` cancels what is still
    running, commits what is finished and closes (a static member does not leave the group:
    its partitions wait for it to come back, or for its session to time out).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topics: Sequence[str],
        handler: Handler | None,
        *,
        batch: Batching | None = None,
        on_revoked: RevokedHook | None = None,
        instance_id: str | None = None,
        session_timeout_s: float = 10.0,
        max_poll_interval_s: float = 600.0,
        max_records: int = 500,
        max_running: int | None = None,
        poll_timeout_s: float = 0.5,
        commit_interval_s: float = 1.0,
        commit_every: int = 100,
        fetch_max_wait_s: float = 0.5,
        fetch_min_bytes: int = 1,
        client_id: str | None = None,
    ) -> None:
        if (handler is None) == (batch is None):
            raise ValueError("give either a record handler or a batch handler")
        self.group = group
        self.topics = list(topics)
        self._handler = handler
        self._batch = batch
        self._on_revoked = on_revoked
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id or group,
            "group_id": group,
            # Static membership: a restarted replica with the same id takes its partitions
            # back at once (and a stopped one keeps them until the session times out).
            "group_instance_id": instance_id,
            "session_timeout_ms": int(session_timeout_s * 1000),
            # A third of the session, Kafka's own bound: a heartbeat is a request to the broker
            # from every member of every group, all the time (at a tenth, four groups' were
            # about one request in twenty of the broker's under load). A member learns of a
            # rebalance at its next heartbeat.
            "heartbeat_interval_ms": int(session_timeout_s * 1000 / 3),
            "max_poll_interval_ms": int(max_poll_interval_s * 1000),
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            # The broker answers a fetch once it has fetch_min_bytes, or after the wait. One
            # byte: at once (each record a round trip). More: records gather for up to the
            # wait, fewer round trips for a consumer that can take that latency.
            "fetch_max_wait_ms": int(fetch_max_wait_s * 1000),
            "fetch_min_bytes": fetch_min_bytes,
        }
        self._max_records = max_records
        self._max_running = max_running
        #: Set each time a record's future is done: a free place when max_running is reached.
        self._one_done = asyncio.Event()
        self._poll_timeout_ms = int(poll_timeout_s * 1000)
        self._commit_interval_s = commit_interval_s
        self._commit_every = commit_every
        self._consumer: AIOKafkaConsumer | None = None  # made in start(), inside the loop
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._running: set[asyncio.Future[Any]] = set()
        #: The records and batches being handled, retries and their pauses included, and when
        #: the last was taken: what the stall watch reads (shared/consumer_watch.py).
        self.handling = InFlight()
        self._since_commit = 0
        self._commit_due = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._rebalancing = True
        #: Held while a batch is handled: a revocation waits for it (see on_partitions_revoked).
        self._batch_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_service(
        cls,
        service: str,
        settings: ServiceSettings,
        topics: Sequence[str],
        handler: Handler | None,
        **options: Any,
    ) -> RecordConsumer:
        """The member of ``service``'s group, configured from its settings like faust's was."""
        return cls(
            settings.kafka_bootstrap_servers,
            group_id(service, settings),
            topics,
            handler,
            instance_id=settings.instance_id,
            session_timeout_s=settings.consumer_session_timeout_s,
            client_id=f"docstream-{service}",
            **options,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(**self._options)
        await consumer.start()
        consumer.subscribe(self.topics, listener=self)
        poll = self._poll() if self._batch is None else self._poll_batches(self._batch)
        self._tasks = [
            asyncio.create_task(poll, name=f"consume:{self.group}"),
            asyncio.create_task(self._commit_periodically(), name=f"commit:{self.group}"),
        ]

    async def stop(self, *, commit_timeout_s: float = 10.0) -> None:
        """Stop reading, cancel records still running (read again later), commit the rest."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = list(self._running)
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._consumer is None:
            return
        try:
            # Bounded: with the broker gone, the commit would wait for it for ever.
            async with asyncio.timeout(commit_timeout_s):
                await self.commit()
        except TimeoutError:
            log.warning("final commit timed out", extra={"group": self.group})
        await self._consumer.stop()
        self._consumer = None

    @property
    def running(self) -> bool:
        """False once the loop stopped (for a health check to report)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    @property
    def ready(self) -> bool:
        """Partitions assigned and no rebalance under way."""
        return bool(self._partitions) and not self._rebalancing

    @property
    def rebalancing(self) -> bool:
        """A rebalance under way, or not in the group yet: the assignment is not to be used."""
        return self._rebalancing

    @property
    def assigned(self) -> int:
        return len(self._partitions)

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member holds (empty before the first assignment)."""
        return set(self._partitions)

    async def highwaters(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Each partition's end offset (the offset its next record will get), from the broker."""
        if self._consumer is None:
            return {}
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(list(partitions))
        return ends

    def pause(self) -> None:
        """Stop fetching from the partitions held now (a test's stalled consumer)."""
        if self._consumer is not None:
            self._consumer.pause(*self._partitions)

    @property
    def in_flight(self) -> int:
        """Records handed out and not finished."""
        return sum(p.pending for p in self._partitions.values())

    # -- rebalance listener (aiokafka awaits these before/after a rebalance) ------------------

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._rebalancing = True
        revoked = set(revoked)
        # A batch under way is finished first (and committed below): its partitions' new owner
        # starts after it, and on_revoked runs once nothing of the old assignment is in hand.
        async with self._batch_lock:
            # Still this generation's member: the new owner starts after what is finished here.
            await self.commit()
            for tp in revoked:
                self._partitions.pop(tp, None)
            if self._on_revoked is not None:
                await self._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        # Fresh bookkeeping: reading resumes at the committed offset, whatever ran here before.
        self._partitions = {tp: PartitionOffsets() for tp in assigned}
        self._rebalancing = False
        log.info(
            "partitions assigned",
            extra={"group": self.group, "partitions": sorted(tp.partition for tp in assigned)},
        )

    # -- commits -------------------------------------------------------------------------------

    async def commit(self) -> None:
        """Commit, per partition, up to the first record still unfinished (if it moved)."""
        if self._consumer is None:
            return
        async with self._commit_lock:
            offsets: dict[TopicPartition, tuple[PartitionOffsets, int]] = {}
            for tp, partition in self._partitions.items():
                point = partition.commit_point()
                if point is not None and point != partition.committed:
                    offsets[tp] = (partition, point)
            if not offsets:
                return
            self._since_commit = 0
            try:
                await self._consumer.commit({tp: point for tp, (_, point) in offsets.items()})
            except KafkaError as exc:
                # Retried at the next commit; a rebalance's own commit (revocation) comes
                # first anyway, and what is not committed is read again: never skipped.
                COMMITS.labels("failed").inc()
                log.warning("offset commit failed", extra={"group": self.group, "error": repr(exc)})
                return
            COMMITS.labels("ok").inc()
            for partition, point in offsets.values():
                partition.committed = point

    async def _commit_periodically(self) -> None:
        due = self._commit_due
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._commit_interval_s):
                    await due.wait()
            due.clear()
            try:
                await self.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offset commit crashed", extra={"group": self.group})

    def _count_finished(self) -> None:
        self._since_commit += 1
        if self._since_commit >= self._commit_every:
            self._commit_due.set()

    # -- the loop ------------------------------------------------------------------------------

    async def _fetch(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        """What the consumer has (waiting up to ``timeout_ms`` for something); a failure is
        logged and retried after a pause (stopping would leave the process looking healthy
        while it reads nothing)."""
        consumer = self._consumer
        assert consumer is not None
        delay = 0.5
        while True:
            try:
                fetched: dict[TopicPartition, list[Record]] = await consumer.getmany(
                    timeout_ms=timeout_ms, max_records=max_records
                )
                return fetched
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer poll failed", extra={"group": self.group})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _poll(self) -> None:
        while True:
            batches = await self._fetch(self._poll_timeout_ms, self._max_records)
            for tp, records in batches.items():
                partition = self._partitions.get(tp)
                if partition is None:
                    continue  # revoked since the fetch: the new owner reads these
                RECORDS.labels(tp.topic).inc(len(records))
                for record in records:
                    if self._partitions.get(tp) is not partition:
                        break  # revoked (or revoked and assigned again) while we handled
                    await self._handle(partition, record)

    async def _handle(self, partition: PartitionOffsets, record: Record) -> None:
        handler = self._handler
        assert handler is not None  # per record, not in batches
        if self._max_running is not None:
            # The consumer waits for a free place: the records behind stay unread meanwhile.
            while len(self._running) >= self._max_running:
                self._one_done.clear()
                await self._one_done.wait()
        label = f"{record.topic}[{record.partition}]@{record.offset}"
        with self.handling.record(label):
            future = await until_done(record, lambda: handler(record))
        offset = record.offset
        if future is None:
            partition.passed(offset)
            self._count_finished()
            return
        partition.started(offset)
        self._running.add(future)
        token = self.handling.start(label, future)  # until its task is done

        def done(future: asyncio.Future[Any]) -> None:
            self._running.discard(future)
            self.handling.finish(token)
            self._one_done.set()
            if future.cancelled():
                return  # not finished: read again after a restart or rebalance
            error = future.exception()
            if error is not None:
                # Holding the record would stop the partition's commits for good: a handler
                # that wants a retry retries inside its task.
                log.error(
                    "record task failed",
                    exc_info=error,
                    extra={"topic": record.topic, "partition": record.partition, "offset": offset},
                )
            partition.finished(offset)
            self._count_finished()

        future.add_done_callback(done)

    async def _poll_batches(self, batching: Batching) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch: list[tuple[PartitionOffsets, Record]] = []
            deadline: float | None = None
            while len(batch) < batching.max_records:
                if deadline is None:
                    timeout_ms = self._poll_timeout_ms
                else:
                    timeout_ms = max(0, int((deadline - loop.time()) * 1000))
                fetched = await self._fetch(timeout_ms, batching.max_records - len(batch))
                for tp, records in fetched.items():
                    partition = self._partitions.get(tp)
                    if partition is None:
                        continue  # revoked since the fetch: the new owner reads these
                    RECORDS.labels(tp.topic).inc(len(records))
                    batch.extend((partition, record) for record in records)
                if batch and deadline is None:
                    deadline = loop.time() + batching.within_s
                if deadline is not None and loop.time() >= deadline:
                    break
            await self._handle_batch(batching, batch)

    async def _handle_batch(
        self, batching: Batching, batch: list[tuple[PartitionOffsets, Record]]
    ) -> None:
        async with self._batch_lock:
            # A partition revoked (maybe assigned again) while the batch gathered: its records
            # are read again from its committed offset, by whichever member has it now.
            current = self._partitions
            batch = [
                (partition, record)
                for partition, record in batch
                if current.get(TopicPartition(record.topic, record.partition)) is partition
            ]
            if not batch:
                return
            records = [record for _, record in batch]
            first = records[0]
            label = f"{len(records)} from {first.topic}[{first.partition}]@{first.offset}"
            with self.handling.record(label):
                await self._until_handled(batching, records)
            for partition, record in batch:
                partition.passed(record.offset)
                self._count_finished()

    async def _until_handled(self, batching: Batching, records: list[Record]) -> None:
        delay = 0.5
        while True:
            try:
                await batching.handler(records)
                return
            except Exception:
                # Never skipped: the same batch again, after a pause.
                log.exception(
                    "batch handler failed; retrying the batch",
                    extra={"group": self.group, "records": len(records), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
