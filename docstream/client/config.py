"""Where the API and the gateway are, and the credential: arguments first, then environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from docstream.client.errors import DocstreamError

DEFAULT_URL = "http://127.0.0.1:8000"
#: The gateway of a local ``make run``; an upload's answer names the real one (``ws_url``).
DEFAULT_WS_URL = "ws://127.0.0.1:8001"


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: str
    ws_url: str
    timeout_s: float = 30.0

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        token: str | None = None,
        ws_url: str | None = None,
        timeout_s: float = 30.0,
    ) -> ClientConfig:
        token = token or os.environ.get("DOCSTREAM_TOKEN")
        if not token:
            raise DocstreamError("no token: pass token= or set DOCSTREAM_TOKEN")
        return cls(
            url=(url or os.environ.get("DOCSTREAM_URL") or DEFAULT_URL).rstrip("/"),
            token=token,
            ws_url=(ws_url or os.environ.get("DOCSTREAM_WS_URL") or DEFAULT_WS_URL).rstrip("/"),
            timeout_s=timeout_s,
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def watch_url(self, document_id: str, generation: int | None = None) -> str:
        url = f"{self.ws_url}/ws/documents/{document_id}"
        return f"{url}?generation={generation}" if generation is not None else url
