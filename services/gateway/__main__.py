"""Run the gateway: ``python -m services.gateway``."""

import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared import logs, tracing


def main() -> None:
    settings = GatewaySettings()  # values come from the environment
    logs.configure("gateway", level=settings.log_level, json_format=settings.log_json)
    tracing.configure("gateway", settings.otlp_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
    )


if __name__ == "__main__":
    main()
