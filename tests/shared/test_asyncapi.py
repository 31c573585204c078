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
