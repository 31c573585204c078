from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class StatusSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_STATUS_", frozen=True, populate_by_name=True, extra="ignore"
    )

    web_port: int = 8003
    #: Events folded per batch, and how long a batch may wait to fill (seconds).
    batch_max: int = Field(500, ge=1)
    # The gateway streams events live; the read model may trail by this much, and in
    # exchange folds several events of a document into one write.
    batch_within_s: float = Field(0.25, gt=0)
