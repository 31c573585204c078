"""The Prometheus configuration the launcher writes: valid for the real promtool, one job per
service and a target per instance (replicas each on their own port)."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import Ports
from deploy.launcher.prometheus import RULES, scrape_config


def test_every_instance_is_a_target_of_its_service_job() -> None:
    config = yaml.safe_load(scrape_config({"ingest": [8000], "extractor": [8002, 41234]}, 5))
    jobs = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert jobs == {
        "ingest": ["127.0.0.1:8000"],
        "extractor": ["127.0.0.1:8002", "127.0.0.1:41234"],
    }
    assert config["global"] == {"scrape_interval": "5000ms", "evaluation_interval": "5000ms"}
    assert config["rule_files"] == [f"{RULES}/*.yml"]


def test_promtool_accepts_the_configuration_and_its_rules(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(scrape_config({"status": [8003], "webhooks": [8005, 8105]}, 0.5))
    checked = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


async def test_a_prometheus_that_cannot_start_is_reported_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """Its port taken (say, a system Prometheus): ``make run`` goes on without it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = StackConfig(data_dir=tmp_path, ports=Ports.free())
        cfg.ports = dataclasses.replace(cfg.ports, prometheus=taken.getsockname()[1])
        stack = Stack(cfg)
        with pytest.raises(RuntimeError, match="prometheus did not start"):
            await stack.start_prometheus()
    assert stack.infra == []
    assert "prometheus" not in stack.supervisor.units
    pid_file = tmp_path / "run" / "prometheus.pid"
    assert not pid_file.exists()
