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
