"""The benchmarks' bare-loop baseline keeps working (it calls the services' code directly)."""

from pathlib import Path

from benchmarks import raw_loop
from benchmarks.report import GOALS, write


def test_the_raw_loop_extracts_and_analyses(corpus: Path) -> None:
    assert raw_loop.pages_per_second(corpus / "pdf/scotus-transcript-p1.pdf", 2) > 0


def test_the_report_marks_goals(tmp_path: Path) -> None:
    results = {"pipeline": {"latency_ms": {"p50": 40.0, "p99": 400.0}}, "meta": {"quick": True}}
    out = tmp_path / "benchmarks.md"
    write(results, out)
    text = out.read_text()
    assert "| `pipeline.latency_ms.p50` | 40.0 | <= 50 | yes |" in text
    assert "| `pipeline.latency_ms.p99` | 400.0 | <= 150 | NO |" in text
    assert len(GOALS) >= 7
