"""Child processes that cannot outlive their parent, even when it is killed with SIGKILL.

A process that dies without stopping its children leaves them running with ppid 1: the
launcher's services, the extractor's readers and the analyzer's process pool each hold ports,
memory or CPU for nothing. Linux's PR_SET_PDEATHSIG asks the kernel to signal a process when
its parent goes, whatever killed the parent. Two properties shape how it is used here:

* It is cleared by fork(): every process must ask for it itself, grandchildren included
  (:func:`die_with_parent`; for a multiprocessing forkserver and its workers:
  :func:`pool_context`).
* It fires when the parent *thread* that forked the child ends, not the parent process: start
  such children from a thread that lives as long as the process (the event loop's).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

_PR_SET_PDEATHSIG = 1

#: The forkserver's preload module (it sets the forkserver and each worker up at import).
FORKSERVER_PRELOAD = "shared.lifeline_forkserver"


def _find_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Looked up once, here: the launcher calls die_with_parent between fork and exec
# (subprocess's preexec_fn), where loading a library could deadlock on a lock another thread
# of the parent held at the fork.
_prctl = _find_prctl()


def die_with_parent(sig: int = signal.SIGKILL, *, parent: int | None = None) -> None:
    """Have the kernel send ``sig`` to this process when its parent (thread) ends.

    ``parent``: the pid this process's parent had when it started it. The request only covers
    a parent that dies after it; if the parent is already gone (this process now belongs to
    init or a subreaper), nobody would ever signal it: exit now instead.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(sig))
    if parent is not None and os.getppid() != parent:
        os._exit(0)


def pool_context() -> BaseContext:
    """The multiprocessing context for a process pool whose processes all die with the
    process that owns the pool.

    A forkserver never forks the owner (whose client threads may hold locks). Its processes
    outlived a SIGKILLed owner for good: each worker keeps the write ends of its own call queue
    and of the forkserver's "alive" pipe, so no worker ever reads an end of file, and neither
    does the forkserver. The preload module makes the forkserver die with the owner and every
    worker with the forkserver; the resource tracker then reads its end of file and exits.
    Where there is no forkserver, spawn (no PR_SET_PDEATHSIG there either).
    """
    # Here, not at the top: the extractor's readers import this module for die_with_parent
    # alone, and each start of one should not pay for multiprocessing (~4 ms).
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # One forkserver per process, started by the first pool: this applies to it when it
    # starts. "__main__" is the default preload, kept.
    ctx.set_forkserver_preload(["__main__", FORKSERVER_PRELOAD])
    return ctx
