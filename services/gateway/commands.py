"""Client commands on a stream: ``cancel`` becomes the same CancelRequested record the REST
API publishes (POST /v1/documents/{id}/cancel), ``ping`` is answered with ``pong``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from services.gateway import metrics
from shared.events import TERMINAL_STATUSES_READ_MODEL, CancelRequested
from shared.gateway_protocol import CancelCommand, CancelRequestedMessage, ErrorMessage
from shared.ids import is_document_id
from shared.kafka import EventProducer
from shared.readmodel import DOCUMENTS, get_folded
from shared.topics import Topics

SOURCE = "/docstream/gateway"
PONG = '{"type":"pong"}'


class Commands:
    def __init__(self, producer: EventProducer, topics: Topics, db: Callable[[], Any]) -> None:
        self._producer = producer
        self._topics = topics
        self._db = db

    async def answer(self, text: str, owner: str, stream_document: str | None) -> str | None:
        """The reply to one client message (None: nothing to say, e.g. a pong)."""
        try:
            message = json.loads(text)
            kind = message.get("type") if isinstance(message, dict) else None
        except ValueError:
            kind = None
        if kind == "ping":
            return PONG
        if kind == "pong":
            return None
        if kind == "cancel":
            try:
                command = CancelCommand.model_validate(message)
            except ValidationError:
                return ErrorMessage(reason="bad_message").model_dump_json(exclude_none=True)
            return await self._cancel(command.document_id or stream_document, owner)
        return ErrorMessage(reason="unknown_message").model_dump_json(exclude_none=True)

    async def _cancel(self, document_id: str | None, owner: str) -> str:
        def refuse(reason: str) -> str:
            metrics.COMMANDS.labels("cancel", reason).inc()
            return ErrorMessage(reason=reason, document_id=document_id).model_dump_json(
                exclude_none=True
            )

        if document_id is None or not is_document_id(document_id):
            return refuse("not_found")

        async def get(document_id: str) -> dict[str, Any] | None:
            found = await self._db()[DOCUMENTS].find_one({"_id": document_id})
            return dict(found) if found is not None else None

        try:
            # A cancel sent right after the upload, before the fold has the document.
            doc = await get_folded(get, document_id)
        except PyMongoError:
            return refuse("store_unavailable")
        if doc is None or doc.get("deleted") or doc.get("owner") != owner:
            return refuse("not_found")
        if doc.get("status") in TERMINAL_STATUSES_READ_MODEL:
            return refuse("already_finished")
        command = CancelRequested(
            source=SOURCE,
            subject=document_id,
            owner=owner,
            generation=int(doc.get("generation", 1)),
        )
        try:
            await self._producer.send(self._topics.commands, command)
        except KafkaError:
            return refuse("commands_unavailable")
        metrics.COMMANDS.labels("cancel", "requested").inc()
        return CancelRequestedMessage(document_id=document_id).model_dump_json()
