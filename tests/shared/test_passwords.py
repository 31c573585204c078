"""The upload password sealed for the extractor (shared/passwords.py)."""

from __future__ import annotations

import json

import pytest

from shared.events import BlobRef, DocumentUploaded, UploadedData, UploadOptions, decode, encode
from shared.passwords import (
    UnreadablePasswordError,
    open_sealed,
    opened_password,
    seal,
    sealed_options,
)

SECRET = "s" * 32
DOC = "0190f3c2a1b27d4e9f0a1b2c3d4e5f60"


def test_a_sealed_password_opens_with_the_same_secret_for_the_same_document() -> None:
    sealed = seal(SECRET, "pässwörd", document_id=DOC)
    assert "pässwörd" not in sealed and sealed.startswith("v1.")
    assert open_sealed(SECRET, sealed, document_id=DOC) == "pässwörd"
    assert seal(SECRET, "pässwörd", document_id=DOC) != sealed  # a fresh nonce each time


@pytest.mark.parametrize(
    "change",
    [
        "another secret",
        "another document",
        "altered",
        "truncated",
        "not base64",
        "another format",
    ],
)
def test_anything_else_is_unreadable_never_a_wrong_password(change: str) -> None:
    sealed = seal(SECRET, "test", document_id=DOC)
    secret, document_id = SECRET, DOC
    if change == "another secret":
        secret = "t" * 32
    elif change == "another document":
        document_id = "1" * 32
    elif change == "altered":
        sealed = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    elif change == "truncated":
        sealed = sealed[:8]
    elif change == "not base64":
        sealed = "v1.***"
    else:
        sealed = "v0." + sealed[3:]
    with pytest.raises(UnreadablePasswordError):
        open_sealed(secret, sealed, document_id=document_id)


def test_a_work_record_never_carries_the_password_in_plain_text() -> None:
    options = UploadOptions(password="test", ocr_languages="eng")
    work = DocumentUploaded(
        source="/t",
        subject=DOC,
        owner="alice",
        generation=1,
        data=UploadedData(
            filename="a.pdf",
            blob=BlobRef(key="k", size=1),
            options=sealed_options(options, SECRET, document_id=DOC),
        ),
    )
    written = json.loads(encode(work))
    assert "password" not in written["data"]["options"]
    assert written["data"]["options"]["ocr_languages"] == "eng"
    assert "test" not in written["data"]["options"]["password_sealed"]
    read = decode(encode(work))
    assert isinstance(read, DocumentUploaded)
    assert opened_password(read.data.options, SECRET, document_id=DOC) == "test"
    # Even an options object holding the plain password (ingest's, in memory) never writes it.
    assert "password" not in json.loads(options.model_dump_json())
    assert sealed_options(UploadOptions(), SECRET, document_id=DOC).password_sealed is None


def test_a_record_written_before_passwords_were_sealed_is_still_read() -> None:
    legacy = json.loads(
        encode(
            DocumentUploaded(
                source="/t",
                subject=DOC,
                owner="alice",
                generation=1,
                data=UploadedData(filename="a.pdf", blob=BlobRef(key="k", size=1)),
            )
        )
    )
    legacy["data"]["options"] = {"analyze": True, "password": "test"}
    read = decode(json.dumps(legacy).encode())
    assert isinstance(read, DocumentUploaded)
    assert opened_password(read.data.options, SECRET, document_id=DOC) == "test"


def test_after_a_rotation_a_password_sealed_under_the_previous_secret_opens() -> None:
    old, new = "o" * 32, "n" * 32
    sealed_before = seal(old, "before", document_id=DOC)
    assert open_sealed((new, old), sealed_before, document_id=DOC) == "before"
    assert open_sealed((new, old), seal(new, "after", document_id=DOC), document_id=DOC) == "after"
    with pytest.raises(UnreadablePasswordError):
        open_sealed(new, sealed_before, document_id=DOC)
    with pytest.raises(UnreadablePasswordError):
        open_sealed((new, "x" * 32), sealed_before, document_id=DOC)
