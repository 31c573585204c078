"""Which database this status replica folds into, and moving to another one safely.

A rebuild (services/status/rebuild.py) folds documents.events into a fresh database, then points
the services at it in two steps: first ``ready: false`` (replicas stop writing the old
database and hold their next batch), then, once every replica has said it holds and the
rebuild has folded the tail, ``ready: true`` (replicas go on, into the new database, from
their committed offsets; what the rebuild folded already is skipped by position).

Each replica says where it writes in a heartbeat (``meta`` collection of the base database,
``status|<instance>``), which is how the rebuild knows nobody still writes the old database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from shared.readmodel import META, read_pointer

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX = "status|"


class ReadModelSwitch:
    def __init__(
        self,
        client: Any,
        base: str,
        *,
        instance: str | None,
        on_switch: Callable[[Any], None],
        poll_s: float = 1.0,
    ) -> None:
        self.client = client
        self.base = base
        self.instance = instance or f"pid-{os.getpid()}"
        self.on_switch = on_switch
        self.poll_s = poll_s
        self.database = base
        self._pending: str | None = None
        self._busy = False
        self._ready = asyncio.Event()

    @property
    def db(self) -> Any:
        return self.client[self.database]

    async def start(self) -> None:
        """Until the pointer is ready; the database it names is ours."""
        while True:
            pointer = await read_pointer(self.client, self.base)
            if pointer.ready:
                self.database = pointer.database
                self._ready.set()
                await self._heartbeat(self.database)
                return
            await self._heartbeat(pointer.database)  # held: we will write there
            await asyncio.sleep(self.poll_s)

    async def poll(self) -> None:
        """Called on a timer: notice a switch, take it when it is ready, say where we write."""
        pointer = await read_pointer(self.client, self.base)
        if pointer.database != self.database and self._pending != pointer.database:
            log.warning(
                "read model switching", extra={"from": self.database, "to": pointer.database}
            )
            self._pending = pointer.database
            self._ready.clear()
        if self._pending is not None and pointer.ready and not self._busy:
            self.database = self._pending
            self._pending = None
            self.on_switch(self.db)
            self._ready.set()
            log.warning("read model switched", extra={"database": self.database})
        writing = self.database if self._busy or self._pending is None else self._pending
        await self._heartbeat(writing)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Around one batch's writes: held while a switch is pending."""
        await self._ready.wait()
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    async def _heartbeat(self, database: str) -> None:
        await self.client[self.base][META].replace_one(
            {"_id": f"{HEARTBEAT_PREFIX}{self.instance}"},
            {"database": database, "at": datetime.now(UTC)},
            upsert=True,
        )
