"""Start, health-check and stop the whole local stack in order; stop it all on the way out."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from deploy.launcher.config import REPO, StackConfig
from deploy.launcher.infra import (
    ferretdb_process,
    kafka_process,
    wait_kafka_ready,
    wait_mongo_ready,
)
from deploy.launcher.install import install_ferretdb, install_kafka, say
from deploy.launcher.processes import ManagedProcess
from shared.kafka import ensure_topics

SERVICES = ("status", "extractor", "analyzer", "gateway", "ingest")


class Stack:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.infra: list[ManagedProcess] = []
        self.services: dict[str, ManagedProcess] = {}

    # --- infrastructure ---

    async def start_infra(self, *, timeout_s: float = 90.0) -> None:
        install_kafka()
        install_ferretdb()
        self.cfg.data_dir.mkdir(parents=True, exist_ok=True)
        kafka = kafka_process(self.cfg)
        ferret = ferretdb_process(self.cfg)
        self.infra = [kafka, ferret]
        started = time.monotonic()
        kafka.start()
        ferret.start()
        await asyncio.gather(
            wait_kafka_ready(self.cfg, kafka, timeout_s),
            wait_mongo_ready(self.cfg, ferret, timeout_s),
        )
        say(
            f"Kafka on {self.cfg.bootstrap} and FerretDB on {self.cfg.mongo_url} ready in "
            f"{time.monotonic() - started:.1f}s"
        )

    # --- services ---

    def service_process(
        self, name: str, *, instance: str = "", env: dict[str, str] | None = None
    ) -> ManagedProcess:
        label = f"{name}{instance}"
        return ManagedProcess(
            label,
            [sys.executable, "-m", f"services.{name}"],
            run_dir=self.cfg.data_dir / "run",
            log_path=self.cfg.data_dir / "logs" / f"{label}.log",
            env={**self.cfg.service_env(), **(env or {})},
            cwd=REPO,
        )

    def health_url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.cfg.ports, name)}/healthz"

    async def start_services(
        self, names: tuple[str, ...] = SERVICES, *, timeout_s: float = 60.0
    ) -> None:
        started = time.monotonic()
        # Created here, with our partition counts, before any service subscribes.
        await ensure_topics(
            self.cfg.bootstrap, self.cfg.topics, partitions=self.cfg.topic_partitions
        )
        for name in names:
            proc = self.service_process(name)
            proc.start()
            self.services[name] = proc
        await asyncio.gather(*(self._wait_healthy(n, timeout_s) for n in names))
        say(f"services {', '.join(names)} healthy in {time.monotonic() - started:.1f}s")

    async def _wait_healthy(self, name: str, timeout_s: float) -> None:
        proc = self.services[name]
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"{name} exited during start:\n{proc.log_tail()}")
                try:
                    if (await client.get(self.health_url(name))).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{name} not healthy after {timeout_s}s:\n{proc.log_tail()}")

    async def wait_consumers_ready(self, timeout_s: float = 60.0) -> None:
        """Until every agent has its partitions (not just an open web port)."""
        agents = [n for n in ("extractor", "analyzer", "status") if n in self.services]
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            for name in agents:
                url = self.health_url(name).replace("/healthz", "/readyz")
                while True:
                    try:
                        if (await client.get(url)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} has no partitions after {timeout_s}s")
                    await asyncio.sleep(0.1)

    # --- stopping ---

    def stop_services(self) -> None:
        for proc in reversed(list(self.services.values())):
            proc.stop()
        self.services.clear()

    def stop(self) -> None:
        # Services first (they flush to Kafka and MongoDB), infrastructure last.
        self.stop_services()
        for proc in reversed(self.infra):
            proc.stop(timeout_s=30.0)
        self.infra.clear()
