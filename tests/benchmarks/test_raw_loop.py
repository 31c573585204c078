"""The benchmarks' bare-loop baseline keeps working (it calls the services' code directly)."""

from pathlib import Path

from benchmarks import raw_loop
from benchmarks.report import GOALS, write


def test_the_raw_loop_extracts_and_analyses(corpus: Path) -> None:
    assert raw_loop.pages_per_second(corpus / "pdf/scotus-transcript-p1.pdf", 2) > 0


def test_the_work_floor_of_one_page_is_timed(corpus: Path) -> None:
    ms = raw_loop.work_ms(corpus / "pdf/scotus-transcript-p1.pdf", rounds=3)
    assert 0 < ms < 10_000


def test_the_report_marks_goals(tmp_path: Path) -> None:
    results = {"pipeline": {"latency_ms": {"p50": 40.0, "p99": 400.0}}, "meta": {"quick": True}}
    out = tmp_path / "benchmarks.md"
    write(results, out)
    text = out.read_text()
    assert "| `pipeline.latency_ms.p50` | 40.0 | <= 50 | yes |" in text
    assert "| `pipeline.latency_ms.p99` | 400.0 | <= 150 | NO |" in text
    assert len(GOALS) >= 7


def test_the_report_puts_the_peer_beside_docstream(tmp_path: Path) -> None:
    results = {
        "pipeline": {
            "pages_per_s": 30.0,
            "throughput_vs_peer": 0.5,
            "cpu_ms_per_doc": {"kafka": 40.0},
            "latency_timeline_ms": {"document": {"completed": 30.0}, "received": 33.0},
            "one_page_work_ms": 6.0,
            "latency_p50_beyond_work_ms": 27.0,
        },
        "peer": {
            "pages_per_s": 60.0,
            "cpu_ms_per_doc": {"peer-redis": 1.5},
            "latency_p50_beyond_work_ms": 7.0,
        },
        "meta": {},
    }
    out = tmp_path / "benchmarks.md"
    write(results, out)
    text = out.read_text()
    assert "| pages/s, 200 x 15 pages, 8 in flight | 30.0 | 60.0 | 0.5 |" in text
    assert "| docstream | kafka | 40.0 |" in text
    assert "| peer | peer-redis | 1.5 |" in text
    assert "| docstream | received | 33.0 | 3.0 |" in text
    assert "in one process, median): 6.0 ms" in text
    assert "docstream spends 27.0 ms and the peer's 7.0 ms" in text


def test_a_partial_run_keeps_the_other_figures_of_a_section() -> None:
    from benchmarks.run import deep_merge

    earlier = {"pipeline": {"throughput_vs_peer": 0.86, "pages_per_s": 40.0}, "peer": {"p50": 21.8}}
    partial = {"pipeline": {"pages_per_s_at_100k": 58.5, "pages_per_s": 41.0}}
    merged = deep_merge(earlier, partial)
    assert merged["pipeline"] == {
        "throughput_vs_peer": 0.86,
        "pages_per_s": 41.0,
        "pages_per_s_at_100k": 58.5,
    }
    assert merged["peer"] == {"p50": 21.8}
