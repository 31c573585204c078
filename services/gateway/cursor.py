"""The resume cursor: for each partition of documents.events, the offset of the newest record
the client has been given (or skipped as not its own). Opaque to clients.

Positions in Kafka outlive any gateway process, so a cursor minted by one instance resumes on
any other, hours later, as long as the topic still holds the records after it.
"""

from __future__ import annotations

import base64
import binascii

_VERSION = "c1."


class CursorError(ValueError):
    """Not a cursor this gateway wrote."""


class Cursor:
    def __init__(self, offsets: dict[int, int] | None = None) -> None:
        self.offsets: dict[int, int] = dict(offsets or {})
        self._text: str | None = None  # encoded lazily, once per change

    def seen(self, partition: int, offset: int) -> bool:
        return offset <= self.offsets.get(partition, -1)

    def advance(self, partition: int, offset: int) -> None:
        if offset > self.offsets.get(partition, -1):
            self.offsets[partition] = offset
            self._text = None

    def encode(self) -> str:
        if self._text is None:
            body = ",".join(f"{p}:{o}" for p, o in sorted(self.offsets.items()))
            self._text = _VERSION + base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return self._text

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if not text.startswith(_VERSION):
            raise CursorError("not a cursor from this gateway")
        raw = text[len(_VERSION) :]
        try:
            padded = raw + "=" * (-len(raw) % 4)
            body = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
            offsets: dict[int, int] = {}
            for pair in filter(None, body.split(",")):
                partition, offset = (int(v) for v in pair.split(":"))
                if partition < 0 or offset < -1:
                    raise ValueError(pair)
                offsets[partition] = offset
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise CursorError("not a cursor from this gateway") from exc
        return cls(offsets)

    def copy(self) -> Cursor:
        return Cursor(self.offsets)
