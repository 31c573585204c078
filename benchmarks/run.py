"""``python -m benchmarks.run [--quick] [--only NAME]``: every benchmark, side by side, one run.

Writes benchmarks/results/latest.json (nested by the dotted names) and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import report
from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import REPO, Ports

CORPUS = REPO.parent / "shared" / "corpus"
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
# Sections another command measures (make chaos): a full run of this one keeps them.
MEASURED_ELSEWHERE = ("chaos",)


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def deep_merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An --only run replaces the figures it measured and keeps its section's others."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def carried_over(previous: dict[str, Any], *, merge: bool) -> dict[str, Any]:
    """What a run keeps of the last results: everything with --only, else only the sections
    this command does not measure."""
    if merge:
        return previous
    return {key: previous[key] for key in MEASURED_ELSEWHERE if key in previous}


def save(flat: dict[str, Any], *, quick: bool, started: float, merge: bool) -> dict[str, Any]:
    """Write what has been measured so far: a failure late in the run keeps the rest."""
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = deep_merge(carried_over(previous, merge=merge), nest(flat))
    results["meta"] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
        "seconds": round(time.time() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    report.write(results, REPO / "docs" / "benchmarks.md")
    return results


async def _run(args: argparse.Namespace, started: float) -> dict[str, Any]:
    from benchmarks import (
        bench_analysis,
        bench_extraction,
        bench_gateway,
        bench_peer,
        bench_pipeline,
        bench_read_model,
    )

    flat: dict[str, Any] = {}
    wanted = set(args.only or ["extraction", "peer", "analysis", "read_model", "gateway"])
    # With --only, other figures of an earlier run are kept; a full run starts afresh.
    merge = bool(args.only)

    def checkpoint(part: dict[str, Any]) -> None:
        flat.update(part)
        save(flat, quick=args.quick, started=started, merge=merge)

    if "extraction" in wanted:
        print("[bench] extraction ...", flush=True)
        checkpoint(await asyncio.to_thread(bench_extraction.run, CORPUS))
    data_dir = Path(tempfile.gettempdir()) / f"docstream-bench-{uuid.uuid4().hex[:8]}"
    stack = Stack(
        StackConfig(
            data_dir=data_dir,
            ports=Ports.free(),
            log_level="WARNING",
            # Copies of the same files measure processing, not the link to a first copy.
            extra_env={"DOCSTREAM_INGEST_DUPLICATES": "process"},
        )
    )
    try:
        await stack.start_infra()
        if "peer" in wanted:
            # docstream's pipeline figures and the Celery + Redis peer's, same run, same harness.
            print("[bench] pipeline and the Celery + Redis peer, side by side ...", flush=True)
            checkpoint(await bench_peer.run_side_by_side(stack, CORPUS, quick=args.quick))
        elif "pipeline" in wanted:
            print("[bench] pipeline ...", flush=True)
            checkpoint(await bench_pipeline.run_pipeline(stack, CORPUS, quick=args.quick))
        if "read_model" in wanted:
            print("[bench] read model at volume ...", flush=True)
            checkpoint(await bench_read_model.run_read_model(stack, CORPUS, quick=args.quick))
        if "gateway" in wanted:
            print("[bench] gateway: 1,000 WebSocket clients ...", flush=True)
            checkpoint(await bench_gateway.run_gateway(stack, quick=args.quick))
        if "analysis" in wanted:
            print("[bench] analysis ...", flush=True)
            checkpoint(
                await asyncio.to_thread(
                    bench_analysis.run, CORPUS, stack.cfg.mongo_url, quick=args.quick
                )
            )
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return save(flat, quick=args.quick, started=started, merge=merge)


def main() -> int:
    # Readiness probes expect refused connections while Kafka starts; don't print them.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=["extraction", "analysis", "pipeline", "peer", "read_model", "gateway"],
    )
    args = parser.parse_args()
    results = asyncio.run(_run(args, time.time()))
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
