"""Run the gateway: ``python -m services.gateway``."""

import resource

import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared import logs, tracing


def _raise_open_file_limit() -> None:
    # Every client is a socket: a gateway holding thousands needs more than the usual soft
    # limit of 1,024 descriptors. The hard limit is the ceiling the system allows us.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = 65_536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))


def main() -> None:
    settings = GatewaySettings()  # values come from the environment
    _raise_open_file_limit()
    logs.configure("gateway", level=settings.log_level, json_format=settings.log_json)
    tracing.configure("gateway", settings.otlp_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        # Events are a few hundred bytes: compressing each cost more CPU per delivery than
        # the bytes it saved are worth on any network a gateway serves.
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
