"""Debian's ``prometheus`` beside the local stack: every service instance scraped (replicas
too, each on its own port), and the same alert rules as production (deploy/prometheus/rules).

``make run`` starts it when the binary is there (``make install`` puts it there); the
operations tests start the same one, scraping every second, and query it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from deploy.launcher.config import REPO, StackConfig
from deploy.launcher.processes import ManagedProcess

RULES = REPO / "deploy" / "prometheus" / "rules"
#: Local runs keep a week of samples; production's retention is its own Prometheus's.
RETENTION = "7d"


def binary() -> str | None:
    return shutil.which("prometheus")


def scrape_config(targets: dict[str, list[int]], interval_s: float) -> str:
    """prometheus.yml: one job per service (its name, as in production's configuration),
    with a target per instance."""
    jobs = "\n".join(
        f"  - job_name: {job}\n    static_configs: [{{ targets: [{_addresses(ports)}] }}]"
        for job, ports in targets.items()
    )
    every = f"{round(interval_s * 1000)}ms"  # Prometheus takes whole numbers per unit
    return (
        f"global: {{ scrape_interval: {every}, evaluation_interval: {every} }}\n"
        f"rule_files: ['{RULES}/*.yml']\n"
        f"scrape_configs:\n{jobs}\n"
    )


def _addresses(ports: list[int]) -> str:
    return ", ".join(f"'127.0.0.1:{port}'" for port in ports)


def prometheus_process(
    cfg: StackConfig, targets: dict[str, list[int]], interval_s: float
) -> ManagedProcess:
    found = binary()
    if found is None:
        raise RuntimeError("prometheus is missing: make prometheus-deps")
    home = cfg.data_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(scrape_config(targets, interval_s))
    return ManagedProcess(
        "prometheus",
        [
            found,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address=127.0.0.1:{cfg.ports.prometheus}",
        ],
        run_dir=cfg.data_dir / "run",
        log_path=cfg.data_dir / "logs" / "prometheus.log",
        cwd=Path(home),
    )
