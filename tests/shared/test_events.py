from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentFailed,
    ExtractionStarted,
    FailedData,
    decode,
    derive,
    encode,
)
from shared.reasons import ReasonCode


def _accepted() -> DocumentAccepted:
    return DocumentAccepted(
        source="/test",
        subject="a" * 32,
        owner="alice",
        generation=1,
        data=AcceptedData(filename="x.pdf", size=3, sha256="ab"),
    )


def test_envelope_is_cloudevents_structured_json() -> None:
    raw = json.loads(encode(_accepted()))
    for attribute in (
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "data",
    ):
        assert attribute in raw
    assert raw["specversion"] == "1.0"
    assert raw["type"] == "document.accepted"
    assert raw["owner"] == "alice" and raw["generation"] == 1


def test_the_union_picks_the_model_by_type() -> None:
    event = decode(encode(_accepted()))
    assert isinstance(event, DocumentAccepted)
    assert event.data.filename == "x.pdf"


def test_unknown_types_and_missing_owner_are_refused() -> None:
    raw = json.loads(encode(_accepted()))
    with pytest.raises(ValidationError):
        decode(json.dumps({**raw, "type": "document.exploded"}))
    del raw["owner"]
    with pytest.raises(ValidationError):
        decode(json.dumps(raw))


def test_fields_added_by_newer_producers_are_kept() -> None:
    raw = json.loads(encode(_accepted()))
    raw["data"]["pages_hint"] = 3
    event = decode(json.dumps(raw))
    assert event.model_dump()["data"]["pages_hint"] == 3


def test_derive_keeps_document_owner_and_generation() -> None:
    parent = _accepted().model_copy(update={"generation": 4})
    child = derive(
        parent,
        DocumentFailed,
        source="/x",
        data=FailedData(stage="extraction", reason=ReasonCode.CORRUPT, message="m"),
    )
    assert (child.subject, child.owner, child.generation) == (parent.subject, "alice", 4)
    assert child.id != parent.id
    started = derive(parent, ExtractionStarted, source="/x")
    assert started.data.stage == "extraction"
