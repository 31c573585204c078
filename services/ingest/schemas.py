"""What the command side answers, and the upload's multipart body, as OpenAPI shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.events import LANGUAGE_HINT_PATTERN, OCR_LANGUAGES_PATTERN

#: The most files one upload request may carry when the setting is not known (OpenAPI default).
DEFAULT_MAX_FILES = 20

_ID = "0190f3c2a1b27d4e9f0a1b2c3d4e5f60"


class UploadAccepted(BaseModel):
    """One file queued (or linked to an earlier copy of the same bytes)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "accepted",
                    "filename": "report.pdf",
                    "size": 48213,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "location": f"/v1/documents/{_ID}",
                    "ws_url": f"ws://127.0.0.1:8001/ws/documents/{_ID}",
                }
            ]
        }
    )

    id: str
    status: str = Field(description="always `accepted`")
    filename: str
    size: int
    sha256: str
    location: str
    ws_url: str
    duplicate_of: str | None = Field(
        None,
        description="the earlier document with the same bytes whose results this one shows "
        "(duplicate policy `link`); absent when the file is processed",
    )


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    index: int = Field(description="position of the file part in the request")
    filename: str
    status: int = Field(description="202, or the problem's status")
    document: UploadAccepted | None = Field(None, description="when the file was accepted")
    problem: dict[str, Any] | None = Field(
        None, description="when it was refused: a problem document with its `reason`"
    )


class BatchResult(BaseModel):
    """Several ``file`` parts: one result per file, in the order they were sent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "index": 0,
                            "filename": "a.pdf",
                            "status": 202,
                            "document": {
                                "id": _ID,
                                "status": "accepted",
                                "filename": "a.pdf",
                                "size": 48213,
                                "sha256": "9f86d0...",
                                "location": f"/v1/documents/{_ID}",
                                "ws_url": f"ws://127.0.0.1:8001/ws/documents/{_ID}",
                            },
                        },
                        {
                            "index": 1,
                            "filename": "photo.png",
                            "status": 415,
                            "problem": {
                                "type": "https://docstream.dev/problems/unsupported_type",
                                "title": "unsupported type",
                                "status": 415,
                                "detail": "image/png is not supported",
                                "reason": "unsupported_type",
                                "detected_type": "image/png",
                            },
                        },
                    ],
                    "accepted": 1,
                    "refused": 1,
                }
            ]
        }
    )

    items: list[BatchItem]
    accepted: int
    refused: int


class CancelAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": _ID, "status": "cancel_requested"}]}
    )

    id: str
    status: str


class ReprocessAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "status": "reprocess_requested",
                    "generation": 2,
                    "ws_url": f"ws://127.0.0.1:8001/ws/documents/{_ID}?generation=2",
                }
            ]
        }
    )

    id: str
    status: str
    generation: int
    ws_url: str


def upload_request_body(max_files: int = DEFAULT_MAX_FILES) -> dict[str, Any]:
    """The multipart body of POST /v1/documents (the route parses it itself, streaming)."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_files,
                            "items": {"type": "string", "format": "binary", "minLength": 1},
                            "description": "the document(s): one part per file. PDF, DOCX, "
                            "plain text, Markdown, HTML or CSV in any text encoding. One file "
                            "is answered 202; several are answered 207, one result each.",
                        },
                        "analyze": {
                            "type": "boolean",
                            "default": True,
                            "description": "false: extraction only, no AI analysis",
                        },
                        "duplicates": {
                            "type": "string",
                            "enum": ["link", "reject", "process"],
                            "description": "what to do with a file you uploaded before "
                            "(same bytes); default: the server's setting (link)",
                        },
                        "password": {
                            "type": "string",
                            "maxLength": 1024,
                            "description": "for encrypted PDFs",
                        },
                        "language": {
                            "type": "string",
                            "pattern": LANGUAGE_HINT_PATTERN,
                            "description": "a hint for the analysis: a language tag, e.g. `fr`",
                        },
                        "ocr_languages": {
                            "type": "string",
                            "pattern": OCR_LANGUAGES_PATTERN,
                            "description": "Tesseract languages for scanned pages, e.g. `eng+fra`",
                        },
                    },
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    }
