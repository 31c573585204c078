"""The deployment files, checked by the real tools: promtool (Debian's prometheus package) on
the alert rules and their unit tests, Docker Compose v2's own `config` on docker-compose.yml,
and the dashboards against the module that builds them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.grafana import dashboards

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: make prometheus-deps (Debian's prometheus package)")
    return found


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False
    )


def test_rules_are_valid() -> None:
    result = run([promtool(), "check", "rules", *map(str, PROMETHEUS.glob("rules/*.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_alert_unit_tests_pass() -> None:
    result = run([promtool(), "test", "rules", str(PROMETHEUS / "tests" / "alerts_test.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_runbook_paragraph() -> None:
    rules = (PROMETHEUS / "rules" / "docstream-alerts.yml").read_text()
    names = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    runbook = (REPO / "docs" / "operations.md").read_text()
    assert len(names) == 8
    for name in names:
        assert f"### {name}" in runbook, f"{name} has no runbook paragraph"
        assert f"docs/operations.md#{name.lower()}" in rules


@pytest.mark.parametrize("name", sorted(dashboards.BOARDS))
def test_dashboard_files_are_what_the_code_builds(name: str) -> None:
    on_disk = (REPO / "deploy" / "grafana" / "dashboards" / f"{name}.json").read_text()
    assert on_disk == dashboards.render(name), "run: python -m deploy.grafana.dashboards"
    board = json.loads(on_disk)
    assert board["uid"] == f"docstream-{name}"
    assert dashboards.expressions(board), "a dashboard without a query"


def compose_config(**env: str) -> str:
    binary = Path(sys.executable).parent / "docker-compose"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DOCSTREAM_")}
    result = run([str(binary), "config", "-q"], env={**base, **env})
    # The PyPI wrapper exits 0 even when config refuses the file: what it prints decides.
    return (result.stdout + result.stderr).strip()


def test_compose_accepts_the_file_with_its_secrets() -> None:
    assert (
        compose_config(
            DOCSTREAM_AUTH_SECRET="a-long-random-secret-for-tests",
            DOCSTREAM_S3_SECRET_ACCESS_KEY="s3-secret",
        )
        == ""
    )


def test_compose_refuses_the_file_without_the_auth_secret() -> None:
    out = compose_config(DOCSTREAM_S3_SECRET_ACCESS_KEY="s3-secret")
    assert "required variable DOCSTREAM_AUTH_SECRET is missing a value" in out
    assert "set DOCSTREAM_AUTH_SECRET to a long random string" in out


def test_compose_waits_on_health_everywhere() -> None:
    binary = Path(sys.executable).parent / "docker-compose"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DOCSTREAM_AUTH_SECRET": "a-long-random-secret-for-tests",
        "DOCSTREAM_S3_SECRET_ACCESS_KEY": "s3-secret",
    }
    result = run([str(binary), "config", "--format", "json"], env=env)
    services = json.loads(result.stdout)["services"]
    assert {"objects", "prometheus", "grafana"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        for needed, how in (service.get("depends_on") or {}).items():
            assert how["condition"] == "service_healthy", f"{name} -> {needed}"
    for name in ("extractor", "analyzer", "status"):
        assert services[name]["deploy"]["replicas"] >= 2
    assert all("volumes" not in services[n] for n in ("ingest", "extractor", "status"))
