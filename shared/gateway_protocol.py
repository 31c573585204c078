"""What the gateway and its clients say to each other (WebSocket frames and SSE events).

Declared here, beside the Kafka events, because it is a contract with clients: the gateway
speaks it and shared/asyncapi.py documents it. Server messages are JSON objects with a
``type``; every one that carries an event also carries ``cursor``, an opaque string a client
sends back as ``?after=`` (or SSE ``Last-Event-ID``) to resume exactly after it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class CloseCode(IntEnum):
    """WebSocket close codes (SSE ends with a ``close`` event carrying the same code)."""

    DONE = 1000  # the document reached its terminal event
    INTERNAL_ERROR = 1011  # a fault in the gateway on this connection: reconnect with the cursor
    TRY_AGAIN = 1013  # the read model or Kafka is unavailable for a moment: reconnect later
    RECONNECT = 4000  # connection lifetime reached: reconnect with ?after=<cursor>
    TOO_SLOW = 4008  # the client could not keep up (lifecycle events would have been lost)
    BAD_REQUEST = 4400  # a cursor or message the gateway cannot read
    UNAUTHORIZED = 4401
    NOT_FOUND = 4404  # no such document, someone else's, or deleted: all alike
    PING_TIMEOUT = 4408  # the client did not answer the server's ping
    CURSOR_EXPIRED = 4410  # the cursor is older than the topic's retention: reload, then watch
    USER_LIMIT = 4429  # this user holds too many connections
    GATEWAY_FULL = 4503  # this gateway holds its maximum of connections (try another)


class Position(BaseModel):
    partition: int
    offset: int


class SnapshotMessage(BaseModel):
    """``/ws/documents/{id}`` first: the read model's state (null while not folded yet)."""

    type: Literal["snapshot"] = "snapshot"
    document: dict[str, Any] | None
    cursor: str | None = Field(None, description="resume point just after this state")


class ReadyMessage(BaseModel):
    """``/ws/documents`` first: the stream is live from ``cursor`` on."""

    type: Literal["ready"] = "ready"
    cursor: str


class EventMessage(BaseModel):
    """One event of documents.events (a CloudEvent), in order per document, none twice."""

    type: Literal["event"] = "event"
    cursor: str
    position: Position
    event: dict[str, Any] = Field(description="the CloudEvent as on documents.events")


class PingMessage(BaseModel):
    """Sent by the server on an idle connection (answer with any message, e.g. ``pong``);
    also a client's keep-alive."""

    type: Literal["ping"] = "ping"


class PongMessage(BaseModel):
    type: Literal["pong"] = "pong"


class CancelRequestedMessage(BaseModel):
    """The answer to a client's ``cancel``: the command is on documents.commands."""

    type: Literal["cancel_requested"] = "cancel_requested"
    document_id: str


class ErrorMessage(BaseModel):
    """Why the server is closing, or why a client message was refused (connection stays)."""

    type: Literal["error"] = "error"
    reason: str
    document_id: str | None = None


class CancelCommand(BaseModel):
    """Client to server: cancel a document (on ``/ws/documents/{id}`` the id may be left out)."""

    type: Literal["cancel"] = "cancel"
    document_id: str | None = None


SERVER_MESSAGES: tuple[type[BaseModel], ...] = (
    SnapshotMessage,
    ReadyMessage,
    EventMessage,
    PingMessage,
    PongMessage,
    CancelRequestedMessage,
    ErrorMessage,
)
CLIENT_MESSAGES: tuple[type[BaseModel], ...] = (CancelCommand, PingMessage, PongMessage)
