"""docs/benchmarks.md from the results: each figure next to its goal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# name: (comparison, goal, what it means)
GOALS: dict[str, tuple[str, float, str]] = {
    "pipeline.latency_ms.p50": ("<=", 50, "one-page PDF, upload to completed on the WebSocket"),
    "pipeline.latency_ms.p99": ("<=", 150, "same, 99th percentile"),
    "pipeline.ratio_vs_raw_loop": (">=", 1.7, "system pages/s over a bare one-process loop"),
    "extraction.speedup_vs_pdfplumber": (">=", 40, "extractor text path vs pdfplumber"),
    "extraction.similarity_vs_pdfplumber": (">=", 0.95, "mean text similarity to pdfplumber"),
    "extraction.ratio_vs_raw_pdfium": (">=", 0.9, "extractor (pool) vs a bare pypdfium2 loop"),
    "analysis.rate_limit_error": ("<=", 0.1, "abs(observed - L) / L, 2 replicas, 3 min"),
    "gateway.deliveries_per_s": (">=", 5000, "events delivered to 1,000 WebSocket clients"),
    "gateway.delivery_latency_ms.p99": ("<=", 50, "event produced to message received"),
}


SETTINGS = """## How the figures are made, and the settings behind them

- `pipeline.latency_ms`: one-page PDF (`scotus-transcript-p1.pdf`), one document at a time
  after 10 warm-up documents, 60 samples; from the start of the upload (one HTTP client for
  the run) to `document.completed` on a WebSocket opened right after the 202.
- `pipeline.pages_per_s`: 200 copies of the 15-page federal-register PDF, 8 uploads in flight,
  until every one has ended (read from `documents.events`, not by polling the database);
  `raw_loop_pages_per_s`: the same extraction (tables on, as in the service) and offline
  analysis code called in one process, 30 copies, run first on the idle machine.
- Settings: producers acks=all, idempotent, `linger_ms=0`; a stage announces its start without
  waiting for the ack and sends its final progress and completion in one batch; consumers'
  long polls return as soon as a record arrives (`fetch_min_bytes=1`), the idle wait is
  500 ms; the status fold batches 0.25 s windows and caches the documents it owns; the local
  broker runs the JVM's C1 compiler only (C2 compiling took CPU from the services on two
  cores); the extractor has one worker process per core; pdfplumber's table search runs only
  on pages where pdfium sees ruling lines.
- `gateway.*`: `benchmarks/bench_gateway.py`: the gateway alone, 1,000 clients on
  `/ws/documents`, one user each (each client's events are its own documents'), 6,000
  `extraction.progressed` events/s produced straight to `documents.events` for 20 s, round
  robin over the users; clients in a process of their own; latency from the producer's hand
  to the client's receive (one monotonic clock); RSS and CPU of the gateway process from
  /proc; both processes raise their open-file limit (RLIMIT_NOFILE) to hold the sockets.
- `extraction.*`: `benchmarks/bench_extraction.py`, text path (tables off), corpus PDFs;
  `analysis.*`: `benchmarks/bench_analysis.py`; the rate limit at 60 calls/min, 2 processes.
"""


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def write(results: dict[str, Any], path: Path) -> None:
    flat = _flatten({k: v for k, v in results.items() if k != "meta"})
    meta = results.get("meta", {})
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`) from "
        "`benchmarks/results/latest.json`; do not edit by hand.",
        "Every ratio compares two things measured side by side in the same run, because these "
        "machines are noisy.",
        "",
        f"Run: {meta.get('date', '?')}, {meta.get('machine', {}).get('cpus', '?')} CPUs, "
        f"Python {meta.get('machine', {}).get('python', '?')}"
        f"{' (quick run)' if meta.get('quick') else ''}.",
        "",
        "## Goals",
        "",
        "| figure | measured | goal | met | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, (op, goal, meaning) in GOALS.items():
        value = flat.get(name)
        if value is None:
            lines.append(f"| `{name}` | not measured | {op} {goal} | - | {meaning} |")
            continue
        met = value <= goal if op == "<=" else value >= goal
        lines.append(f"| `{name}` | {value} | {op} {goal} | {'yes' if met else 'NO'} | {meaning} |")
    lines += ["", SETTINGS, "## All figures", "", "| figure | value |", "|---|---|"]
    lines += [f"| `{name}` | {value} |" for name, value in sorted(flat.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
