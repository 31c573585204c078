"""The upload password on its way to the extractor: sealed with AES-256-GCM.

A password for an encrypted PDF rides on the work record (documents.uploaded), because the
extractor needs it and it is never stored. Kafka keeps that record for the topic's retention
(7 days), on documents.uploaded.dlt when the extractor gives up on it, and in whatever a
downstream reader of the topic copies. So ingest seals it (``password_sealed``) and only the
extractor opens it: anyone else who reads the topic learns that a password was given, not
which.

The key is derived with HKDF-SHA256 from ``DOCSTREAM_AUTH_SECRET``, under a label of its
own: every service already has that secret (``make run``'s launcher, docker-compose.yml), so
ingest and the extractor share the key with nothing new to deploy, and the derived key is not
the one that signs tokens (what one use reveals says nothing of the other). The document id is
the associated data: a sealed password opens only on its own document's record. Each seal has
a fresh random 96-bit nonce (a few per upload: far from GCM's limits).

To rotate the secret, the old one goes in ``DOCSTREAM_AUTH_PREVIOUS_SECRETS`` of every
service: passwords sealed under it still open (new ones are sealed under the new secret).
Changing ``DOCSTREAM_AUTH_SECRET`` without that makes the passwords of documents not
extracted yet unreadable: the extractor fails them with reason ``password_unreadable`` (they
can be uploaded again), rather than try a wrong password or crash.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.events import UploadOptions

#: The HKDF label: a key for this one purpose (a new label would be a new key).
_INFO = b"docstream upload password v1"
#: Names the format (and key) of a sealed value, so a later one can be told from this one.
_VERSION = "v1."
_NONCE_BYTES = 12


class UnreadablePasswordError(ValueError):
    """A sealed password that does not open with our key (another secret sealed it, it is
    someone else's document's, or it was altered on the way)."""


@functools.lru_cache(maxsize=4)
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    return AESGCM(key)


def seal(secret: str, password: str, *, document_id: str) -> str:
    """``password`` encrypted for ``document_id``'s work record: text (base64url)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(secret).encrypt(nonce, password.encode(), document_id.encode())
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_sealed(secrets: str | Sequence[str], sealed: str, *, document_id: str) -> str:
    """The password :func:`seal` sealed under one of ``secrets`` (the current secret, or it
    and those it replaced); :class:`UnreadablePasswordError` when it opens under none (never
    a wrong password: GCM's tag says whether a key is the one)."""
    if not sealed.startswith(_VERSION):
        raise UnreadablePasswordError("not a sealed password of a format this version knows")
    body = sealed.removeprefix(_VERSION)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise UnreadablePasswordError("the sealed password is not base64") from exc
    for secret in (secrets,) if isinstance(secrets, str) else secrets:
        try:
            opened = _cipher(secret).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], document_id.encode()
            )
            return opened.decode()
        except (ValueError, InvalidTag):
            # ValueError: too short to hold a nonce and a tag, or not UTF-8 (decode()).
            continue
    raise UnreadablePasswordError("the sealed password does not open with any of our keys")


def sealed_options(options: UploadOptions, secret: str, *, document_id: str) -> UploadOptions:
    """``options`` as a work record carries them: the password sealed, never in plain text."""
    if options.password is None:
        return options.model_copy(update={"password_sealed": None})
    sealed = seal(secret, options.password, document_id=document_id)
    return options.model_copy(update={"password": None, "password_sealed": sealed})


def opened_password(
    options: UploadOptions, secrets: str | Sequence[str], *, document_id: str
) -> str | None:
    """The password a work record carries, for the extractor (:class:`UnreadablePasswordError`
    when its sealed password does not open)."""
    if options.password_sealed is not None:
        return open_sealed(secrets, options.password_sealed, document_id=document_id)
    # A record written before passwords were sealed has it in plain text: read for one
    # release, so the uploads in flight at the upgrade still open (then remove this).
    return options.password
