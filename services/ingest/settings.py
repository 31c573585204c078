from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
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
    #: Most ``file`` parts in one upload request (a batch).
    max_files_per_upload: int = Field(20, ge=1, le=1000)
    #: A file the user uploaded before (same bytes): link to the earlier document's results,
    #: reject it (409), or process it again. An upload's ``duplicates`` field overrides it.
    duplicates: Literal["link", "reject", "process"] = "link"
    #: How long an Idempotency-Key is remembered.
    idempotency_ttl_s: float = Field(24 * 3600.0, gt=0)
    #: How often expired keys are removed (once an hour across all replicas; see admissions).
    idempotency_prune_every_s: float = Field(3600.0, gt=0)
    #: How long a retry waits for the first request with its key to answer (then 409).
    idempotency_wait_s: float = Field(15.0, ge=0)
    #: Networks webhook endpoints may point into besides public addresses, comma-separated
    #: CIDRs (``127.0.0.0/8`` for local use). The same variable the webhooks service reads,
    #: so registration and delivery judge an address alike.
    webhooks_allowed_networks: str = Field(
        "",
        validation_alias=AliasChoices(
            "DOCSTREAM_WEBHOOKS_ALLOWED_NETWORKS", "webhooks_allowed_networks"
        ),
    )
    #: Most endpoints one user may register.
    webhooks_max_per_owner: int = Field(20, ge=1)
