from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_GATEWAY_", frozen=True, populate_by_name=True, extra="ignore"
    )

    port: int = 8001
    #: How long to wait for a document nobody has heard of yet (an upload racing its watcher).
    unknown_document_wait_s: float = Field(5.0, ge=0)
    #: After this long without live events, re-read the read model to close any gap.
    resync_after_s: float = Field(2.0, gt=0)
    #: Connections are closed (code 4000, "reconnect") after this long.
    max_connection_s: float = Field(3600.0, gt=0)
    #: Per-client queue; when full, progress events are coalesced, lifecycle events never drop.
    client_queue_size: int = Field(256, ge=8)
    #: Documents whose recent events are kept for watchers that connect a moment late.
    recent_documents: int = Field(10_000, ge=100)
