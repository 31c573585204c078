"""Where the system is: environment variables first, then a TOML config file, then the local
defaults of ``make run``."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    pass


#: Config file key -> environment variable.
_ENV = {
    "url": "DOCSTREAM_URL",
    "token": "DOCSTREAM_TOKEN",
    "ws_url": "DOCSTREAM_WS_URL",
    "kafka_bootstrap_servers": "DOCSTREAM_KAFKA_BOOTSTRAP_SERVERS",
    "topic_prefix": "DOCSTREAM_TOPIC_PREFIX",
    "mongo_url": "DOCSTREAM_MONGO_URL",
    "mongo_database": "DOCSTREAM_MONGO_DATABASE",
    "auth_secret": "DOCSTREAM_AUTH_SECRET",
    "metrics_urls": "DOCSTREAM_METRICS_URLS",
}


@dataclass(frozen=True)
class CliConfig:
    #: The ingest API (its /metrics too).
    url: str = "http://127.0.0.1:8000"
    #: A credential for the API, for the user commands (``upload``, ``get``...).
    token: str | None = None
    #: The gateway, for ``watch ID`` (an upload's answer names it itself); None: the client's
    #: default, the gateway of ``make run``.
    ws_url: str | None = None
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    #: The read model, for ``active`` (its ``inflight`` collection is small: scanned whole).
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_database: str = "docstream"
    #: Only ``token`` needs it.
    auth_secret: str | None = None
    #: ``service=url,...`` of the services' metrics endpoints, for ``stats``; by default
    #: ingest at ``url`` and the others on the local ports of ``make run``.
    metrics_urls: str | None = None

    @classmethod
    def load(cls, path: str | None = None, env: dict[str, str] | None = None) -> CliConfig:
        env = dict(os.environ) if env is None else env
        file = Path(path or env.get("DOCSTREAM_CONFIG") or _default_path())
        values: dict[str, str] = {}
        if file.is_file():
            try:
                loaded = tomllib.loads(file.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{file}: {exc}") from exc
            known = {f.name for f in fields(cls)}
            unknown = set(loaded) - known
            if unknown:
                raise ConfigError(f"{file}: unknown keys {sorted(unknown)}")
            values = {k: str(v) for k, v in loaded.items()}
        elif path:
            raise ConfigError(f"config file {file} not found")
        for key, var in _ENV.items():
            if env.get(var):
                values[key] = env[var]
        return cls(**values)

    def check_user_urls(self) -> None:
        """``url`` and ``ws_url`` as the user commands need them: a bad one is a usage error
        (exit 2) naming the setting, not a system that looks unreachable (exit 6)."""
        _check_url("url", self.url, ("http", "https"))
        if self.ws_url is not None:
            _check_url("ws_url", self.ws_url, ("ws", "wss"))

    def metrics_endpoints(self) -> dict[str, str]:
        if self.metrics_urls:
            pairs = (item.split("=", 1) for item in self.metrics_urls.split(",") if item)
            return {name.strip(): url.strip().rstrip("/") for name, url in pairs}
        host = "http://127.0.0.1"
        return {
            "ingest": self.url.rstrip("/"),
            "gateway": f"{host}:8001",
            "extractor": f"{host}:8002",
            "status": f"{host}:8003",
            "analyzer": f"{host}:8004",
        }


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(value)
    try:
        _ = parts.port  # raises for a port that is not a number
    except ValueError:
        ok = False
    else:
        ok = parts.scheme in schemes and bool(parts.hostname)
    if not ok:
        expected = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(
            f"bad {_ENV[key]} (or `{key}` in the config file) {value!r}: "
            f"expected a URL starting with {expected}"
        )


def _default_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "docstream" / "config.toml"
