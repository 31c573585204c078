"""Document ids: 32 hex characters, time-ordered (48-bit milliseconds + 80 random bits).

Time order makes "newest first" listing and cursor pagination an index scan on ``_id``.
"""

from __future__ import annotations

import re
import secrets
import time

_ID = re.compile(r"^[0-9a-f]{32}$")


def new_document_id() -> str:
    return f"{int(time.time() * 1000):012x}{secrets.randbits(80):020x}"


def is_document_id(value: str) -> bool:
    return bool(_ID.match(value))


def created_at_s(document_id: str) -> float:
    """When the id was made (seconds since the epoch, this host's clock or another's), read
    from its 48-bit millisecond prefix; ``document_id`` must pass :func:`is_document_id`."""
    return int(document_id[:12], 16) / 1000
