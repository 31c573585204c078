"""Kafka (single node, KRaft, combined broker+controller) and FerretDB (SQLite) processes."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from deploy.launcher.config import StackConfig
from deploy.launcher.install import ferretdb_binary, kafka_libs
from deploy.launcher.processes import ManagedProcess
from shared.kafka import wait_for_kafka
from shared.mongo import wait_for_mongo

_LOG4J2 = """status = warn
appender.file.type = Console
appender.file.name = OUT
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = WARN
"""


def _server_properties(cfg: StackConfig, log_dir: Path) -> str:
    p = cfg.ports
    return f"""# written by the docstream launcher; edits are overwritten at the next start
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:{p.kafka},CONTROLLER://127.0.0.1:{p.kafka_controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{p.kafka}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:{p.kafka_controller}
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dir}
num.partitions={cfg.topic_partitions}
# single node: every internal topic has one replica
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# no 3 s wait for more members when the first consumer of a group joins
group.initial.rebalance.delay.ms=0
# topics are created deliberately, with our partition counts, never by a stray metadata request
auto.create.topics.enable=false
log.retention.hours=168
# The controller writes a no-op record to the metadata log every 500 ms by default, which the
# broker side of this same process then reads: 40% of an idle broker's CPU here. One node has
# no follower to keep in step; every 5 s is plenty.
metadata.max.idle.interval.ms=5000
"""


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64. One that starts with '-' is
    drawn again: StorageTool would read it as an option (1 start in 64 failed that way)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_process(cfg: StackConfig) -> ManagedProcess:
    home = cfg.data_dir / "kafka"
    log_dir = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    props.write_text(_server_properties(cfg, log_dir))
    log4j = home / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    java = shutil.which("java") or "java"
    classpath = f"{kafka_libs()}/*"
    common = [java, f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    if not (log_dir / "meta.properties").exists():
        cluster_id = new_cluster_id()
        subprocess.run(
            [
                *common,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--standalone",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return ManagedProcess(
        "kafka",
        [
            java,
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # C1 only: a local broker needs no peak-optimised code, and C2 compiling in the
            # background takes CPU from the services it shares two cores with.
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            *common[1:],
            "kafka.Kafka",
            str(props),
        ],
        run_dir=cfg.data_dir / "run",
        log_path=cfg.data_dir / "logs" / "kafka.log",
    )


#: FerretDB's Go runtime, unless the environment says otherwise. Every command allocates its
#: documents several times over (BSON, JSON, SQL), and Go's default (a collection each time
#: the heap doubles) spent ~25% of FerretDB's CPU collecting: 20.0 -> 15.2 ms of its CPU per
#: benchmark document at GOGC=400, for 39 -> 49 MB resident. The soft limit keeps a large
#: collection's scan from letting the heap grow five-fold unchecked.
FERRETDB_GO_ENV = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}


def ferretdb_process(cfg: StackConfig) -> ManagedProcess:
    data = cfg.data_dir / "ferretdb"
    data.mkdir(parents=True, exist_ok=True)
    env = {name: os.environ.get(name, value) for name, value in FERRETDB_GO_ENV.items()}
    return ManagedProcess(
        "ferretdb",
        [
            str(ferretdb_binary()),
            f"--listen-addr=127.0.0.1:{cfg.ports.mongo}",
            f"--sqlite-url=file:{data}/",
            "--log-level=warn",
        ],
        run_dir=cfg.data_dir / "run",
        log_path=cfg.data_dir / "logs" / "ferretdb.log",
        env=env,
        cwd=data,
    )


async def wait_kafka_ready(cfg: StackConfig, proc: ManagedProcess, timeout_s: float) -> None:
    await _wait_alive(proc, wait_for_kafka(cfg.bootstrap, timeout_s=timeout_s))


async def wait_mongo_ready(cfg: StackConfig, proc: ManagedProcess, timeout_s: float) -> None:
    await _wait_alive(proc, wait_for_mongo(cfg.mongo_url, timeout_s=timeout_s))


async def _wait_alive(proc: ManagedProcess, ready: Coroutine[Any, Any, None]) -> None:
    """Wait for readiness, but fail at once (with its log) if the process dies meanwhile."""
    task = asyncio.ensure_future(ready)
    while not task.done():
        if not proc.alive():
            task.cancel()
            raise RuntimeError(f"{proc.name} exited during start:\n{proc.log_tail()}")
        await asyncio.wait([task], timeout=0.2)
    task.result()
