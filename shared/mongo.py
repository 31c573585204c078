"""MongoDB access shared by the services (PyMongo's async API, the successor of Motor).

Works on MongoDB and on FerretDB 1.24: no transactions, change streams, TTL indexes, $lookup
or $facet are used anywhere.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

Doc = dict[str, Any]


def connect(url: str, *, app_name: str) -> AsyncMongoClient[Doc]:
    return AsyncMongoClient(url, appname=app_name, tz_aware=True, serverSelectionTimeoutMS=5000)


async def wait_for_mongo(url: str, *, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        client: AsyncMongoClient[Doc] = AsyncMongoClient(url, serverSelectionTimeoutMS=1000)
        try:
            await client.admin.command("ping")
            return
        except PyMongoError as exc:
            last = exc
            await asyncio.sleep(0.2)
        finally:
            await client.close()
    raise TimeoutError(f"MongoDB at {url} not ready after {timeout_s}s: {last!r}")


def public_view(doc: Doc) -> Doc:
    """The read-model document as the API shows it: ``id`` instead of ``_id``, no internals,
    JSON-ready (datetimes as ISO 8601 strings)."""
    view = {k: _jsonable(v) for k, v in doc.items() if not k.startswith("_")}
    view["id"] = doc["_id"]
    return view


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
