"""The launcher's supervision on real services (session Kafka and FerretDB): a killed replica
comes back and takes partitions again, a crash loop stops with the service's name and log, and
nothing is left running after a stop."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import RestartPolicy
from deploy.launcher.infra import FERRETDB_GO_ENV, ferretdb_process
from deploy.launcher.supervisor import CrashLoopError

pytestmark = pytest.mark.integration


def _config(infra: Stack, **overrides: object) -> StackConfig:
    cfg = StackConfig.beside(
        infra.cfg,
        "sup",
        topic_partitions=2,
        log_level="WARNING",
        extra_env={"DOCSTREAM_EXTRACTOR_WORKERS": "1"},
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def _alive_pids(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


async def test_killed_replica_comes_back_and_stop_leaves_nothing(infra: Stack) -> None:
    stack = Stack(_config(infra, replicas={"extractor": 2}))
    pids: list[int] = []
    try:
        await stack.start_services(("extractor",))
        assert [i.name for i in stack.instances["extractor"]] == ["extractor", "extractor-2"]
        assert (stack.cfg.data_dir / "logs" / "extractor-2.log").exists()
        assert (stack.cfg.data_dir / "run" / "extractor-2.pid").exists()
        ports = {i.port for i in stack.instances["extractor"]}
        assert len(ports) == 2
        await stack.wait_consumers_ready()
        stack.supervise()
        killed = stack.kill("extractor-2")
        await stack.wait_healthy("extractor-2", timeout_s=60)
        await stack.wait_ready("extractor-2", timeout_s=60)
        proc = stack.services["extractor-2"]
        assert proc.pid != killed
        [record] = stack.supervisor.history
        assert (record.name, record.exit_code) == ("extractor-2", -9)
        pids = [pid for p in stack.services.values() for pid in p.pids]
        assert len(pids) == 3
    finally:
        stack.stop()
    assert _alive_pids(pids) == []
    assert list((stack.cfg.data_dir / "run").glob("*.pid")) == []


async def test_a_service_that_keeps_crashing_stops_the_stack(infra: Stack) -> None:
    cfg = _config(
        infra,
        restart=RestartPolicy(
            backoff_initial_s=0.1, backoff_max_s=0.5, fast_crash_s=30, max_fast_crashes=3
        ),
    )
    stack = Stack(cfg)
    try:
        await stack.start_services(("gateway",))
        stack.supervise()
        # From now on every start of the gateway fails at once (a broken setting).
        proc = stack.services["gateway"]
        assert proc.env is not None
        proc.env["DOCSTREAM_GATEWAY_PORT"] = "not-a-port"
        stack.kill("gateway")
        with pytest.raises(CrashLoopError) as caught:
            await asyncio.wait_for(stack.supervise(), 60)
        message = str(caught.value)
        assert message.startswith("gateway (instance 1 of gateway) crashed 3 times")
        assert "gateway.log" in message
        assert "not-a-port" in message or "port" in message  # the log tail says why
    finally:
        stack.stop()
    assert _alive_pids(stack.services.get("gateway", proc).pids) == []


def test_ferretdb_runs_with_the_launchers_go_settings(infra: Stack) -> None:
    """FerretDB's Go runtime collects less often than Go's default (deploy/launcher/infra.py:
    a quarter of its CPU went to collections); the running process has the settings."""
    [ferret] = [p for p in infra.infra if p.name == "ferretdb"]
    assert ferret.proc is not None
    environ = Path(f"/proc/{ferret.proc.pid}/environ").read_bytes().split(b"\0")
    for name, value in FERRETDB_GO_ENV.items():
        assert f"{name}={os.environ.get(name, value)}".encode() in environ


def test_the_environment_overrides_ferretdbs_go_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOGC", "150")
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    process = ferretdb_process(StackConfig(data_dir=tmp_path))
    assert process.env == {"GOGC": "150", "GOMEMLIMIT": "1GiB"}
