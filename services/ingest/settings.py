from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_INGEST_", frozen=True, populate_by_name=True, extra="ignore"
    )

    port: int = 8000
    max_upload_bytes: int = Field(200 * 2**20, ge=1)
    #: Where clients reach the gateway; returned with every upload.
    public_ws_url: str = "ws://127.0.0.1:8001"
    #: How long a publish may take before the upload answers 503.
    publish_timeout_s: float = 10.0
