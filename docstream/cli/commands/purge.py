"""``docstream purge TOPIC``: delete every record of a topic (after confirmation)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.output import Output
from docstream.cli.records import partitions


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("purge", help="delete every record of a topic (asks first)")
    parser.add_argument("topic", help="e.g. documents.uploaded.dlt (the topic prefix is added)")
    parser.add_argument("--yes", action="store_true", help="do not ask (scripts)")
    parser.set_defaults(run=run)


def full_name(cfg: CliConfig, topic: str) -> str:
    prefix = cfg.topic_prefix
    return topic if not prefix or topic.startswith(prefix) else f"{prefix}{topic}"


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    topic = full_name(cfg, args.topic)
    if not args.yes:
        if not sys.stdin.isatty():
            print("docstream: purge asks for confirmation; pass --yes in scripts", file=sys.stderr)
            return 2
        question = f"Delete every record of {topic}? Type the topic's name to confirm: "
        answer = await asyncio.to_thread(input, question)
        if answer.strip() != topic:
            out.message("Nothing deleted.", topic=topic, deleted=0)
            return 1
    tps = await partitions(cfg.kafka_bootstrap_servers, topic)
    if not tps:
        print(f"docstream: no topic {topic}", file=sys.stderr)
        return 2
    consumer = AIOKafkaConsumer(bootstrap_servers=cfg.kafka_bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        await admin.delete_records({tp: RecordsToDelete(ends[tp]) for tp in tps})
    finally:
        await consumer.stop()
        await admin.close()
    deleted = sum(ends[tp] - starts[tp] for tp in tps)
    out.message(f"Deleted {deleted} records of {topic}.", topic=topic, deleted=deleted)
    return 0
