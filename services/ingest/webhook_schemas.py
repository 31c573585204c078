"""What the webhook routes take and answer, as OpenAPI shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HookEvent = Literal["document.completed", "document.failed", "document.cancelled"]

_HOOK = "wh_0190f3c2a1b27d4e9f0a1b2c3d4e5f60"


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://example.com/hooks/docstream",
                    "events": ["document.completed", "document.failed"],
                    "description": "our archive",
                }
            ]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^https?://",
        description="http(s) URL to POST events to; its host must resolve to public addresses",
    )
    events: list[HookEvent] = Field(min_length=1, max_length=3, description="events of interest")
    description: str | None = Field(None, max_length=500)


class WebhookView(BaseModel):
    id: str = Field(examples=[_HOOK])
    url: str
    events: list[HookEvent]
    description: str | None = None
    created_at: datetime


class WebhookCreated(WebhookView):
    secret: str = Field(
        description="the signing secret (`whsec_...`); shown only in this answer",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookList(BaseModel):
    items: list[WebhookView]


class AttemptView(BaseModel):
    """One POST to the endpoint (or one refusal to make it)."""

    model_config = ConfigDict(extra="allow")

    webhook_id: str = Field(description="the `webhook-id` header: stable per outcome")
    document_id: str
    generation: int
    event_type: HookEvent
    attempt: int = Field(description="1 for the first try of this delivery")
    at: datetime
    outcome: Literal["delivered", "retrying", "dead_lettered"]
    status_code: int | None = Field(None, description="the endpoint's answer, if any")
    error: str | None = Field(None, description="why the attempt failed, when it did")
    duration_ms: float


class AttemptList(BaseModel):
    items: list[AttemptView] = Field(description="newest first")
