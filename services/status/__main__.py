"""Run status: ``python -m services.status``; ``python -m services.status rebuild`` refolds the
read model from documents.events into a fresh database and switches to it."""

import sys

from services.status.app import create_app
from services.status.settings import StatusSettings
from shared.web_service import serve


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        from services.status.rebuild import main as rebuild

        raise SystemExit(rebuild(sys.argv[2:]))
    settings = StatusSettings()  # values come from the environment
    serve("status", settings, create_app, port=settings.web_port)


if __name__ == "__main__":
    main()
