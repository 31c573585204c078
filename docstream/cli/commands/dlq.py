"""``docstream dlq list`` and ``docstream dlq replay``: the dead letters, and sending one back.

A dead-lettered work record belongs to a document that failed (its stage gave up on it), and
a failed generation is final in the read model. So a replay starts a new generation, as a
reprocess does: the stage's lifecycle event that opens it (``document.accepted`` before
extraction, ``extraction.completed`` before analysis) and the work record, both at the next
generation, in the dead letter's trace. Events parked by status (a fold bug, fixed since) go
back to ``documents.events`` unchanged.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TypeAlias

from aiokafka import AIOKafkaProducer, ConsumerRecord

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.output import Output
from docstream.cli.records import read_topic
from shared import mongo, tracing
from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentExtracted,
    DocumentUploaded,
    Envelope,
    ExtractionCompleted,
    ExtractionCompletedData,
    decode,
)
from shared.kafka import EventProducer
from shared.passwords import sealed_options
from shared.readmodel import DOCUMENTS, FollowedDatabase
from shared.topics import Topics

SOURCE = "/docstream/cli"
Record: TypeAlias = ConsumerRecord  # bytes keys and values (aiokafka ships no types)


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("dlq", help="dead letters: list, replay")
    dlq = parser.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = dlq.add_parser("list", help="every dead letter, with its error and source")
    listing.set_defaults(run=run_list)
    replay = dlq.add_parser("replay", help="send dead letters back (a new generation)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--document", help="the dead letters of one document")
    which.add_argument("--at", help="one dead letter: TOPIC:PARTITION:OFFSET (as listed)")
    which.add_argument("--all", action="store_true", help="every dead letter")
    replay.set_defaults(run=run_replay)


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (record.headers or ())}


async def dead_letters(cfg: CliConfig) -> list[tuple[str, Record]]:
    topics = Topics(cfg.topic_prefix)
    found: list[tuple[str, Record]] = []
    for source in (topics.uploaded, topics.extracted, topics.events):
        dlt = topics.dead_letter(source)
        found += [(source, r) for r in await read_topic(cfg.kafka_bootstrap_servers, dlt)]
    return found


def _row(source: str, record: Record) -> dict[str, Any]:
    headers = _headers(record)
    try:
        kind: str | None = decode(record.value).type if record.value else None
    except ValueError:
        kind = None  # not a docstream event: why it was dead-lettered
    return {
        "at": f"{record.topic}:{record.partition}:{record.offset}",
        "document": record.key.decode(errors="replace") if record.key else None,
        "type": kind,
        "source": headers.get("docstream-source-topic", source),
        "error": headers.get("docstream-error", "")[:100],
    }


async def run_list(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    rows = [_row(source, record) for source, record in await dead_letters(cfg)]
    out.rows(rows, ["at", "document", "type", "error"])
    return 0


async def run_replay(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    chosen = [
        (source, r)
        for source, r in await dead_letters(cfg)
        if args.all
        or (args.at and args.at == f"{r.topic}:{r.partition}:{r.offset}")
        or (args.document and r.key and r.key.decode(errors="replace") == args.document)
    ]
    if not chosen:
        print("docstream: no such dead letter (see: docstream dlq list)", file=sys.stderr)
        return 1
    topics = Topics(cfg.topic_prefix)
    producer = EventProducer(cfg.kafka_bootstrap_servers, client_id="docstream-cli")
    raw = AIOKafkaProducer(
        bootstrap_servers=cfg.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    client = mongo.connect(cfg.mongo_url, app_name="docstream-cli")
    await producer.start()
    await raw.start()
    rows = []
    try:
        followed = FollowedDatabase(client, cfg.mongo_database)
        await followed.refresh()
        for source, record in chosen:
            # The replay continues the document's trace: its records carry the same trace id.
            with tracing.consuming("dlq replay", record.headers):
                if source == topics.events:
                    await raw.send_and_wait(
                        source, record.value, key=record.key, headers=_plain(record)
                    )
                    rows.append({**_row(source, record), "generation": None, "sent_to": source})
                    continue
                work = decode(record.value)
                current = await followed.db[DOCUMENTS].find_one({"_id": work.subject})
                generation = max(work.generation, int((current or {}).get("generation", 1))) + 1
                await producer.send_many(_renewed(work, generation, topics, cfg.auth_secret))
                rows.append({**_row(source, record), "generation": generation, "sent_to": source})
    finally:
        await producer.stop()
        await raw.stop()
        await client.close()
    out.rows(rows, ["at", "document", "type", "generation", "sent_to"])
    return 0


def _plain(record: Record) -> list[tuple[str, bytes]]:
    # The dead letter's own headers say why it was parked; the replayed record is the original.
    return [(k, v) for k, v in (record.headers or ()) if not k.startswith("docstream-")]


def _renewed(
    work: Envelope, generation: int, topics: Topics, secret: str | None = None
) -> list[tuple[str, Envelope]]:
    """The lifecycle event that opens the new generation, then the work record."""
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": work.subject,
        "owner": work.owner,
        "generation": generation,
    }
    if isinstance(work, DocumentUploaded):
        options = work.data.options
        opened: Envelope = DocumentAccepted(
            **common,
            data=AcceptedData(
                filename=work.data.filename,
                content_type=work.data.content_type,
                size=work.data.blob.size,
                sha256=work.data.blob.sha256 or "",
                # documents.events never carries the password, sealed or not.
                options=options.model_copy(update={"password": None, "password_sealed": None}),
                password_given=options.password is not None or options.password_sealed is not None,
            ),
        )
        if options.password is not None and secret:
            # A record parked before passwords were sealed: its plain password (never written
            # again) is sealed for the replay. Without the secret it is left out, and the
            # extractor answers "a password is required" (encrypted), never a wrong password.
            options = sealed_options(options, secret, document_id=work.subject)
        data = work.data.model_copy(update={"options": options})
        return [
            (topics.events, opened),
            (topics.uploaded, DocumentUploaded(**common, data=data)),
        ]
    if isinstance(work, DocumentExtracted):
        opened = ExtractionCompleted(
            **common,
            data=ExtractionCompletedData(
                metadata=work.data.metadata, text_blob=work.data.text_blob
            ),
        )
        return [
            (topics.events, opened),
            (topics.extracted, DocumentExtracted(**common, data=work.data)),
        ]
    raise ValueError(f"cannot replay a {type(work).__name__} record")
