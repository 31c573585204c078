"""Network faults between the client and the gateway, for the client's tests: a TCP proxy that
drops a connection mid-stream (what the client sees as a 1006), and a port that accepts
connections and never answers (a hung gateway, or a black-holed address)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


class CuttingProxy:
    """Forwards TCP to ``127.0.0.1:upstream``. The first time the server sends bytes holding
    ``cut_at`` (its frames are unmasked, so an event's JSON is plain in them), those bytes are
    dropped and both sides are aborted: the client's connection ends without a close frame.
    Later connections wait for ``hold()`` (run in a worker thread) before they are forwarded,
    so a test decides what happened in the gap."""

    def __init__(self, upstream: int, cut_at: bytes, hold: Callable[[], None]) -> None:
        self.upstream = upstream
        self.cut_at = cut_at
        self.hold = hold
        self.cut = threading.Event()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.cut.is_set():
            await asyncio.to_thread(self.hold)
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(
            self._pipe(client_r, server_w, None),
            self._pipe(server_r, client_w, server_w),
        )

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter | None,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if other is not None and not self.cut.is_set() and self.cut_at in data:
                    self.cut.set()
                    writer.transport.abort()
                    other.transport.abort()
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


@contextmanager
def blackhole() -> Iterator[str]:
    """``ws://`` address of a port that accepts TCP connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
