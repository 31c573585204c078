"""The fault suite, reduced: a dozen documents, one kill -9 of each agent (two replicas each),
on the session's Kafka and FerretDB. The full run is ``make chaos``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.chaos import harness, report
from deploy.launcher import Stack
from deploy.launcher.stack import SERVICES

pytestmark = pytest.mark.integration


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group_members(pgids: set[int]) -> list[int]:
    """Processes still in one of those process groups (e.g. an extractor's pool worker)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) in pgids and fields[0] != "Z":
            members.append(int(entry.name))
    return members


async def test_every_document_ends_right_despite_agent_kills(infra: Stack, corpus: Path) -> None:
    options = harness.Options(
        documents=12,
        rate_per_s=0.5,
        seed=int(os.environ.get("DOCSTREAM_CHAOS_SEED", "3")),
        kills_per_service=1,
        kill_services=("extractor", "analyzer", "status"),
        broker_restart=False,
        db_restart=False,
        heavy=False,
        cancel_share=0.15,
        settle_s=45.0,
    )
    result = await harness.run(options, corpus, infra=infra)
    f = result.figures
    problems = "\n".join(f"{x.problem} {x.document} {x.file}: {x.detail}" for x in result.failures)
    assert f["documents"] == 12
    assert f["kills"] == 3, report.kills_table(result)
    assert {k.service for k in result.kills} == {"extractor", "analyzer", "status"}
    # every killed instance came back by itself (the supervisor) and took partitions again
    assert all(k.healthy_at and k.ready_at for k in result.kills), report.kills_table(result)
    for name in ("lost", "duplicated", "stuck", "wrong_outcome", "refold_mismatch"):
        assert f[name] == 0, f"{name}:\n{problems}"
    assert f["watcher_missed"] == 0, problems
    assert f["accepted"] + f["refused"] == 12
    # nothing of the run's own stack is left running, restarted incarnations included
    # every service once, the fault run's agents twice, and the 3 restarted instances
    instances = len(SERVICES) + len(harness.AGENTS) * (options.replicas - 1)
    assert len(result.pids) == instances + 3
    assert not [pid for pid in result.pids if _running(pid)]
    assert not _group_members(set(result.pids))
