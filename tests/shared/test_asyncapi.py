import json
import re
from pathlib import Path
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


ROOT = Path(__file__).resolve().parents[2]


def _writers(cls: type[events.Envelope]) -> set[str]:
    """Which services make records of ``cls`` (a constructor call or a derive() of it)."""
    made = re.compile(rf"\b{cls.__name__}\(|derive\(\s*\w+,\s*{cls.__name__}\b")
    found: set[str] = set()
    for path in [*ROOT.glob("services/**/*.py"), ROOT / "shared" / "stage.py"]:
        if not made.search(path.read_text()):
            continue
        parts = path.relative_to(ROOT).parts
        if parts[0] == "shared":  # the failure policy of the work stages
            found |= {"extractor", "analyzer"}
        elif parts[1:3] == ("status", "watchdog.py"):
            found.add("status's watchdog")
        else:
            found.add(parts[1])
    return found


def _readme_row(address: str) -> list[str]:
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith(f"| `{address}` |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"README's topics table has no row for {address}")


def test_the_docs_say_who_writes_what_on_each_topic() -> None:
    """The asyncapi summaries and README's topics table name every service that writes a
    topic (found in the code), and README lists every type documents.events carries."""
    doc = document()
    messages = doc["components"]["messages"]
    for prop, channel in doc["channels"].items():
        if channel["address"].startswith("/"):
            continue  # the gateway's streams
        summary = doc["operations"][f"publish_{prop}"]["summary"]
        _, written_by, _, holds = _readme_row(channel["address"])
        types = {messages[name]["name"] for name in channel["messages"]}
        for name in channel["messages"]:
            for writer in _writers(getattr(events, name)):
                assert writer in summary, (prop, name, writer)
                assert writer in written_by, (channel["address"], name, writer)
        listed = {
            f"{entity}.{suffix}"
            for entity, suffixes in re.findall(r"`([a-z_]+)\.([a-z_/]+)`", holds)
            for suffix in suffixes.split("/")
        }
        assert types <= listed, (channel["address"], types - listed)
