"""The AsyncAPI 3.0 description of our topics, generated from the event models.

``python -m shared.asyncapi`` rewrites docs/asyncapi.json; a test fails when it is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from shared import events
from shared.topics import Topics

# topic property -> (event classes it carries, who writes, description)
_CHANNELS: dict[str, tuple[list[type[events.Envelope]], str]] = {
    "uploaded": ([events.DocumentUploaded], "ingest"),
    "extracted": ([events.DocumentExtracted], "extractor"),
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
        "every stage (document.redriven and stalled failures: status's watchdog; "
        "document.accepted and document.deleted: ingest)",
    ),
    "commands": ([events.CancelRequested], "ingest"),
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
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "docstream topics",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 (structured mode) on Kafka, keyed by document id. "
            "Every event carries owner and generation; fields are only ever added.",
        },
        "defaultContentType": events.CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.json"

if __name__ == "__main__":
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(render())
    sys.stdout.write(f"wrote {DOC_PATH}\n")
