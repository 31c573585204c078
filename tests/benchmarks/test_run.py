"""What a benchmark run keeps of the last results in latest.json."""

from benchmarks.run import carried_over, deep_merge, nest

PREVIOUS = {
    "pipeline": {"pages_per_s": 80.0, "latency_ms": {"p50": 20.0}},
    "extraction": {"pages_per_s": 900.0},
    "chaos": {"lost": 0, "documents": 300},
}


def test_a_full_run_keeps_only_what_make_chaos_measured() -> None:
    results = deep_merge(carried_over(PREVIOUS, merge=False), nest({"pipeline.pages_per_s": 90.0}))
    assert results == {"pipeline": {"pages_per_s": 90.0}, "chaos": PREVIOUS["chaos"]}


def test_an_only_run_replaces_what_it_measured_and_keeps_the_rest() -> None:
    results = deep_merge(carried_over(PREVIOUS, merge=True), nest({"pipeline.pages_per_s": 90.0}))
    assert results["pipeline"] == {"pages_per_s": 90.0, "latency_ms": {"p50": 20.0}}
    assert results["extraction"] == PREVIOUS["extraction"]
    assert results["chaos"] == PREVIOUS["chaos"]
