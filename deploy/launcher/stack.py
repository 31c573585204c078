"""Start, health-check and stop the whole local stack in order; stop it all on the way out."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass

import httpx

from deploy.launcher.config import REPO, StackConfig, free_port
from deploy.launcher.infra import (
    ferretdb_process,
    kafka_process,
    wait_kafka_ready,
    wait_mongo_ready,
)
from deploy.launcher.install import install_ferretdb, install_kafka, say
from deploy.launcher.processes import ManagedProcess
from deploy.launcher.prometheus import prometheus_process
from deploy.launcher.supervisor import Probe, Supervisor, Unit
from shared.kafka import ensure_topics, wait_for_kafka
from shared.mongo import wait_for_mongo

SERVICES = ("status", "extractor", "analyzer", "webhooks", "gateway", "ingest")
AGENTS = ("extractor", "analyzer", "status", "webhooks")
#: The variable that sets each service's (web) port; see services/*/settings.py.
PORT_ENV = {
    "ingest": "DOCSTREAM_INGEST_PORT",
    "gateway": "DOCSTREAM_GATEWAY_PORT",
    "extractor": "DOCSTREAM_EXTRACTOR_WEB_PORT",
    "status": "DOCSTREAM_STATUS_WEB_PORT",
    "analyzer": "DOCSTREAM_ANALYZER_WEB_PORT",
    "webhooks": "DOCSTREAM_WEBHOOKS_WEB_PORT",
}


@dataclass(frozen=True)
class Instance:
    """One running copy of a service: the first is named after the service (``extractor``,
    logs/extractor.log), the others ``extractor-2``, ``extractor-3``, ... on ports of their own."""

    service: str
    index: int
    port: int
    proc: ManagedProcess

    @property
    def name(self) -> str:
        return self.proc.name

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/readyz"


class Stack:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.infra: list[ManagedProcess] = []
        #: Every service instance by its name (``extractor``, ``extractor-2``, ...).
        self.services: dict[str, ManagedProcess] = {}
        self.instances: dict[str, list[Instance]] = {}
        self.supervisor = Supervisor(cfg.restart)
        self._supervising: asyncio.Task[None] | None = None

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
        self.supervisor.add(Unit(kafka, "kafka", probe=self._kafka_probe))
        self.supervisor.add(Unit(ferret, "ferretdb", probe=self._mongo_probe))
        say(
            f"Kafka on {self.cfg.bootstrap} and FerretDB on {self.cfg.mongo_url} ready in "
            f"{time.monotonic() - started:.1f}s"
        )

    async def _kafka_probe(self) -> bool:
        try:
            await wait_for_kafka(self.cfg.bootstrap, timeout_s=3.0)
        except TimeoutError:
            return False
        return True

    async def _mongo_probe(self) -> bool:
        try:
            await wait_for_mongo(self.cfg.mongo_url, timeout_s=3.0)
        except TimeoutError:
            return False
        return True

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

    def _instance(self, name: str, index: int) -> Instance:
        # A stable name per replica: the stream services join their group as static
        # members, so a restarted replica takes its partitions back at once.
        instance_id = {"DOCSTREAM_INSTANCE_ID": f"{name}-{index + 1}"}
        if index == 0:
            port = int(getattr(self.cfg.ports, name))
            return Instance(name, 0, port, self.service_process(name, env=instance_id))
        port = free_port()
        env = {
            **instance_id,
            PORT_ENV[name]: str(port),
            # Local working state (the S3 store's copies): two instances must not share one.
            "DOCSTREAM_STATE_DIR": str(self.cfg.data_dir / "state" / f"{name}-{index + 1}"),
        }
        return Instance(
            name, index, port, self.service_process(name, instance=f"-{index + 1}", env=env)
        )

    def health_url(self, name: str) -> str:
        """The first instance's (or the named instance's) health endpoint."""
        return self.instance(name).health_url

    def instance(self, name: str) -> Instance:
        """An instance by its name (``extractor-2``) or a service's first (``extractor``)."""
        for instances in self.instances.values():
            for inst in instances:
                if inst.name == name:
                    return inst
        if name in PORT_ENV:  # not started yet: where it will listen
            return Instance(name, 0, int(getattr(self.cfg.ports, name)), self.service_process(name))
        raise KeyError(name)

    async def start_services(
        self, names: tuple[str, ...] = SERVICES, *, timeout_s: float = 60.0
    ) -> None:
        started = time.monotonic()
        # Created here, with our partition counts, before any service subscribes.
        await ensure_topics(
            self.cfg.bootstrap, self.cfg.topics, partitions=self.cfg.topic_partitions
        )
        new: list[Instance] = []
        for name in names:
            instances = [self._instance(name, i) for i in range(self.cfg.replicas_of(name))]
            self.instances[name] = instances
            for inst in instances:
                inst.proc.start()
                self.services[inst.name] = inst.proc
                new.append(inst)
        await asyncio.gather(*(self._wait_healthy(inst, timeout_s) for inst in new))
        for inst in new:
            self.supervisor.add(
                Unit(inst.proc, inst.service, inst.index, probe=self._http_probe(inst.health_url))
            )
        labels = ", ".join(inst.name for inst in new)
        say(f"services {labels} healthy in {time.monotonic() - started:.1f}s")

    async def start_prometheus(self, *, scrape_interval_s: float = 5.0) -> str:
        """Prometheus scraping every service instance started so far, with the alert rules;
        supervised like the rest (restarted on the same data and port). Its URL."""
        targets = {
            name: [inst.port for inst in instances] for name, instances in self.instances.items()
        }
        proc = prometheus_process(self.cfg, targets, scrape_interval_s)
        url = f"http://127.0.0.1:{self.cfg.ports.prometheus}"
        proc.start()
        ready = self._http_probe(f"{url}/-/ready")
        deadline = time.monotonic() + 30.0
        try:
            while not await ready():
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"prometheus did not start:\n{proc.log_tail()}")
                await asyncio.sleep(0.2)
        except BaseException:  # a failed start, or the caller gave up (Ctrl-C): not left behind
            proc.stop(timeout_s=10.0)
            raise
        # Stopped after the services, with the infrastructure (it scrapes them to the end).
        self.infra.insert(0, proc)
        # Monitoring only: if it keeps crashing, the system runs on without it.
        self.supervisor.add(Unit(proc, "prometheus", probe=ready, optional=True))
        say(f"Prometheus on {url}, scraping {sum(map(len, targets.values()))} instances")
        return url

    @staticmethod
    def _http_probe(url: str) -> Probe:
        async def probe() -> bool:
            async with httpx.AsyncClient(timeout=2.0) as client:
                try:
                    return (await client.get(url)).status_code == 200
                except httpx.HTTPError:
                    return False

        return probe

    async def _wait_healthy(self, inst: Instance, timeout_s: float) -> None:
        proc = inst.proc
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"{inst.name} exited during start:\n{proc.log_tail()}")
                try:
                    if (await client.get(inst.health_url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{inst.name} not healthy after {timeout_s}s:\n{proc.log_tail()}")

    async def wait_consumers_ready(self, timeout_s: float = 60.0) -> None:
        """Until every agent instance has its partitions (not just an open web port)."""
        agents = [inst for n in AGENTS for inst in self.instances.get(n, [])]
        await asyncio.gather(*(self.wait_ready(inst.name, timeout_s) for inst in agents))

    async def wait_ready(self, name: str, timeout_s: float = 60.0) -> float:
        """Until the agent instance holds partitions (its /readyz); the time it did."""
        inst = self.instance(name)
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                try:
                    if (await client.get(inst.ready_url)).status_code == 200:
                        return time.monotonic()
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} has no partitions after {timeout_s}s")
                await asyncio.sleep(0.1)

    # --- supervision and faults (``make run``, the fault suite, tests) ---

    def supervise(self) -> asyncio.Task[None]:
        """Start the supervisor in the running loop; the task fails on a crash loop."""
        if self._supervising is None or self._supervising.done():
            self.supervisor.closed = False
            self._supervising = asyncio.create_task(self.supervisor.run(), name="supervisor")
        return self._supervising

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """``kill -9`` one instance (``extractor-2``) or infrastructure process; the supervisor
        (if running) restarts it. Returns the killed pid."""
        return self.supervisor.kill(name, sig)

    async def wait_healthy(self, name: str, timeout_s: float = 60.0) -> float:
        """Until the instance (after a kill: its new incarnation) is healthy; the time it was."""
        return await self.supervisor.wait_healthy(name, timeout_s)

    async def stop_process(self, name: str) -> None:
        """Stop ``kafka``, ``ferretdb`` or an instance and keep it down until start_process."""
        await self.supervisor.stop_unit(name, timeout_s=30.0)

    async def start_process(self, name: str, timeout_s: float = 120.0) -> float:
        """Start it again on the same data and ports; returns when healthy (its time)."""
        return await self.supervisor.start_unit(name, timeout_s)

    # --- stopping ---

    def stop_services(self) -> None:
        for name in reversed(list(self.services)):
            self.supervisor.remove(name)
            self.services[name].stop()
        self.services.clear()
        self.instances.clear()

    def stop(self) -> None:
        # No restarts from here on, even if the supervisor's loop runs on after this.
        self.supervisor.close()
        if self._supervising is not None and not self._supervising.done():
            self._supervising.cancel()
        # Services first (they flush to Kafka and MongoDB), infrastructure last.
        self.stop_services()
        for proc in reversed(self.infra):
            self.supervisor.remove(proc.name)
            proc.stop(timeout_s=30.0)
        self.infra.clear()
