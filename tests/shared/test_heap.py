from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from shared import heap


def test_settle_freezes_what_exists_and_raises_the_thresholds() -> None:
    defaults = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_threshold() == (heap.YOUNG, heap.MIDDLE, heap.FULL)
        assert gc.get_freeze_count() > 1_000  # this test process's modules at least
        created = [[i] for i in range(10)]
        assert all(gc.is_tracked(c) for c in created)
        assert gc.get_freeze_count() > 0 and len(gc.get_objects()) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
        gc.set_threshold(*defaults)


@pytest.mark.parametrize(
    "prepare",
    [
        # what the extractor's pool worker runs before it reports ready
        "from services.extractor.extraction.worker import _warm_up as prepare",
        # the analyzer pool's initializer (and the benchmark peer's prefork children)
        "from services.analyzer.analysis.offline import prepare_worker as prepare",
    ],
)
def test_the_work_processes_settle_their_heap_once_warmed_up(prepare: str) -> None:
    """The pools' workers: their full collections walked every imported module's objects
    again every few pages (a fifth of the extraction's CPU), until the heap was settled."""
    script = "\n".join(
        [
            "import gc",
            prepare,
            "prepare()",
            "print(gc.get_freeze_count(), *gc.get_threshold())",
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    frozen, *thresholds = map(int, out)
    assert frozen > 10_000  # the readers, the lexicons, the language model's modules
    assert tuple(thresholds) == (heap.YOUNG, heap.MIDDLE, heap.FULL)
