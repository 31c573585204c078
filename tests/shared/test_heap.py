from __future__ import annotations

import gc

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
