"""What the operations tests run beside the stack: a real Prometheus scraping it, and the
``docstream`` command as an operator types it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.launcher import StackConfig
from deploy.launcher.config import free_port

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules"
JOBS = ("ingest", "gateway", "extractor", "analyzer", "status")


class Prometheus:
    """Debian's prometheus, scraping the stack's five services every second, with our rules."""

    def __init__(self, cfg: StackConfig) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="docstream-prometheus-"))
        scrape = "\n".join(
            f"  - job_name: {job}\n"
            f"    static_configs: [{{ targets: ['127.0.0.1:{getattr(cfg.ports, job)}'] }}]"
            for job in JOBS
        )
        (self.dir / "prometheus.yml").write_text(
            "global: { scrape_interval: 1s, evaluation_interval: 1s }\n"
            f"rule_files: ['{RULES}/*.yml']\n"
            f"scrape_configs:\n{scrape}\n"
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is missing: make prometheus-deps")
        log = (self.dir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError((self.dir / "prometheus.log").read_text()[-2000:])

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)

    async def query(self, expr: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body: dict[str, Any] = response.json()
        return body


def cli_env(cfg: StackConfig) -> dict[str, str]:
    p = cfg.ports
    urls = {job: f"http://127.0.0.1:{getattr(p, job)}" for job in JOBS}
    base = {k: v for k, v in os.environ.items() if not k.startswith("DOCSTREAM_")}
    return {
        **base,
        "DOCSTREAM_URL": urls["ingest"],
        "DOCSTREAM_KAFKA_BOOTSTRAP_SERVERS": cfg.bootstrap,
        "DOCSTREAM_TOPIC_PREFIX": cfg.topic_prefix,
        "DOCSTREAM_MONGO_URL": cfg.mongo_url,
        "DOCSTREAM_MONGO_DATABASE": cfg.mongo_database,
        "DOCSTREAM_AUTH_SECRET": cfg.ensure_secret(),
        "DOCSTREAM_METRICS_URLS": ",".join(f"{k}={v}" for k, v in urls.items()),
        "DOCSTREAM_CONFIG": str(cfg.data_dir / "no-such-config.toml"),
    }


def docstream(cfg: StackConfig, *args: str) -> Any:
    """``docstream --json ARGS`` (this checkout's code), its JSON output."""
    result = subprocess.run(
        [sys.executable, "-m", "docstream", "--json", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(cfg),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"docstream {' '.join(args)}: {result.stderr[-2000:]}"
    return json.loads(result.stdout)
