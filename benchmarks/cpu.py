"""CPU seconds per process of a running stack, from /proc, for a per-document budget.

Each root process is counted with every descendant it has at the time of a snapshot (the
extractor's worker processes, the analyzer's pool, Celery's prefork children): the root under
its own label, its descendants together under ``<label>_children``. A process that exits
between two snapshots takes its CPU with it (none should during a measurement).
"""

from __future__ import annotations

import os

import psutil  # type: ignore[import-untyped, unused-ignore]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), from /proc/<pid>/stat; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return 0.0
    # The command name may hold spaces and parentheses: the fields follow the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


class CpuMeter:
    """``roots``: label -> main pid. :meth:`snapshot` before and after, :meth:`spent` between."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def snapshot(self) -> dict[str, dict[int, float]]:
        taken: dict[str, dict[int, float]] = {}
        for label, pid in self.roots.items():
            taken[label] = {pid: cpu_seconds(pid)}
            taken[f"{label}_children"] = {c: cpu_seconds(c) for c in _descendants(pid)}
        return taken

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """CPU seconds per label between the snapshots (labels that spent nothing left out)."""
        spent: dict[str, float] = {}
        for label, pids in after.items():
            earlier = before.get(label, {})
            seconds = sum(max(0.0, now - earlier.get(pid, 0.0)) for pid, now in pids.items())
            if seconds > 0:
                spent[label] = seconds
        return spent
