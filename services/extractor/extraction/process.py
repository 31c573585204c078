"""The parent's handle on one worker process: start it, feed it, read its frames, kill it.

Frames are cut out of the pipe in the loop's data callback (an ``asyncio.SubprocessProtocol``),
not by a reader coroutine, and during a job they are handed on right there to the job's
consumer (:meth:`WorkerProcess.consume`): no coroutine wakes up per frame, which keeps the
service's own CPU use per page small (it shares the cores with the workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

# psutil ships no type hints; the second code keeps this quiet once types-psutil is added.
import psutil  # type: ignore[import-untyped, unused-ignore]

from . import protocol

Frame = tuple[protocol.Header, bytes]
# Called with each frame as it arrives, and with None once the stream has ended.
Consumer = Callable[[Frame | None], None]

STARTUP_TIMEOUT_S = 60.0
_EXIT_WAIT_S = 5.0
_PACKAGE = __name__.rpartition(".")[0]
_WORKER_MODULE = f"{_PACKAGE}.worker"
# The directory holding the top-level package, so the child imports the same code as we do.
_IMPORT_ROOT = Path(__file__).resolve().parents[len(_PACKAGE.split("."))]


class WorkerStartError(RuntimeError):
    pass


class WorkerProcess:
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.pid = 0
        self.broken = False  # it sent something that is not our protocol
        self.rss_mb = 0.0
        self.vms_mb = 0.0
        self.next_memory_check = 0.0
        self._transport: asyncio.SubprocessTransport | None = None
        self._frames: deque[Frame] = deque()
        self._consumer: Consumer | None = None
        self._ended = False  # its stdout closed: it died, or is about to
        self._waiter: asyncio.Future[None] | None = None
        self._exited: asyncio.Future[int] = loop.create_future()
        self._ps: psutil.Process | None = None

    @classmethod
    async def spawn(cls, address_space_mb: int) -> WorkerProcess:
        worker = cls()
        transport, _ = await asyncio.get_running_loop().subprocess_exec(
            lambda: _FrameProtocol(worker),
            sys.executable,
            "-m",
            _WORKER_MODULE,
            "--address-space-mb",
            str(address_space_mb),
            "--parent-pid",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the worker's log lines go where ours go
            env=_child_environment(),
        )
        worker._transport = transport
        worker.pid = transport.get_pid()
        try:
            try:
                frame = await worker.next_frame(STARTUP_TIMEOUT_S)
            except TimeoutError as exc:
                raise WorkerStartError(
                    f"extractor worker {worker.pid} not ready after {STARTUP_TIMEOUT_S:g} s"
                ) from exc
            if frame is None or frame[0]["k"] != protocol.READY:
                raise WorkerStartError(f"extractor worker {worker.pid} died while starting")
        except BaseException:
            worker.kill()
            await worker.reap()
            raise
        return worker

    @property
    def alive(self) -> bool:
        return not (self._ended or self.broken or self._exited.done())

    @property
    def exited(self) -> bool:
        return self._exited.done()

    async def next_frame(self, max_wait_s: float) -> Frame | None:
        """The next frame, or None once the stream has ended; TimeoutError after ``max_wait_s``."""
        if self._frames:
            return self._frames.popleft()
        if self._ended:
            return None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(max_wait_s, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._frames:
            return self._frames.popleft()
        if self._ended:
            return None
        raise TimeoutError

    def consume(self, consumer: Consumer | None) -> None:
        """From now on, hand each frame to ``consumer`` as it arrives (those already queued
        first), and None once the stream has ended; None: queue them for :meth:`next_frame`
        again. ``consumer`` runs in the pipe's data callback: it must not raise."""
        self._consumer = consumer
        while consumer is not None and self._consumer is consumer and self._frames:
            consumer(self._frames.popleft())
        if consumer is not None and self._consumer is consumer and self._ended:
            consumer(None)

    def send(self, header: protocol.Header) -> None:
        """Queue a frame for the worker; a dead worker shows as the end of its stream."""
        assert self._transport is not None
        stdin = self._transport.get_pipe_transport(0)
        if isinstance(stdin, asyncio.WriteTransport) and not stdin.is_closing():
            stdin.write(protocol.encode(header))

    def sample_memory(self) -> float:
        """Resident memory in MiB (0 once the process is gone); also keeps the last sample."""
        try:
            if self._ps is None:
                self._ps = psutil.Process(self.pid)
            info = self._ps.memory_info()
        except psutil.Error:
            return 0.0
        self.rss_mb, self.vms_mb = info.rss / 2**20, info.vms / 2**20
        return self.rss_mb

    def kill(self) -> None:
        if self._transport is not None and not self._exited.done():
            with contextlib.suppress(ProcessLookupError):
                self._transport.kill()

    async def exit_code(self) -> int:
        """Exit status once the stream ended (negative: killed by that signal)."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._exited), _EXIT_WAIT_S)
        except TimeoutError:
            self.kill()
            return await self._exited

    async def reap(self) -> None:
        """Wait for the (killed) process to be gone and release its pipes."""
        if self._transport is None:
            return
        await asyncio.shield(self._exited)
        self._transport.close()

    # --- called by the protocol ---

    def _push(self, frame: Frame) -> None:
        if self._consumer is not None:
            self._consumer(frame)
            return
        self._frames.append(frame)
        self._wake_reader()

    def _end(self, *, broken: bool = False) -> None:
        self.broken = self.broken or broken
        self._ended = True
        self._wake_reader()
        if broken:
            self.kill()
        if self._consumer is not None:
            self._consumer(None)

    def _process_exited(self, code: int) -> None:
        # Not the end of the stream: frames it wrote before exiting may still be in the pipe.
        if not self._exited.done():
            self._exited.set_result(code)

    def _wake_reader(self) -> None:
        if self._waiter is not None:
            _wake(self._waiter)


class _FrameProtocol(asyncio.SubprocessProtocol):
    def __init__(self, worker: WorkerProcess) -> None:
        self._worker = worker
        self._transport: asyncio.SubprocessTransport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1 or self._worker.broken:
            return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= protocol.PREFIX.size:
            header_len, body_len = protocol.PREFIX.unpack_from(buffer)
            if header_len + body_len > protocol.MAX_FRAME_BYTES:
                self._worker._end(broken=True)
                return
            end = protocol.PREFIX.size + header_len + body_len
            if len(buffer) < end:
                return
            try:
                header = protocol.decode_header(buffer[protocol.PREFIX.size : end - body_len])
            except ValueError:  # includes JSON and Unicode decoding errors
                self._worker._end(broken=True)
                return
            body = bytes(buffer[end - body_len : end])
            del buffer[:end]
            self._worker._push((header, body))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._worker._end()

    def process_exited(self) -> None:
        assert self._transport is not None
        code = self._transport.get_returncode()
        self._worker._process_exited(code if code is not None else -1)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    python_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(_IMPORT_ROOT) + (os.pathsep + python_path if python_path else "")
    return env
