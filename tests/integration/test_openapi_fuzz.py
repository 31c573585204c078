"""schemathesis against the running ingest: every check it has, a bounded number of examples
per operation, no failure and no 5xx allowed.

Two things the schema cannot say are told to the generator here, without loosening a check:
- what a document is: the schema's ``format: binary`` lets schemathesis send its image
  samples, which ingest refuses with a documented 415 (the description lists what is read);
  files are drawn from the formats the description names instead;
- that a webhook URL is valid only where its host resolves to an allowed address: a valid
  one (http(s)://...) is pointed at 127.0.0.1 (allowed in the test stack), port 9 where
  nothing listens, so a delivery to it is refused at once and never leaves the machine;
- that an Idempotency-Key is a promise about one request: a key the generator happens to reuse
  for a different request is answered 422 ``idempotency_key_reused``, as it must be, so each
  valid key gets a suffix that makes it unique to its request;
- that a multipart form has no types: every field is text, so a free-text field (``password``)
  turned into null, a number or a list goes out as the text ``null``, ``12`` or ``[...]``, a
  valid value of that field. Such a negative case is no negative case on the wire and is not
  sent (seen once in CI's fuzzing: ``password`` "became null" and was rightly accepted);
- that a multipart list is its items, one part each: a one-value field (``ocr_languages``)
  turned into a list of no items or of one goes out as no part at all (the field is optional)
  or as that one item's part, which the generator did not mean to be invalid. Such a case is
  not sent either (seen once in CI: ``ocr_languages`` "became array", an empty one, and the
  upload without it was rightly accepted). Two or more items are still sent: ingest refuses a
  field sent twice;
- that a file is any bytes: a list of files turned into one value, or holding an item of
  another type, goes out as a part of text (``0``, ``null``), which is a valid plain-text
  document. Such a case is not sent; an empty list and too many files still are.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.transport.serialization import Binary

from services.ingest.app import create_app
from services.ingest.idempotency import KEY_PATTERN
from services.ingest.settings import IngestSettings
from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 30

_documents = st.one_of(
    st.text(min_size=1, max_size=400).map(lambda t: t.encode("utf-8")),
    st.sampled_from(
        [
            b"# Title\n\nSome *markdown* text.\n",
            b"<html><body><p>Hello</p></body></html>",
            b"name,amount\nwidget,3\n",
        ]
    ),
).filter(lambda b: b.strip() != b"")
schemathesis.openapi.format("binary", _documents.map(Binary))


@pytest.fixture(scope="module")
def fuzz_auth(pipeline: Pipeline) -> dict[str, str]:
    return pipeline.headers("fuzzer")


# The schema is taken from the application itself at collection time (schemathesis' lazy
# fixture loader does not run on pytest 9); the first test checks that the running ingest
# serves exactly this schema, so the fuzzing is of the real thing.
OPENAPI = create_app(IngestSettings(auth_secret="x" * 32)).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


Field = dict[str, Any]


def _form_fields(openapi: dict[str, Any], keep: Callable[[Field], bool]) -> dict[str, set[str]]:
    """Per path, the multipart fields whose schema ``keep`` accepts."""
    found: dict[str, set[str]] = {}
    for path, operations in openapi["paths"].items():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("multipart/form-data", {}).get("schema", {})
            for name, field in form.get("properties", {}).items():
                if keep(field):
                    found.setdefault(path, set()).add(name)
    return found


# Fields whose every text is valid (no pattern, enum or format).
FREE_TEXT_FORM_FIELDS = _form_fields(
    OPENAPI,
    lambda field: field.get("type") == "string" and not {"pattern", "enum", "format"} & set(field),
)
# Fields that are not lists: one part each on the wire.
ONE_VALUE_FORM_FIELDS = _form_fields(OPENAPI, lambda field: field.get("type") != "array")
# Fields that are lists of files: one part per file.
FILE_LIST_FORM_FIELDS = _form_fields(
    OPENAPI, lambda field: field.get("items", {}).get("format") == "binary"
)


def _same_on_the_wire_as_valid(path: str, body: object) -> bool:
    """Whether a negative case's multipart body may be a valid request once encoded."""
    if not isinstance(body, dict):
        return False
    free_text = FREE_TEXT_FORM_FIELDS.get(path, set())
    if any(name in body and not isinstance(body[name], str) for name in free_text):
        return True
    one_value = ONE_VALUE_FORM_FIELDS.get(path, set())
    if any(isinstance(body.get(name), list) and len(body[name]) <= 1 for name in one_value):
        return True
    files = FILE_LIST_FORM_FIELDS.get(path, set())
    return any(
        name in body
        and (
            not isinstance(body[name], list)
            or not all(isinstance(item, Binary) for item in body[name])
        )
        for name in files
    )


def test_the_free_text_form_fields_are_found() -> None:
    assert {"/v1/documents": {"password"}} == FREE_TEXT_FORM_FIELDS


def test_the_one_value_form_fields_are_found() -> None:
    fields = {"analyze", "duplicates", "password", "language", "ocr_languages"}
    assert {"/v1/documents": fields} == ONE_VALUE_FORM_FIELDS


def test_the_file_list_form_fields_are_found() -> None:
    assert {"/v1/documents": {"file"}} == FILE_LIST_FORM_FIELDS


def test_what_is_valid_on_the_wire_is_not_sent_as_a_negative_case() -> None:
    path = "/v1/documents"
    file = [Binary(b"x")]
    assert _same_on_the_wire_as_valid(path, {"file": file, "ocr_languages": []})
    assert _same_on_the_wire_as_valid(path, {"file": file, "ocr_languages": ["eng"]})
    assert _same_on_the_wire_as_valid(path, {"file": file, "password": None})
    assert _same_on_the_wire_as_valid(path, {"file": 0})
    assert _same_on_the_wire_as_valid(path, {"file": [Binary(b"x"), None]})
    assert not _same_on_the_wire_as_valid(path, {"file": file, "ocr_languages": ["a", "b"]})
    assert not _same_on_the_wire_as_valid(path, {"file": file, "analyze": "null"})
    assert not _same_on_the_wire_as_valid(path, {"file": []})
    assert not _same_on_the_wire_as_valid(path, {"file": file * 21})


async def test_the_running_ingest_serves_the_fuzzed_schema(pipeline: Pipeline) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        served = (await client.get(f"{pipeline.api}/openapi.json")).json()
    assert served == json.loads(json.dumps(OPENAPI))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
)
def test_api_conforms_to_its_openapi(
    case: Any, pipeline: Pipeline, fuzz_auth: dict[str, str]
) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key) and len(key) <= 200:
        case.headers["Idempotency-Key"] = f"{key}-{uuid.uuid4().hex}"
    body = case.body
    # A negative case must stay invalid: the fixes below are for valid requests only.
    positive = case.meta is None or case.meta.generation.mode.is_positive
    if not positive and _same_on_the_wire_as_valid(case.path, body):
        return  # may be valid once encoded (see the module's docstring)
    if positive and case.path == "/v1/webhooks" and isinstance(body, dict):
        url = body.get("url")
        if isinstance(url, str) and re.match(r"https?://", url):
            body["url"] = f"http://127.0.0.1:9/{uuid.uuid4().hex}"
    # A negative case's own (invalid) credential is sent as it is, not replaced by ours.
    invalid_credential = not positive and "Authorization" in (case.headers or {})
    auth = {} if invalid_credential else fuzz_auth
    response = case.call_and_validate(base_url=pipeline.api, headers=auth, timeout=30)
    assert response.status_code < 500, response.text
