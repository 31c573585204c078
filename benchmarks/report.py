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
    "analysis.rate_limit_error": ("<=", 0.1, "|observed - L| / L with 2 replicas"),
}


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
    lines += ["", "## All figures", "", "| figure | value |", "|---|---|"]
    lines += [f"| `{name}` | {value} |" for name, value in sorted(flat.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
