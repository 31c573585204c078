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
