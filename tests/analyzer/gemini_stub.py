"""A local stand-in for the Gemini REST API (``POST /v1beta/models/{model}:generateContent``).

Runs a stdlib HTTP server on 127.0.0.1 in a background thread. Each test scripts the replies
(``push``); when the script is empty the stub answers with a valid analysis. Every request is
recorded with its arrival time, so tests and the benchmark can count calls.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/(?P<version>v1|v1beta)/models/(?P<model>[^/:]+):generateContent$")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Recorded:
    at: float  # time.time() on arrival
    path: str
    model: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        parts = self.body.get("contents", [{}])[0].get("parts", [])
        return "".join(p.get("text", "") for p in parts)


def analysis(
    summary: str = "A short summary of the document.",
    *,
    key_points: list[str] | None = None,
    label: str = "neutral",
    score: float = 0.0,
    topics: list[str] | None = None,
    language: str = "en",
) -> dict[str, Any]:
    return {
        "summary": summary,
        "key_points": key_points if key_points is not None else ["A key point."],
        "sentiment": {"label": label, "score": score},
        "topics": topics if topics is not None else ["documents"],
        "language": language,
    }


def ok_text(
    text: str, *, prompt_tokens: int = 100, output_tokens: int = 20, finish: str = "STOP"
) -> Reply:
    """A 200 answer whose model output is ``text`` verbatim."""
    return Reply(
        body={
            "candidates": [
                {
                    "content": {"parts": [{"text": text}], "role": "model"},
                    "finishReason": finish,
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": "stub",
        }
    )


def ok(
    result: dict[str, Any] | None = None, *, prompt_tokens: int = 100, output_tokens: int = 20
) -> Reply:
    return ok_text(
        json.dumps(result if result is not None else analysis()),
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )


def error(
    status: int,
    rpc_status: str,
    message: str = "stub error",
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    body = {"error": {"code": status, "message": message, "status": rpc_status}}
    if details:
        body["error"]["details"] = details
    return Reply(status=status, body=body, headers=headers or {})


def rate_limited(retry_delay: str | None = "7s", *, retry_after: str | None = None) -> Reply:
    details = (
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
        if retry_delay is not None
        else None
    )
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return error(429, "RESOURCE_EXHAUSTED", "quota exceeded", details=details, headers=headers)


def prompt_blocked(reason: str = "SAFETY") -> Reply:
    return Reply(
        body={
            "promptFeedback": {"blockReason": reason},
            "usageMetadata": {"promptTokenCount": 50, "totalTokenCount": 50},
        }
    )


def answer_blocked(finish: str = "SAFETY") -> Reply:
    return Reply(
        body={
            "candidates": [{"finishReason": finish, "index": 0}],
            "usageMetadata": {"promptTokenCount": 50, "totalTokenCount": 50},
        }
    )


class GeminiStub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> GeminiStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GeminiStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            return self._script.popleft() if self._script else ok()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Buffered: headers and body leave in one segment, so the client does not wait
            # for a delayed ACK between them (40 ms per call otherwise).
            wbufsize = 1 << 16

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                match = _PATH.match(self.path.split("?")[0])
                if not match:
                    not_found = {"code": 404, "status": "NOT_FOUND", "message": self.path}
                    self._send(Reply(404, {"error": not_found}))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                reply = stub._next(
                    Recorded(
                        time.time(),
                        self.path,
                        match.group("model"),
                        body,
                        {k.lower(): v for k, v in self.headers.items()},
                    )
                )
                if reply.delay_s and stub._stopping.wait(reply.delay_s):
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                payload = (
                    reply.body.encode()
                    if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a hard time limit): nothing to tell it

        return Handler
