from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AnalyzerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_ANALYZER_", frozen=True, populate_by_name=True, extra="ignore"
    )

    web_port: int = 8004
    #: "auto" picks gemini when an API key is set, else the offline provider.
    provider: Literal["auto", "offline", "gemini"] = "auto"
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    #: Model calls per minute across all analyzer replicas together; 0 means unlimited.
    rate_limit_per_minute: int = Field(0, ge=0)
    soft_timeout_s: float = Field(30.0, gt=0)
    hard_timeout_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    #: Exponential backoff with full jitter between attempts: base * 2^n, capped.
    retry_base_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    #: Documents analysed at once per replica; a document waiting out a retry holds only one.
    concurrency: int = Field(4, ge=1)
    #: The stage's *started* event waits up to this long to go in one batch with its next
    #: events (one produce request, and one fetch for each live reader, fewer a document);
    #: then it is sent on its own. 0: at once.
    started_hold_s: float = Field(0.25, ge=0)

    @property
    def provider_name(self) -> str:
        if self.provider != "auto":
            return self.provider
        return "gemini" if self.gemini_api_key is not None else "offline"
