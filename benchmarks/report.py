"""docs/benchmarks.md from the results: each figure next to its goal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# name: (comparison, goal, what it means)
GOALS: dict[str, tuple[str, float, str]] = {
    "pipeline.latency_ms.p50": ("<=", 50, "one-page PDF, upload to completed on the WebSocket"),
    "pipeline.latency_ms.p99": ("<=", 150, "same, 99th percentile (200 samples)"),
    "pipeline.ratio_vs_raw_loop": (">=", 1.7, "system pages/s over a bare one-process loop"),
    "pipeline.throughput_vs_peer": (">=", 0.9, "pages/s over the Celery + Redis peer's, same run"),
    "pipeline.latency_p50_vs_peer": ("<=", 1.5, "one-page p50 over the peer's, same run"),
    "pipeline.latency_65p_vs_peer": (
        "<=",
        0.6,
        "65-page PDF, upload to completed, over the peer's",
    ),
    "pipeline.overhead_cpu_ms_per_doc": (
        "<=",
        60,
        "CPU of the stack per document beyond the raw loop's",
    ),
    "extraction.speedup_vs_pdfplumber": (">=", 40, "one-worker pool's text path vs pdfplumber"),
    "extraction.similarity_vs_pdfplumber": (">=", 0.95, "mean text similarity to pdfplumber"),
    "extraction.ratio_vs_raw_pdfium": (
        ">=",
        0.9,
        "pool vs bare pypdfium2 loops, same process count",
    ),
    "extraction.ratio_vs_raw_pdfium_1worker": (">=", 0.9, "one-worker pool vs a one-process loop"),
    "analysis.rate_limit_error": ("<=", 0.1, "abs(observed - L) / L, 2 replicas, 3 min"),
    "gateway.deliveries_per_s": (">=", 5000, "events delivered to 1,000 WebSocket clients"),
    "gateway.delivery_latency_ms.p99": ("<=", 50, "event produced to message received"),
}


SETTINGS = """## How the figures are made, and the settings behind them

