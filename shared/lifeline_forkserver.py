"""The forkserver's preload (see shared/lifeline.py ``pool_context``): imported by the
forkserver as it starts, it ties the forkserver to the process that started it and every
process the forkserver forks (the pool's workers) to the forkserver.

Its work is done at import, and only in a forkserver: imported anywhere else it does nothing.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

from shared.lifeline import die_with_parent


def _in_forkserver() -> bool:
    # multiprocessing starts it as ``python -c 'from multiprocessing.forkserver import main;
    # main(...)'``: that ``main`` is in the __main__ module of a forkserver and of nothing else.
    forkserver = sys.modules.get("multiprocessing.forkserver")
    entry = getattr(sys.modules.get("__main__"), "main", None)
    return forkserver is not None and entry is getattr(forkserver, "main", object())


if _in_forkserver():
    # No check that the owner is still there: if it died before this, the forkserver reads
    # an end of file on its "alive" pipe (no worker holds that pipe yet) and exits by itself.
    die_with_parent(signal.SIGKILL)
    # A worker asks as soon as it exists, before it unpickles anything, and exits if the
    # forkserver died in between (its pid, taken now, is the parent every worker starts with).
    os.register_at_fork(
        after_in_child=functools.partial(die_with_parent, signal.SIGKILL, parent=os.getpid())
    )
