"""``docstream stats``: per service, what it processed and failed, and how fast (per second,
from two readings of each service's /metrics ``--interval`` seconds apart)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.output import Output

Samples = list[tuple[str, dict[str, str], float]]


def _sum(name: str, **match: str) -> Callable[[Samples], float]:
    def total(samples: Samples) -> float:
        return sum(
            v
            for n, labels, v in samples
            if n == name and all(labels.get(k) == want for k, want in match.items())
        )

    return total


def _refused(samples: Samples) -> float:
    return sum(
        v
        for n, labels, v in samples
        if n == "docstream_ingest_uploads_total" and labels.get("outcome") != "accepted"
    )


#: service -> (processed, failed): what each service counts as its work.
FIGURES: dict[str, tuple[Callable[[Samples], float], Callable[[Samples], float]]] = {
    "ingest": (_sum("docstream_ingest_uploads_total", outcome="accepted"), _refused),
    "extractor": (
        _sum("docstream_extractor_documents_total", outcome="completed"),
        _sum("docstream_extractor_documents_total", outcome="failed"),
    ),
    "analyzer": (
        _sum("docstream_analyzer_documents_total", outcome="completed"),
        _sum("docstream_analyzer_documents_total", outcome="failed"),
    ),
    "status": (
        _sum("docstream_status_events_total", outcome="folded"),
        _sum("docstream_documents_finished_total", status="failed"),
    ),
    "gateway": (
        _sum("docstream_gateway_messages_total"),
        _sum("docstream_gateway_connections_total", outcome="error"),
    ),
}
UNITS = {
    "ingest": "uploads",
    "extractor": "documents",
    "analyzer": "documents",
    "status": "events",
    "gateway": "messages",
}


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("stats", help="per service: processed, failed, rates (/metrics)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    parser.set_defaults(run=run)


async def _read(client: httpx.AsyncClient, url: str) -> Samples | None:
    try:
        response = await client.get(f"{url}/metrics")
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


async def collect(cfg: CliConfig, interval_s: float) -> list[dict[str, Any]]:
    endpoints = cfg.metrics_endpoints()
    async with httpx.AsyncClient(timeout=5.0) as client:
        first = await asyncio.gather(*(_read(client, u) for u in endpoints.values()))
        if interval_s > 0:
            await asyncio.sleep(interval_s)
            second = await asyncio.gather(*(_read(client, u) for u in endpoints.values()))
        else:
            second = first
    rows = []
    for (service, url), before, after in zip(endpoints.items(), first, second, strict=True):
        row: dict[str, Any] = {"service": service, "url": url, "up": after is not None}
        processed, failed = FIGURES.get(service, (_sum(""), _sum("")))
        if after is not None:
            row.update(processed=processed(after), failed=failed(after), unit=UNITS.get(service))
            if before is not None and interval_s > 0:
                row["per_s"] = (processed(after) - processed(before)) / interval_s
        rows.append(row)
    return rows


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    rows = await collect(cfg, args.interval)
    out.rows(rows, ["service", "up", "processed", "failed", "per_s", "unit", "url"])
    return 0 if all(r["up"] for r in rows) else 1
