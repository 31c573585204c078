from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_GATEWAY_", frozen=True, populate_by_name=True, extra="ignore"
    )

    port: int = 8001
    #: How long to wait for a document nobody has heard of yet (an upload racing its watcher),
    #: or for the first event of a ``?generation=`` it has not reached (a reprocess racing its
    #: watcher); every "not found" answers after this long, so timing does not tell what exists.
    unknown_document_wait_s: float = Field(5.0, ge=0)
    #: Connections are closed (code 4000, "reconnect") after this long.
    max_connection_s: float = Field(3600.0, gt=0)
    #: Per-client queue; when full, progress events are coalesced, lifecycle events never
    #: drop: a client whose queue is full of them is closed (4008, "too_slow").
    client_queue_size: int = Field(256, ge=8)
    #: One send may wait this long for a client's socket before the client counts as too slow.
    send_timeout_s: float = Field(10.0, gt=0)
    #: After this long with nothing sent the server pings; no answer by the next ping: closed.
    ping_interval_s: float = Field(20.0, gt=0)
    #: Connections (WebSocket and SSE) this instance holds at most, and one user at most.
    max_connections: int = Field(10_000, ge=1)
    max_connections_per_user: int = Field(50, ge=1)
    #: Kafka readers for resumes, reused; also how many resumes read at once.
    backfill_readers: int = Field(4, ge=1)
    #: A resume read that makes no progress this long fails (the client is told to retry).
    backfill_stall_s: float = Field(10.0, gt=0)
    #: Documents whose recent events are kept for watchers that connect a moment late.
    recent_documents: int = Field(10_000, ge=100)
    #: Origins whose web pages may read the SSE streams (CORS), comma-separated; ``*``: any,
    #: empty: none. The product's own page is served by ingest, another origin, so a browser's
    #: EventSource needs this. ``*`` is a safe default because the streams take a bearer token
    #: (header or ``?token=``), never a cookie, and the gateway never allows credentials in
    #: CORS: the browser adds no credential of its own, so a page reads only what the token it
    #: holds lets anyone read with curl. (Browsers apply no CORS to the WebSocket.)
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value
