"""``python -m benchmarks.run [--quick] [--only NAME]``: every benchmark, side by side, one run.

Writes benchmarks/results/latest.json (nested by the dotted names) and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
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


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks import bench_analysis, bench_extraction, bench_pipeline
    from benchmarks.raw_loop import extract_and_analyze

    flat: dict[str, Any] = {}
    wanted = set(args.only or ["extraction", "analysis", "pipeline"])
    if "extraction" in wanted:
        print("[bench] extraction ...", flush=True)
        flat.update(await asyncio.to_thread(bench_extraction.run, CORPUS))
    data_dir = Path(tempfile.gettempdir()) / f"docstream-bench-{uuid.uuid4().hex[:8]}"
    stack = Stack(StackConfig(data_dir=data_dir, ports=Ports.free(), log_level="WARNING"))
    try:
        await stack.start_infra()
        if "pipeline" in wanted:
            print("[bench] pipeline ...", flush=True)
            flat.update(
                await bench_pipeline.run_pipeline(
                    stack, CORPUS, quick=args.quick, extract_and_analyze=extract_and_analyze
                )
            )
        if "analysis" in wanted:
            print("[bench] analysis ...", flush=True)
            flat.update(
                await asyncio.to_thread(
                    bench_analysis.run, CORPUS, stack.cfg.mongo_url, quick=args.quick
                )
            )
    finally:
        stack.stop()
    return flat


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", action="append", choices=["extraction", "analysis", "pipeline"])
    args = parser.parse_args()
    started = time.time()
    flat = asyncio.run(_run(args))
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.only else {}
    results = {**previous, **nest(flat)}
    results["meta"] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
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
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
