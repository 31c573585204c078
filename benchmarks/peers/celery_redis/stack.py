"""Start and stop the peer: Redis, the Celery worker (prefork, one child per core), the web
app, each on a free port, against a MongoDB-compatible server the caller runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis
import redis.exceptions

from deploy.launcher.config import REPO, free_port
from deploy.launcher.processes import ManagedProcess

#: Debian's package (``make redis-deps``); a ``redis-server`` elsewhere on PATH works too.
REDIS_SERVER = "redis-server"


def redis_server_binary() -> str:
    found = shutil.which(REDIS_SERVER)
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: `make redis-deps` installs Debian's package"
        )
    return found


class PeerStack:
    def __init__(
        self, data_dir: Path, mongo_url: str, *, database: str = "peer", workers: int = 0
    ) -> None:
        self.data_dir = data_dir
        self.mongo_url = mongo_url
        self.database = database
        self.workers = workers or os.cpu_count() or 1
        self.redis_port = free_port()
        self.web_port = free_port()
        self.processes: dict[str, ManagedProcess] = {}

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}"

    def _env(self) -> dict[str, str]:
        return {
            "DOCSTREAM_PEER_REDIS_URL": self.redis_url,
            "DOCSTREAM_PEER_MONGO_URL": self.mongo_url,
            "DOCSTREAM_PEER_MONGO_DATABASE": self.database,
            "DOCSTREAM_PEER_UPLOAD_DIR": str(self.data_dir / "uploads"),
        }

    def _process(self, name: str, argv: list[str]) -> ManagedProcess:
        return ManagedProcess(
            name,
            argv,
            run_dir=self.data_dir / "run",
            log_path=self.data_dir / "logs" / f"{name}.log",
            env=self._env(),
            cwd=REPO,
        )

    async def start(self, timeout_s: float = 60.0) -> None:
        started = time.monotonic()
        (self.data_dir / "redis").mkdir(parents=True, exist_ok=True)
        # No persistence: the seed's Redis was a broker and a channel layer, not a store.
        self.processes["redis"] = self._process(
            "peer-redis",
            [
                redis_server_binary(),
                "--port", str(self.redis_port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.data_dir / "redis"),
            ],
        )  # fmt: skip
        self.processes["redis"].start()
        await self._wait_redis(timeout_s)
        self.processes["worker"] = self._process(
            "peer-worker",
            [
                sys.executable, "-m", "celery",
                "-A", "benchmarks.peers.celery_redis.worker", "worker",
                "--pool=prefork", f"--concurrency={self.workers}", "--loglevel=WARNING",
            ],
        )  # fmt: skip
        self.processes["web"] = self._process(
            "peer-web",
            [
                sys.executable, "-m", "uvicorn", "benchmarks.peers.celery_redis.web:app",
                "--host", "127.0.0.1", "--port", str(self.web_port), "--log-level", "warning",
                "--no-access-log",
            ],
        )  # fmt: skip
        self.processes["worker"].start()
        self.processes["web"].start()
        await asyncio.gather(self._wait_web(timeout_s), self._wait_worker(timeout_s))
        print(f"[peer] Redis, {self.workers} Celery workers and the web app ready in "
              f"{time.monotonic() - started:.1f}s", flush=True)  # fmt: skip

    def _check_alive(self) -> None:
        for proc in self.processes.values():
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited during start:\n{proc.log_tail()}")

    async def _wait_redis(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            while True:
                self._check_alive()
                try:
                    if await client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Redis not ready after {timeout_s}s")
                await asyncio.sleep(0.1)
        finally:
            await client.aclose()

    async def _wait_web(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                self._check_alive()
                try:
                    if (await client.get(f"{self.api}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"peer web app not healthy after {timeout_s}s")
                await asyncio.sleep(0.2)

    async def _wait_worker(self, timeout_s: float) -> None:
        """Until every prefork child has started (the worker logs nothing at WARNING, so ask
        it: ``inspect stats`` lists its pool's processes)."""
        from celery import Celery

        client = Celery(broker=self.redis_url, backend=self.redis_url)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                self._check_alive()
                stats = await asyncio.to_thread(lambda: client.control.inspect(timeout=0.5).stats())
                pools = [s.get("pool", {}).get("processes", []) for s in (stats or {}).values()]
                if pools and len(pools[0]) >= self.workers:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Celery worker not ready after {timeout_s}s")
                await asyncio.sleep(0.2)
        finally:
            client.close()

    def pids(self) -> dict[str, int]:
        """The main pid of each process (``redis``, ``worker``, ``web``)."""
        return {name: p.pid for name, p in self.processes.items() if p.pid is not None}

    def stop(self) -> None:
        for name in ("web", "worker", "redis"):
            proc = self.processes.pop(name, None)
            if proc is not None:
                proc.stop(timeout_s=15.0)
