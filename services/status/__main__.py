"""Run status: ``python -m services.status``; ``python -m services.status rebuild`` refolds the
read model from documents.events into a fresh database and switches to it."""

import sys

import uvicorn

from services.status.app import create_app
from services.status.settings import StatusSettings
from shared import logs, tracing


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        from services.status.rebuild import main as rebuild

        raise SystemExit(rebuild(sys.argv[2:]))
    settings = StatusSettings()  # values come from the environment
    logs.configure("status", level=settings.log_level, json_format=settings.log_json)
    tracing.configure("status", settings.otlp_endpoint)
    # SIGTERM: uvicorn stops serving, then the lifespan stops the timers and the consumer (a
    # batch under way is cancelled and not committed) and closes the rest (see app.py).
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.web_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
