"""Which documents have been cancelled, as heard on the commands topic by every replica."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from shared.broadcast import BroadcastConsumer
from shared.events import CancelRequested, decode

log = logging.getLogger(__name__)

OnCancel = Callable[[str, int], Awaitable[None]]


class CancelRegistry:
    """Remembers the latest cancelled generation per document (bounded, oldest forgotten)."""

    def __init__(
        self,
        bootstrap_servers: str,
        commands_topic: str,
        *,
        capacity: int = 100_000,
        on_cancel: OnCancel | None = None,
    ) -> None:
        self._cancelled: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._on_cancel = on_cancel
        # From the beginning: a replica that starts late must still know earlier cancels.
        # Commands are rare: the broker may hold an idle poll for 5 s (a cancel still answers
        # it at once), where 0.5 s made each stage replica poll twice a second for nothing.
        self._consumer = BroadcastConsumer(
            bootstrap_servers, commands_topic, self._handle, from_beginning=True, idle_wait_s=5.0
        )

    async def start(self) -> None:
        """Returns once every cancel already on the topic is known."""
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    @property
    def running(self) -> bool:
        return self._consumer.running

    def is_cancelled(self, document_id: str, generation: int) -> bool:
        return self._cancelled.get(document_id, 0) >= generation

    def mark(self, document_id: str, generation: int) -> None:
        self._cancelled[document_id] = max(generation, self._cancelled.get(document_id, 0))
        self._cancelled.move_to_end(document_id)
        while len(self._cancelled) > self._capacity:
            self._cancelled.popitem(last=False)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            command = decode(record.value or b"")
        except ValidationError:
            log.warning(
                "not a docstream command; ignored",
                extra={"partition": record.partition, "offset": record.offset},
            )
            return
        if isinstance(command, CancelRequested):
            self.mark(command.subject, command.generation)
            if self._on_cancel is not None:
                await self._on_cancel(command.subject, command.generation)
