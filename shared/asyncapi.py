"""The AsyncAPI 3.0 description of our topics, generated from the event models.

``python -m shared.asyncapi`` rewrites docs/asyncapi.json; a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from shared import events, gateway_protocol
from shared.topics import Topics

# topic property -> (event classes it carries, who writes what on it). Checked against the
# code: each writer is a constructor or derive() of that type in the service named.
_CHANNELS: dict[str, tuple[list[type[events.Envelope]], str]] = {
    "uploaded": (
        [events.DocumentUploaded],
        "ingest (an upload, a reprocess); status's watchdog (a stalled extraction re-driven)",
    ),
    "extracted": (
        [events.DocumentExtracted],
        "extractor; ingest (a reprocess with analysis_only); "
        "status's watchdog (a stalled analysis re-driven)",
    ),
    "analyzed": ([events.DocumentAnalyzed], "analyzer"),
    "events": (
        [
            events.DocumentAccepted,
            events.ExtractionStarted,
            events.ExtractionProgressed,
            events.ExtractionCompleted,
            events.AnalysisStarted,
            events.AnalysisCompleted,
            events.DocumentCompleted,
            events.DocumentFailed,
            events.DocumentCancelled,
            events.DocumentRedriven,
            events.DocumentDeleted,
        ],
        "ingest: document.accepted, document.completed (a linked duplicate), "
        "extraction.completed (a reprocess with analysis_only), document.failed (not_queued), "
        "document.deleted; extractor: extraction.started/progressed/completed, "
        "document.completed (without analysis); analyzer: analysis.started/completed, "
        "document.completed; extractor and analyzer: document.failed, document.cancelled; "
        "status's watchdog: document.redriven, document.failed (stalled)",
    ),
    "commands": (
        [events.CancelRequested],
        "ingest (a cancel, reprocess or delete; an upload undone); gateway (a WebSocket cancel)",
    ),
    "status": (
        [events.DocumentUpdated],
        "status (compacted: the latest state per document; a null value once deleted)",
    ),
}


def document() -> dict[str, Any]:
    topics = Topics()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for prop, (classes, writer) in _CHANNELS.items():
        address = getattr(topics, prop)
        channel_messages = {}
        for cls in classes:
            name = cls.__name__
            schema = TypeAdapter(cls).json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
            type_name = cls.model_fields["type"].default
            messages[name] = {
                "name": type_name,
                "title": type_name,
                "contentType": events.CONTENT_TYPE,
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {
                    "kafka": {"key": {"type": "string", "description": "the document id"}}
                },
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[prop] = {
            "address": address,
            "description": getattr(Topics, prop).__doc__,
            "messages": channel_messages,
        }
        operations[f"publish_{prop}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{prop}"},
            "summary": f"written by {writer}",
        }
    _describe_gateway(channels, operations, messages, schemas)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "docstream topics",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 (structured mode) on Kafka, keyed by document id. "
            "Every event carries owner and generation; fields are only ever added. "
            "The gateway's WebSocket and SSE streams (channels ws_* and sse_*) carry the "
            "same events to clients, each with a resume cursor.",
        },
        "defaultContentType": events.CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


# channel -> (address, what it streams, whether clients may send messages on it)
_GATEWAY_CHANNELS: dict[str, tuple[str, str, bool]] = {
    "ws_document": (
        "/ws/documents/{document_id}",
        "WebSocket: one document; snapshot (or, with ?after=<cursor>, only the missed "
        "events), then live events until its terminal event (close 1000).",
        True,
    ),
    "ws_user": (
        "/ws/documents",
        "WebSocket: every event of every document of the caller; ready, then (with "
        "?after=<cursor>) the missed events, then live.",
        True,
    ),
    "sse_document": (
        "/v1/documents/{document_id}/stream",
        "Server-Sent Events twin of ws_document: each message is an SSE event named after "
        "its type, id = its cursor; Last-Event-ID resumes; a last 'close' event gives the "
        "close code.",
        False,
    ),
    "sse_user": ("/v1/stream", "Server-Sent Events twin of ws_user.", False),
}


def _describe_gateway(
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
    schemas: dict[str, Any],
) -> None:
    def add(cls: type[BaseModel]) -> str:
        name = cls.__name__
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        messages[name] = {
            "name": cls.model_fields["type"].default,
            "title": name,
            "summary": (cls.__doc__ or "").strip().split("\n\n")[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        return name

    server = [add(cls) for cls in gateway_protocol.SERVER_MESSAGES]
    client = [add(cls) for cls in gateway_protocol.CLIENT_MESSAGES]
    codes = ", ".join(f"{int(c)} {c.name.lower()}" for c in gateway_protocol.CloseCode)
    for prop, (address, description, two_way) in _GATEWAY_CHANNELS.items():
        names = server + (client if two_way else [])
        channels[prop] = {
            "address": address,
            "description": f"{description} Auth: Authorization: Bearer <token> or ?token=. "
            f"Close codes: {codes}.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in dict.fromkeys(names)},
        }
        operations[f"stream_{prop}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{prop}"},
            "summary": "sent by the gateway",
            "messages": [{"$ref": f"#/channels/{prop}/messages/{n}"} for n in server],
        }
        if two_way:
            operations[f"command_{prop}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{prop}"},
                "summary": "sent by clients: cancel, ping, pong",
                "messages": [{"$ref": f"#/channels/{prop}/messages/{n}"} for n in client],
            }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.json"

if __name__ == "__main__":
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render())
    sys.stdout.write(f"wrote {DOC_PATH}\n")
