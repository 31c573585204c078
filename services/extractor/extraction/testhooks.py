"""TEST-ONLY behaviours that let tests prove the pool's time and memory limits.

Active only when the worker's environment has ``DOCSTREAM_EXTRACTOR_TEST_HOOKS=1`` (never set
in deployments). A document that starts with ``DOCSTREAM-TEST-HOOK <action> <arg>`` then makes
the worker, before anything else:

- ``sleep <seconds>``: sleep (a document stuck in C code, as far as the pool can tell);
- ``allocate <MiB>``: allocate that much at once (hits the address-space limit);
- ``grow <MiB>``: allocate and touch memory in 16 MiB steps, slowly (hits the RSS watchdog);
- ``crash``: abort the process (a parser crashing in C code).

Without the variable such a file is just a small text file.

For a PDF split between workers, ``DOCSTREAM_EXTRACTOR_TEST_PART_HOOK="<action> <arg>"`` in the
worker's environment (with the variable above) runs the same actions in every worker the pool
added to the document, before it asks for pages: one part failing, hanging or crashing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV_VAR = "DOCSTREAM_EXTRACTOR_TEST_HOOKS"
PART_ENV_VAR = "DOCSTREAM_EXTRACTOR_TEST_PART_HOOK"
MAGIC = b"DOCSTREAM-TEST-HOOK "
_STEP = 16 * 2**20


def enabled() -> bool:
    return os.environ.get(ENV_VAR) == "1"


def run_if_requested(path: Path) -> None:
    if not enabled():
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
    except OSError:
        return
    if not head.startswith(MAGIC):
        return
    _act(head[len(MAGIC) :].decode("ascii", "replace"))


def run_in_later_part() -> None:
    if enabled():
        _act(os.environ.get(PART_ENV_VAR, ""))


def _act(request: str) -> None:
    action, _, arg = request.strip().partition(" ")
    if action == "sleep":
        time.sleep(float(arg))
    elif action == "allocate":
        hog = bytearray(int(arg) * 2**20)
        hog[-1] = 1
    elif action == "grow":
        hogs = []
        for _ in range(int(arg) * 2**20 // _STEP):
            hogs.append(b"\x01" * _STEP)  # filled, so the pages are really resident
            time.sleep(0.02)
    elif action == "crash":
        os.abort()
