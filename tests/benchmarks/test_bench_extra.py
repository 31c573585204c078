"""Celery and redis-py are the benchmarks' (the peer's) dependencies, never the services'."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_service_imports_the_bench_extra() -> None:
    pattern = re.compile(r"^\s*(import|from)\s+(celery|redis|kombu|billiard)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("services", "shared", "deploy")
        for path in (REPO / folder).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
