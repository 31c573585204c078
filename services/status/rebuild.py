"""``python -m services.status rebuild``: the read model refolded from documents.events into a
fresh database, then the services switched to it (see services/status/switch.py).

1. Fold the whole topic, from its beginning to its current end, into a new database (the same
   fold and the same writes as the live service, without effects outside the database: the
   state topic and deleted files were handled when the events were live).
2. Point the services at it, not ready: status replicas finish the batch they are writing,
   then hold; ingest and the gateway keep reading the old database meanwhile.
3. Once every live replica's heartbeat says it holds, fold the events that arrived meanwhile.
4. Mark it ready: status replicas fold on into it from their committed offsets (what step 3
   folded is skipped by position), ingest and the gateway read from it.

The old database is kept (drop it by hand once satisfied).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.status import store
from services.status.fold import Position
from services.status.settings import StatusSettings
from services.status.switch import HEARTBEAT_PREFIX
from shared import (
    kafka_backoff,  # noqa: F401 - aiokafka waits after a failed metadata update
    logs,
    mongo,
)
from shared.events import decode
from shared.readmodel import META, Pointer, read_pointer, write_pointer

log = logging.getLogger(__name__)


@dataclass
class Report:
    database: str
    previous: str
    events: int
    documents: int
    seconds: float
    switched: bool


async def rebuild(
    settings: StatusSettings, *, switch: bool = True, hold_timeout_s: float = 120.0
) -> Report:
    started = time.monotonic()
    client = mongo.connect(settings.mongo_url, app_name="docstream-rebuild")
    try:
        base = settings.mongo_database
        previous = (await read_pointer(client, base)).database
        target = f"{base}_r{datetime.now(UTC):%Y%m%d%H%M%S}"
        db = client[target]
        guarded = settings.guarded_writes
        if guarded is None:
            guarded = not await store.is_ferretdb(db)
        writer = store.ReadModelStore(db, guarded=guarded)
        folder = _Folder(settings, writer)
        await folder.start()
        try:
            await folder.fold_to_end()
            if switch:
                await write_pointer(client, base, Pointer(target, ready=False, previous=previous))
                await _wait_until_held(client, base, target, previous, hold_timeout_s)
                await folder.fold_to_end()
                await write_pointer(client, base, Pointer(target, ready=True, previous=previous))
        finally:
            await folder.stop()
        documents = await db["documents"].count_documents({})
        return Report(
            target, previous, folder.events, documents, time.monotonic() - started, switch
        )
    finally:
        await client.close()


class _Folder:
    """documents.events from the beginning, read without a consumer group, folded in order."""

    def __init__(self, settings: StatusSettings, writer: store.ReadModelStore) -> None:
        self.topic = settings.topics.events
        self.bootstrap = settings.kafka_bootstrap_servers
        self.writer = writer
        self.events = 0
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        if not partitions:  # no metadata for the topic yet on a fresh client
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(self.topic)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} does not exist")
        self._tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._tps)
        await self._consumer.seek_to_beginning(*self._tps)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def fold_to_end(self) -> None:
        """Everything up to the topic's end as of now."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(self._tps)
        while True:
            behind = [tp for tp in self._tps if await self._consumer.position(tp) < ends[tp]]
            if not behind:
                return
            batches = await self._consumer.getmany(*behind, timeout_ms=1000, max_records=2000)
            per_document: dict[str, list[store.Folded]] = defaultdict(list)
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        event = decode(record.value)
                    except ValidationError:
                        continue  # not ours; the live fold skipped it too
                    per_document[event.subject].append(
                        (event, Position(record.partition, record.offset))
                    )
                    self.events += 1
            await asyncio.gather(*(self.writer.apply(d, e) for d, e in per_document.items()))


async def _wait_until_held(
    client: Any, base: str, target: str, previous: str, timeout_s: float
) -> None:
    """Until no status replica that is alive (a heartbeat in the last few seconds) still
    writes the previous database."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fresh = datetime.now(UTC) - timedelta(seconds=6)
        beats = [
            beat
            async for beat in client[base][META].find({"database": {"$exists": True}})
            if str(beat["_id"]).startswith(HEARTBEAT_PREFIX)
        ]
        writing_old = [
            b["_id"] for b in beats if b["database"] != target and _aware(b["at"]) > fresh
        ]
        if not writing_old:
            return
        log.info("waiting for status replicas to hold", extra={"replicas": writing_old})
        await asyncio.sleep(0.5)
    # Leave the pointer not ready: the replicas hold until an operator decides.
    raise TimeoutError(f"status replicas still write {previous} after {timeout_s:.0f}s")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.status rebuild")
    parser.add_argument(
        "--no-switch", action="store_true", help="fold into a fresh database, do not switch"
    )
    args = parser.parse_args(argv)
    settings = StatusSettings()
    logs.configure("status-rebuild", level=settings.log_level, json_format=False)
    report = asyncio.run(rebuild(settings, switch=not args.no_switch))
    print(
        f"rebuilt {report.documents} documents from {report.events} events into "
        f"{report.database} in {report.seconds:.1f}s; "
        + (f"switched from {report.previous}" if report.switched else "not switched")
    )
    return 0
