"""aiokafka, made to wait after a failed metadata update: importing this module installs it.

aiokafka (0.14) keeps cluster metadata in one background task per client; its callers ask for
an update and wait for the answer. Some of them loop on that answer without waiting between
tries: the producer's sender, as long as a partition it holds records for has no known leader,
asks again as soon as an update comes back. With the broker gone, an update fails at once
(connection refused), so the loop spins. That is what a broker's controlled shutdown leaves:
its last metadata says "no leader", then it is gone. Measured here with one producer holding
one record: 63% of a core and ~5,200 failed updates a second (each logging two errors), where
the same producer with leaders known takes 2% (aiokafka issue #1155 is the fetcher's twin).
A service in that state starves its own event loop (its health checks, its stop).

The client's ``retry_backoff_ms`` (100 ms by default, the Java client's ``retry.backoff.ms``)
is what such a loop should wait; here a failed update waits it before it answers, which
bounds every caller's loop to ten tries a second whatever it does. A successful update
answers at once, as before.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.client import AIOKafkaClient

_MetadataUpdate = Callable[[AIOKafkaClient, Any, Any], Awaitable[bool]]


def _with_backoff(update: _MetadataUpdate) -> _MetadataUpdate:
    @functools.wraps(update)
    async def metadata_update(self: AIOKafkaClient, cluster_metadata: Any, topics: Any) -> bool:
        updated = await update(self, cluster_metadata, topics)
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    metadata_update._docstream_backoff = True  # type: ignore[attr-defined]
    return metadata_update


def install() -> None:
    """Idempotent. Raises if aiokafka no longer has the method (an upgrade must look again)."""
    update = AIOKafkaClient._metadata_update
    if getattr(update, "_docstream_backoff", False):
        return
    AIOKafkaClient._metadata_update = _with_backoff(update)


install()
