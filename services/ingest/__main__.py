"""Run ingest: ``python -m services.ingest``."""

import uvicorn

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from shared import logs, tracing


def main() -> None:
    settings = IngestSettings()  # values come from the environment
    logs.configure("ingest", level=settings.log_level, json_format=settings.log_json)
    tracing.configure("ingest", settings.otlp_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
