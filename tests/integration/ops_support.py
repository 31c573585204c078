"""What the operations tests run beside the stack: a real Prometheus scraping it, and the
``docstream`` command as an operator types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from deploy.launcher import StackConfig

REPO = Path(__file__).resolve().parents[2]
JOBS = ("ingest", "gateway", "extractor", "analyzer", "status")


class Prometheus:
    """The stack's Prometheus (``Stack.start_prometheus``, as ``make run`` starts it), queried."""

    def __init__(self, url: str) -> None:
        self.url = url

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
