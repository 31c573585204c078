"""Where the local stack keeps things and which ports it uses."""

from __future__ import annotations

import os
import secrets
import socket
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared.topics import Topics

REPO = Path(__file__).resolve().parents[2]
KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.2"
FERRETDB_VERSION = "v1.24.2"
#: The S3-compatible server the object-store tests run (Maven Central: org.gaul:s3proxy).
S3PROXY_VERSION = "2.6.0"


def cache_dir() -> Path:
    """Downloads and builds shared by every checkout (Kafka jars, the FerretDB binary)."""
    base = os.environ.get("DOCSTREAM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "docstream"
    )
    return Path(base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    kafka: int = 9092
    kafka_controller: int = 9093
    mongo: int = 27017
    ingest: int = 8000
    gateway: int = 8001
    extractor: int = 8002
    status: int = 8003
    analyzer: int = 8004
    webhooks: int = 8005
    prometheus: int = 9090

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in cls.__dataclass_fields__))


#: Services that may run as several instances; ingest has one public port and no balancer.
REPLICABLE = ("status", "extractor", "analyzer", "gateway", "webhooks")


@dataclass
class RestartPolicy:
    """How the supervisor treats a process that exits.

    Each exit is restarted after a backoff that doubles with every *fast* crash in a row (one
    that ran less than ``fast_crash_s``) from ``backoff_initial_s`` up to ``backoff_max_s``; a
    process that ran longer starts over at the initial backoff. Only ``max_fast_crashes`` fast
    crashes within ``window_s`` stop the stack: a crash loop will not heal by itself.
    """

    backoff_initial_s: float = 0.5
    backoff_max_s: float = 15.0
    fast_crash_s: float = 10.0
    max_fast_crashes: int = 5
    window_s: float = 60.0


@dataclass
class StackConfig:
    data_dir: Path = field(default_factory=lambda: REPO / ".data")
    ports: Ports = field(default_factory=Ports)
    topic_prefix: str = ""
    topic_partitions: int = 4
    mongo_database: str = "docstream"
    auth_secret: str = ""
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Instances per service (default 1); only the services in REPLICABLE may have more.
    replicas: dict[str, int] = field(default_factory=dict)
    restart: RestartPolicy = field(default_factory=RestartPolicy)

    @classmethod
    def beside(cls, infra: StackConfig, name: str, **fields: Any) -> StackConfig:
        """Services of their own (topic prefix, database, folders, ports) on the Kafka and
        FerretDB of ``infra``: how tests and fault runs share one infrastructure."""
        run = uuid.uuid4().hex[:8]
        ports = replace(
            Ports.free(),
            kafka=infra.ports.kafka,
            kafka_controller=infra.ports.kafka_controller,
            mongo=infra.ports.mongo,
        )
        defaults: dict[str, Any] = {
            "data_dir": infra.data_dir / f"{name}-{run}",
            "ports": ports,
            "topic_prefix": f"{name[0]}{run}.",
            "mongo_database": f"{name}_{run}",
            "auth_secret": infra.auth_secret or uuid.uuid4().hex * 2,
        }
        return cls(**{**defaults, **fields})

    def replicas_of(self, service: str) -> int:
        count = int(self.replicas.get(service, 1))
        if count < 1:
            raise ValueError(f"{service}: replicas must be at least 1, not {count}")
        if count > 1 and service not in REPLICABLE:
            raise ValueError(f"{service} runs as one instance only (it has one public port)")
        return count

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.ports.mongo}/"

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def ensure_secret(self) -> str:
        """The development secret, created once per data folder and kept there."""
        if not self.auth_secret:
            path = self.data_dir / "dev-auth-secret"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_text(secrets.token_urlsafe(32))
                path.chmod(0o600)
            self.auth_secret = path.read_text().strip()
        return self.auth_secret

    def service_env(self) -> dict[str, str]:
        p = self.ports
        return {
            "DOCSTREAM_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DOCSTREAM_MONGO_URL": self.mongo_url,
            "DOCSTREAM_MONGO_DATABASE": self.mongo_database,
            "DOCSTREAM_TOPIC_PREFIX": self.topic_prefix,
            "DOCSTREAM_TOPIC_PARTITIONS": str(self.topic_partitions),
            "DOCSTREAM_BLOB_DIR": str(self.blob_dir),
            "DOCSTREAM_STATE_DIR": str(self.data_dir / "state"),
            "DOCSTREAM_AUTH_SECRET": self.ensure_secret(),
            "DOCSTREAM_LOG_LEVEL": self.log_level,
            "DOCSTREAM_INGEST_PORT": str(p.ingest),
            "DOCSTREAM_INGEST_PUBLIC_WS_URL": f"ws://127.0.0.1:{p.gateway}",
            "DOCSTREAM_GATEWAY_PORT": str(p.gateway),
            "DOCSTREAM_EXTRACTOR_WEB_PORT": str(p.extractor),
            "DOCSTREAM_STATUS_WEB_PORT": str(p.status),
            "DOCSTREAM_ANALYZER_WEB_PORT": str(p.analyzer),
            "DOCSTREAM_WEBHOOKS_WEB_PORT": str(p.webhooks),
            **self.extra_env,
        }
