from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings
from shared.webhooks import ATTEMPT_DAYS


class WebhooksSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_WEBHOOKS_", frozen=True, populate_by_name=True, extra="ignore"
    )

    web_port: int = 8005
    #: Networks endpoints may point into besides public addresses, comma-separated CIDRs
    #: (``127.0.0.0/8`` for tests and local use). Ingest reads the same variable.
    allowed_networks: str = ""
    #: Attempts per delivery before it is dead-lettered (the first one included).
    attempts: int = Field(6, ge=1, le=20)
    # Exponential backoff with full jitter between attempts: a receiver that is down is
    # not hammered, and many deliveries failing at once do not retry in lockstep.
    backoff_base_s: float = Field(5.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
    #: One attempt's limit: connect, send and the endpoint's answer.
    timeout_s: float = Field(10.0, gt=0)
    #: Deliveries under way at once; the consumer waits for a free slot beyond that.
    max_in_flight: int = Field(200, ge=1)
    #: How long an owner's registrations, once read, serve its next finished documents. Under
    #: load one read per finished document was a read-model command a document for a list
    #: that rarely changes; a registration or deletion takes effect within this much. 0: read
    #: for every document. Retries always read afresh (a deleted endpoint gets no more).
    registrations_cache_s: float = Field(1.0, ge=0, le=60)
    #: Days of delivery attempts kept (today's and the days before it): at most the 30 the
    #: API reads. Older days are removed once an hour.
    attempts_retention_days: int = Field(ATTEMPT_DAYS, ge=1, le=ATTEMPT_DAYS)