- `pipeline.latency_ms`: one-page PDF (`scotus-transcript-p1.pdf`), one document at a time
  after 20 warm-up documents, 200 samples (a p99 is only given from 200 samples; a quick run
  gives the max); from the start of the upload (one HTTP client for the run) to
  `document.completed` on a WebSocket opened right after the 202. `latency_timeline_ms`: the
  median time after the upload started of each step (the events' own timestamps, same clock).
- `pipeline.latency_65p_ms`: the 65-page `chelsea_pdta.pdf` the same way, on the idle system,
  after one warm-up, median of 5.
- `pipeline.pages_per_s`: 200 copies of the 15-page federal-register PDF, 8 uploads in flight,
  until every one has ended (read from `documents.events`, not by polling the database);
  `raw_loop_pages_per_s`: the same extraction (tables on, as in the service) and offline
  analysis code called in one process: 15 copies in each of four rounds, taken between the
  sides' turns with neither side running; the figures are the rounds' medians
  (`raw_loop_cpu_ms_per_doc_spread`: how far the rounds' CPU per document lay apart).
- `peer.*`: the seed's architecture (`benchmarks/peers/celery_redis`: FastAPI upload and
  WebSocket, Celery prefork workers one per core, Redis broker and pub/sub, the document
  written to the same FerretDB at its start and end), through the same harness with the same
  documents, warm-up, samples and concurrency; its end is read from Redis pub/sub. The two
  sides take turns (docstream, peer, peer, docstream; half the samples and documents each
  turn, each turn opening with the same warm-up) so that drifting load from other work
  weighs on both; docstream's services and Kafka are stopped while the peer runs.
  `*_vs_peer` are docstream's figure over the peer's; `cpu_per_doc_vs_peer` (CPU of all
  processes per document) is what the throughput ratio tends to on a saturated machine.
- `*.cpu_ms_per_doc.*`: CPU (utime + stime from `/proc/<pid>/stat`) of each process of the
  side and of its children (`_children`: extractor workers, analyzer pool, Celery's prefork
  children) over the throughput run, per document; `overhead_cpu_ms_per_doc` is their sum
  minus the raw loop's CPU per document (`pipeline.raw_loop_cpu_ms_per_doc`): what the
  architecture costs beyond the work.
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
- `extraction.*`: `benchmarks/bench_extraction.py`, text path (tables off), corpus PDFs; every
  method warmed up by one untimed pass, then 3 rounds in turn, median of the rounds;
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


_SIDE_BY_SIDE = (
    ("one-page latency p50 (ms)", "latency_ms.p50", "latency_p50_vs_peer"),
    ("one-page latency p99 (ms)", "latency_ms.p99", None),
    ("one-page latency max (ms)", "latency_ms.max", None),
    ("65-page latency (ms)", "latency_65p_ms", "latency_65p_vs_peer"),
    ("pages/s, 200 x 15 pages, 8 in flight", "pages_per_s", "throughput_vs_peer"),
    ("pages/s over the raw loop", "ratio_vs_raw_loop", None),
    ("CPU ms per document, all processes", "cpu_ms_per_doc_total", "cpu_per_doc_vs_peer"),
    ("of which overhead (beyond the raw loop)", "overhead_cpu_ms_per_doc", None),
    ("host load (1 min) after the throughput run", "host_load_1m", None),
)


def _side_by_side(flat: dict[str, Any]) -> list[str]:
    """docstream next to the Celery + Redis peer: figures, CPU by process, latency by step."""
    if "peer.pages_per_s" not in flat:
        return []
    lines = [
        "",
        "## Side by side with the Celery + Redis peer (same run)",
        "",
        "| figure | docstream | Celery + Redis | docstream / peer |",
        "|---|---|---|---|",
    ]
    for label, name, ratio in _SIDE_BY_SIDE:
        ours, peer = flat.get(f"pipeline.{name}", "-"), flat.get(f"peer.{name}", "-")
        quotient = flat.get(f"pipeline.{ratio}", "-") if ratio else "-"
        lines.append(f"| {label} | {ours} | {peer} | {quotient} |")
    raw = flat.get("pipeline.raw_loop_cpu_ms_per_doc", "-")
    lines += [
        "",
        "### CPU per document, by process (throughput run)",
        "",
        f"The raw loop spends {raw} ms of CPU per document on the same work (median of "
        f"{flat.get('pipeline.raw_loop_rounds', '-')} rounds, "
        f"{flat.get('pipeline.raw_loop_cpu_ms_per_doc_spread', '-')} ms apart at most).",
        "",
        "| side | process | CPU ms per document |",
        "|---|---|---|",
    ]
    for side in ("pipeline", "peer"):
        prefix = f"{side}.cpu_ms_per_doc."
        spent = {k.removeprefix(prefix): v for k, v in flat.items() if k.startswith(prefix)}
        for process, value in sorted(spent.items(), key=lambda kv: -float(kv[1])):
            lines.append(
                f"| {'docstream' if side == 'pipeline' else 'peer'} | {process} | {value} |"
            )
    lines += [
        "",
        "### Where the one-page latency goes (median ms after the upload started)",
        "",
        "| side | step | at (ms) | since the step before (ms) |",
        "|---|---|---|---|",
    ]
    for side in ("pipeline", "peer"):
        prefix = f"{side}.latency_timeline_ms."
        steps = sorted(
            ((k.removeprefix(prefix), float(v)) for k, v in flat.items() if k.startswith(prefix)),
            key=lambda kv: kv[1],
        )
        previous = 0.0
        for step, at in steps:
            name = "docstream" if side == "pipeline" else "peer"
            lines.append(f"| {name} | {step} | {at:.1f} | {at - previous:.1f} |")
            previous = at
    work = flat.get("pipeline.one_page_work_ms")
    if work is not None:
        lines += [
            "",
            f"The work itself (extraction with tables, then the offline analysis, in one "
            f"process, median): {float(work):.1f} ms. Beyond it, the p50 of docstream spends "
            f"{flat.get('pipeline.latency_p50_beyond_work_ms', '?')} ms and the peer's "
            f"{flat.get('peer.latency_p50_beyond_work_ms', '?')} ms on their plumbing.",
        ]
    return lines


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
    lines += _side_by_side(flat)
    changes = Path(__file__).with_name("changes.md")
    if changes.exists():
        lines += ["", changes.read_text().rstrip()]
    lines += ["", SETTINGS, "## All figures", "", "| figure | value |", "|---|---|"]
    lines += [f"| `{name}` | {value} |" for name, value in sorted(flat.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
