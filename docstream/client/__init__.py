"""The docstream Python client, sync (:class:`Client`) and async (:class:`AsyncClient`).

Typed with the server's own models: events are :mod:`shared.events`' union, documents and
upload answers the API's schemas. Configured by arguments or ``DOCSTREAM_URL``,
``DOCSTREAM_TOKEN`` and ``DOCSTREAM_WS_URL``.
"""

from docstream.client.aio import AsyncClient
from docstream.client.config import ClientConfig
from docstream.client.errors import (
    ApiError,
    DocstreamError,
    DocumentCancelledError,
    DocumentFailedError,
    UnreachableError,
    WaitTimeoutError,
)
from docstream.client.sync import Client

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "ClientConfig",
    "DocstreamError",
    "DocumentCancelledError",
    "DocumentFailedError",
    "UnreachableError",
    "WaitTimeoutError",
]
