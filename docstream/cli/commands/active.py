"""``docstream active``: documents in flight per stage, like ``celery inspect active``.

Reads the read model's ``inflight`` collection (one small marker per unfinished document,
the watchdog's worklist) whole: a scan of it costs the documents in flight, not all stored.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.output import Output
from shared import mongo
from shared.readmodel import INFLIGHT, FollowedDatabase


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("active", help="documents in flight, per stage (read model)")
    parser.add_argument("--limit", type=int, default=50, help="documents listed (oldest first)")
    parser.set_defaults(run=run)


async def in_flight(cfg: CliConfig) -> list[dict[str, Any]]:
    client = mongo.connect(cfg.mongo_url, app_name="docstream-cli")
    try:
        followed = FollowedDatabase(client, cfg.mongo_database)
        await followed.refresh()  # a rebuild may have switched the read model's database
        now = datetime.now(UTC)
        docs = []
        async for marker in followed.db[INFLIGHT].find({}):
            updated = marker.get("updated_at")
            if isinstance(updated, datetime) and updated.tzinfo is None:
                updated = updated.replace(tzinfo=UTC)
            idle = (now - updated).total_seconds() if isinstance(updated, datetime) else None
            docs.append(
                {
                    "id": str(marker["_id"]),
                    "owner": marker.get("owner"),
                    "stage": marker.get("status"),
                    "generation": marker.get("generation"),
                    "partition": marker.get("partition"),
                    "idle_s": round(idle, 1) if idle is not None else None,
                }
            )
    finally:
        await client.close()
    return sorted(docs, key=lambda d: -(d["idle_s"] or 0))


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    docs = await in_flight(cfg)
    by_stage = dict(sorted(Counter(str(d["stage"]) for d in docs).items()))
    if out.as_json:
        out.data({"total": len(docs), "by_stage": by_stage, "documents": docs[: args.limit]})
        return 0
    out.rows([{"stage": s, "documents": n} for s, n in by_stage.items()], ["stage", "documents"])
    if docs:
        print()
        out.rows(docs[: args.limit], ["id", "owner", "stage", "generation", "idle_s"])
    return 0
