"""``docstream lag``: every docstream consumer group's lag, per topic and partition."""

from __future__ import annotations

import argparse

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.output import Output
from shared.lag import consumer_lag


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("lag", help="consumer lag per group, topic and partition (Kafka)")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    rows = await consumer_lag(cfg.kafka_bootstrap_servers, cfg.topic_prefix)
    out.rows(
        [r.as_dict() for r in rows], ["group", "topic", "partition", "committed", "end", "lag"]
    )
    return 0
