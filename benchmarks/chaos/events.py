"""documents.events as the fault run sees it: a live log (when each event arrived, for recovery
times) and, at the end, the whole topic read afresh from the beginning and refolded."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from services.status.fold import Doc, Position, fold
from shared.events import (
    TERMINAL_TYPES,
    AnalysisCompleted,
    DocumentFailed,
    Event,
    ExtractionCompleted,
    decode,
)

log = logging.getLogger("chaos")


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() when the harness received it
    partition: int
    offset: int
    event: Event


class LiveLog:
    """Follows the topic while the run goes on; survives the broker's restart."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.by_doc: dict[str, list[Seen]] = defaultdict(list)
        self.count = 0
        self._next: dict[int, int] = {}

    async def run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
            )
            try:
                await consumer.start()
                # Known, not asked: an unsubscribed consumer has no metadata for the topic yet.
                partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
                consumer.assign(partitions)
                for tp in partitions:
                    if tp.partition in self._next:
                        consumer.seek(tp, self._next[tp.partition])
                    else:
                        await consumer.seek_to_beginning(tp)
                while True:
                    batches = await consumer.getmany(timeout_ms=200)
                    now = time.monotonic()
                    for tp, records in batches.items():
                        for record in records:
                            self._next[tp.partition] = record.offset + 1
                            with contextlib.suppress(ValidationError):
                                event = decode(record.value)
                                seen = Seen(now, tp.partition, record.offset, event)
                                self.by_doc[event.subject].append(seen)
                                self.count += 1
            except (KafkaError, OSError) as exc:
                log.debug("live log reconnects after %r", exc)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()


async def read_all(
    bootstrap: str, topic: str, partition_count: int, timeout_s: float = 60.0
) -> list[tuple[Event, Position]]:
    """Every event of the topic, from offset 0 to the end as it is now, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[tuple[Event, Position]] = []
        position = {tp: 0 for tp in partitions}
        async with asyncio.timeout(timeout_s):
            while any(position[tp] < ends[tp] for tp in partitions):
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        position[tp] = record.offset + 1
                        if record.offset >= ends[tp]:
                            continue
                        try:
                            event = decode(record.value)
                        except ValidationError:
                            continue
                        out.append((event, Position(tp.partition, record.offset)))
        return out
    finally:
        await consumer.stop()


def refold(events: list[tuple[Event, Position]]) -> dict[str, Doc]:
    """The read model as the pure fold makes it from the topic (per document, in offset order:
    one document's events are all on one partition)."""
    docs: dict[str, Doc] = {}
    for event, position in sorted(events, key=lambda ep: (ep[1].partition, ep[1].offset)):
        new = fold(docs.get(event.subject), event, position)
        if new is not None:
            docs[event.subject] = new
    return docs


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def conflicting_results(events: list[tuple[Event, Position]]) -> dict[str, list[str]]:
    """Documents with two different results for one generation: two different terminal types,
    or two extraction/analysis results that differ (a redelivered identical one is fine)."""
    terminals: dict[tuple[str, int], set[str]] = defaultdict(set)
    extractions: dict[tuple[str, int], set[str]] = defaultdict(set)
    analyses: dict[tuple[str, int], set[str]] = defaultdict(set)
    for event, _ in events:
        key = (event.subject, event.generation)
        if isinstance(event, DocumentFailed):
            terminals[key].add(f"failed:{event.data.reason}")
        elif event.type in TERMINAL_TYPES:
            terminals[key].add(event.type)
        elif isinstance(event, ExtractionCompleted):
            meta = event.data.metadata.model_dump(exclude={"took_ms"})
            blob = event.data.text_blob.sha256 if event.data.text_blob else None
            extractions[key].add(_digest([meta, blob]))
        elif isinstance(event, AnalysisCompleted):
            analyses[key].add(_digest(event.data.analysis.model_dump(exclude={"took_ms"})))
    found: dict[str, list[str]] = defaultdict(list)
    for label, table in (
        ("terminal", terminals),
        ("extraction", extractions),
        ("analysis", analyses),
    ):
        for (doc_id, generation), values in table.items():
            if len(values) > 1:
                found[doc_id].append(f"generation {generation}: {len(values)} different {label}s")
    return dict(found)
