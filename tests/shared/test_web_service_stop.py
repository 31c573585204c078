"""A service whose stop hangs (a dependency that never answers) still exits once asked: the
stop deadline of shared/web_service.serve."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx

from deploy.launcher.config import REPO

_SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from shared import web_service
    from shared.settings import ServiceSettings

    web_service.STOP_DEADLINE_S = 1.0

    def create_app(settings):
        @asynccontextmanager
        async def lifespan(app):
            yield
            await asyncio.Event().wait()  # a stop that never ends

        app = FastAPI(lifespan=lifespan)

        @app.get("/up")
        async def up():
            return {}

        return app

    web_service.serve("hanging", ServiceSettings(), create_app, port=int(sys.argv[1]))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_service_whose_stop_hangs_exits_at_the_deadline() -> None:
    port = _free_port()
    env = {**os.environ, "DOCSTREAM_AUTH_SECRET": "test-secret-" + "x" * 32}
    proc = subprocess.Popen([sys.executable, "-c", _SERVICE, str(port)], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/up", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        assert proc.wait(timeout=15) == 1
        assert time.monotonic() - asked < 10
    finally:
        proc.kill()
        proc.wait()
