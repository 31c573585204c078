import json
from typing import Any

from shared import events
from shared.asyncapi import DOC_PATH, document, render
from shared.topics import Topics


def test_docs_asyncapi_is_up_to_date() -> None:
    assert DOC_PATH.read_text() == render(), "run: python -m shared.asyncapi"


def test_every_topic_with_payloads_is_described() -> None:
    doc = document()
    addresses = {c["address"] for c in doc["channels"].values()}
    topics = Topics()
    assert {
        topics.uploaded,
        topics.extracted,
        topics.analyzed,
        topics.events,
        topics.commands,
    } <= addresses
    for message in doc["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert ref in doc["components"]["schemas"]


def test_the_gateway_streams_and_their_messages_are_described() -> None:
    doc = document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {
        "/ws/documents/{document_id}",
        "/ws/documents",
        "/v1/documents/{document_id}/stream",
        "/v1/stream",
    } <= addresses
    event = doc["components"]["schemas"]["EventMessage"]
    assert {"cursor", "event", "position"} <= set(event["required"])
    assert "4008 too_slow" in doc["channels"]["ws_user"]["description"]
    assert "CancelCommand" in doc["channels"]["ws_document"]["messages"]
    assert "CancelCommand" not in doc["channels"]["sse_user"]["messages"]


def _event_schemas() -> dict[str, dict[str, Any]]:
    """The schema of every event on a Kafka topic, by class name."""
    doc = document()
    schemas = doc["components"]["schemas"]
    names = {
        ref["$ref"].rsplit("/", 1)[1]
        for channel in doc["channels"].values()
        if not channel["address"].startswith("/")  # the gateway's streams are not events
        for ref in channel["messages"].values()
    }
    return {name: schemas[name] for name in names}


def test_every_event_requires_the_attributes_every_record_carries() -> None:
    """CloudEvents requires id, source, specversion and type; our producers always write
    time, datacontenttype and the extension attributes too. A defaulted field is optional in
    pydantic's validation schema: code generated from the schema must not make them so."""
    carried = {
        "specversion",
        "id",
        "source",
        "subject",
        "type",
        "time",
        "datacontenttype",
        "owner",
        "generation",
        "data",
    }
    schemas = _event_schemas()
    assert {"DocumentUploaded", "DocumentFailed", "DocumentUpdated", "CancelRequested"} <= set(
        schemas
    )
    for name, schema in schemas.items():
        assert carried <= set(schema["required"]), name
        assert "dataschema" not in schema["required"], name  # left out when None
        # ... and every record does carry them: the defaults fill them, encode keeps them.
        cls = getattr(events, name)
        made = cls.model_construct(source="/t", subject="d", owner="o", generation=1)
        written = json.loads(made.model_dump_json(exclude_none=True, exclude={"data"}))
        assert carried - {"data"} <= written.keys(), name
