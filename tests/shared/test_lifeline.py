"""shared/lifeline.py on its own (the pools that use it: tests/analyzer/test_pool_lifeline.py,
tests/launcher/test_launcher_signals.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy.launcher.config import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

#: The death signal this process asked for (PR_GET_PDEATHSIG), printed.
PRINT_DEATH_SIGNAL = """
import ctypes
value = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(value))
print(value.value)
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30
    )


def test_the_death_signal_is_asked_for() -> None:
    out = _python(
        "from shared.lifeline import die_with_parent; die_with_parent(15)\n" + PRINT_DEATH_SIGNAL
    )
    assert out.stdout.strip() == "15", out.stderr


def test_a_process_whose_parent_is_already_gone_exits() -> None:
    # Its parent is not the pid it was started by: nobody would ever signal it.
    out = _python(
        "import os; from shared.lifeline import die_with_parent\n"
        "die_with_parent(parent=os.getppid() + 1); print('still here')"
    )
    assert (out.returncode, out.stdout) == (0, "")


def test_the_forkserver_preload_does_nothing_in_other_processes() -> None:
    out = _python("import shared.lifeline_forkserver\n" + PRINT_DEATH_SIGNAL)
    assert out.stdout.strip() == "0", out.stderr
