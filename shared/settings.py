"""Settings every service shares; each service subclasses :class:`ServiceSettings` once.

Shared values (Kafka, MongoDB, blob directory, topic prefix, auth secret) are read from
``DOCSTREAM_*`` variables; a service's own values from ``DOCSTREAM_<SERVICE>_*``. Only a
service's ``__main__`` reads the environment; library code takes settings objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.topics import Topics

_PLACEHOLDER_SECRETS = {"change-me", "changeme", "secret", "dev", ""}


def _common(name: str) -> AliasChoices:
    return AliasChoices(f"DOCSTREAM_{name.upper()}", name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    environment: str = Field("development", validation_alias=_common("environment"))
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_common("kafka_bootstrap_servers")
    )
    topic_prefix: str = Field("", validation_alias=_common("topic_prefix"))
    topic_partitions: int = Field(4, ge=1, validation_alias=_common("topic_partitions"))
    mongo_url: str = Field("mongodb://127.0.0.1:27017/", validation_alias=_common("mongo_url"))
    mongo_database: str = Field("docstream", validation_alias=_common("mongo_database"))
    #: ``local`` (a folder every service can read: one machine) or ``s3`` (an S3-compatible
    #: object store: services on several machines share uploads and texts).
    blob_store: Literal["local", "s3"] = Field("local", validation_alias=_common("blob_store"))
    blob_dir: Path = Field(Path(".data/blobs"), validation_alias=_common("blob_dir"))
    s3_endpoint_url: str | None = Field(None, validation_alias=_common("s3_endpoint_url"))
    s3_bucket: str = Field("docstream", validation_alias=_common("s3_bucket"))
    s3_region: str = Field("us-east-1", validation_alias=_common("s3_region"))
    s3_access_key_id: str | None = Field(None, validation_alias=_common("s3_access_key_id"))
    s3_secret_access_key: SecretStr | None = Field(
        None, validation_alias=_common("s3_secret_access_key")
    )
    #: Local working state of a replica (the S3 blob store's local copies).
    state_dir: Path = Field(Path(".data/state"), validation_alias=_common("state_dir"))
    # Required: no default, so a deployment cannot forget it.
    auth_secret: SecretStr = Field(validation_alias=_common("auth_secret"))
    #: Secrets that were ``auth_secret`` before a rotation: a JSON list, or one secret as it
    #: is (empty: none). Tokens they signed are still accepted, and upload passwords they
    #: sealed still open; nothing new is signed or sealed with them. Drop one once its tokens
    #: have expired and its uploads are extracted.
    auth_previous_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), validation_alias=_common("auth_previous_secrets")
    )
    #: Address every server of the service listens on (0.0.0.0 in containers).
    bind_host: str = Field("127.0.0.1", validation_alias=_common("bind_host"))
    log_level: str = Field("INFO", validation_alias=_common("log_level"))
    log_json: bool = Field(True, validation_alias=_common("log_json"))
    #: OTLP/HTTP collector (``http://collector:4318``); spans are exported only when set.
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("DOCSTREAM_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    #: A stable name for this replica (e.g. ``extractor-0``), unique within its service. When
    #: set, the stream services join their consumer group as static members: a restarted
    #: replica gets its partitions back at once instead of after the session timeout.
    instance_id: str | None = Field(None, validation_alias=_common("instance_id"))
    #: How long a consumer that stopped heartbeating (killed, frozen) keeps its partitions.
    consumer_session_timeout_s: float = Field(
        10.0, ge=6.0, le=90.0, validation_alias=_common("consumer_session_timeout_s")
    )

    #: A consumer service logs a record still in flight after this long (again every this long),
    #: with where it waits. 0: never.
    slow_record_s: float = Field(300.0, ge=0, validation_alias=_common("slow_record_s"))
    #: A consumer service with records waiting on its partitions, none in flight and none taken for
    #: this long has a stalled consumer: it exits to be restarted. 0: never. (A record or batch
    #: being retried, a database outage say, is in flight: not a stall.)
    consumer_stall_s: float = Field(120.0, ge=0, validation_alias=_common("consumer_stall_s"))
    #: Tests only (``DOCSTREAM_<SERVICE>_TEST_STALL_ONCE``): once, when this file does not exist
    #: yet, the service creates it and its consumer stops handing out records, as a stalled
    #: consumer does; the restarted process finds the file and runs normally.
    test_stall_once: Path | None = None

    @field_validator("auth_secret")
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr) -> SecretStr:
        _check_secret(value, "DOCSTREAM_AUTH_SECRET")
        return value

    @field_validator("auth_previous_secrets", mode="before")
    @classmethod
    def _previous_from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return ()
        if not text.startswith("["):
            return (text,)
        try:
            return tuple(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                'DOCSTREAM_AUTH_PREVIOUS_SECRETS must be a JSON list (["old-secret"]) or one secret'
            ) from exc

    @field_validator("auth_previous_secrets")
    @classmethod
    def _refuse_placeholder_previous(cls, values: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for value in values:
            _check_secret(value, "each of DOCSTREAM_AUTH_PREVIOUS_SECRETS")
        return values

    @property
    def auth_secrets(self) -> tuple[str, ...]:
        """The secrets a token or a sealed password may be under: the current one first."""
        current = self.auth_secret.get_secret_value()
        previous = (s.get_secret_value() for s in self.auth_previous_secrets)
        return (current, *(secret for secret in previous if secret != current))

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


def _check_secret(value: SecretStr, name: str) -> None:
    secret = value.get_secret_value()
    if secret.lower() in _PLACEHOLDER_SECRETS or len(secret) < 16:
        raise ValueError(f"{name} must be a real secret of 16+ characters")
