"""What the read side answers, as OpenAPI shows it (documentation only: the routes return
the read model's documents as they are, so these models allow fields they do not name)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = "0190f3c2a1b27d4e9f0a1b2c3d4e5f60"
_DOCUMENT_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "status": "completed",
    "generation": 1,
    "filename": "report.pdf",
    "size": 48213,
    "created_at": "2026-01-05T10:00:00+00:00",
    "extraction": {"detected_type": "application/pdf", "pages": 3, "chars": 5120, "words": 830},
    "analysis": {
        "provider": "offline",
        "summary": "A quarterly report.",
        "key_points": ["revenue grew"],
        "sentiment": {"label": "positive", "score": 0.4},
        "topics": ["finance"],
    },
}


class DocumentView(BaseModel):
    """A document's current state: status, progress, extraction, analysis, error."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [_DOCUMENT_EXAMPLE]})

    id: str
    status: str = Field(
        description="queued, extracting, extracted, analyzing, analyzed, completed, failed "
        "or cancelled"
    )
    duplicate_of: str | None = Field(
        None, description="the earlier copy whose results this document shows"
    )


class DocumentSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str


class DocumentPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{"id": _ID, "status": "completed", "filename": "report.pdf"}],
                    "next": "0.3.41_1.x",
                }
            ]
        }
    )

    items: list[DocumentSummary]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class LogPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 0,
                            "type": "document.accepted",
                            "time": "2026-01-05T10:00:00+00:00",
                            "generation": 1,
                        }
                    ],
                    "next": None,
                }
            ]
        }
    )

    items: list[dict[str, Any]]
    next: int | None = Field(description="`after` of the next page; null on the last")


class Stats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "documents": 12,
                    "by_status": {"completed": 11, "failed": 1},
                    "pages": 140,
                    "chars": 250000,
                    "input_tokens": 61000,
                    "output_tokens": 4000,
                    "estimated_cost_usd": 0.0123,
                }
            ]
        }
    )

    documents: int
    by_status: dict[str, int]
    pages: int
    chars: int
    input_tokens: int
    output_tokens: int
    estimated_cost_usd: float
