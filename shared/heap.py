"""Garbage-collector settings for long-running services that must not pause.

CPython's default thresholds (700, 10, 10) suit short scripts. A gateway holding a thousand
connections has ~300,000 tracked objects, and at thousands of deliveries a second the objects
still in flight at each young collection (a pending send, its timer, its future) are promoted
in the thousands: the oldest generation then filled up every few seconds and each full
collection walked everything, stalling every client for 100 ms or more.
"""

from __future__ import annotations

import gc

#: Young collections every 50,000 allocations rather than 700: each still walks only the young
#: objects (a few milliseconds at most), and far fewer in-flight objects get promoted.
YOUNG = 50_000
#: Middle and full collections: after 20 young ones, and after 100 middle ones (CPython also
#: waits until the survivors pending a full collection reach a quarter of the old objects).
MIDDLE = 20
FULL = 100


def settle() -> None:
    """Call once started: what exists then (modules, the app, its clients) lives as long as
    the process; frozen, no collection walks it again. Then the thresholds above."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, FULL)
