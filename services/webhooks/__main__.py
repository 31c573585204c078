"""Run the webhooks deliverer: ``python -m services.webhooks``."""

import uvicorn

from services.webhooks.app import create_app
from services.webhooks.settings import WebhooksSettings
from shared import logs, tracing


def main() -> None:
    settings = WebhooksSettings()  # values come from the environment
    logs.configure("webhooks", level=settings.log_level, json_format=settings.log_json)
    tracing.configure("webhooks", settings.otlp_endpoint)
    # SIGTERM: uvicorn stops serving, then the lifespan stops the consumer (see app.py).
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.web_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
