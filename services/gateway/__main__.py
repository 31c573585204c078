"""Run the gateway: ``python -m services.gateway``."""

import resource

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.web_service import serve


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
    serve(
        "gateway",
        settings,
        create_app,
        port=settings.port,
        ws="websockets-sansio",
        # Events are a few hundred bytes: compressing each cost more CPU per delivery than
        # the bytes it saved are worth on any network a gateway serves.
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
