"""Run status: ``python -m services.status``; ``python -m services.status rebuild`` refolds the
read model from documents.events into a fresh database and switches to it."""

import sys

from services.status.agent import build
from services.status.settings import StatusSettings
from shared.stream_app import run_worker


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        from services.status.rebuild import main as rebuild

        raise SystemExit(rebuild(sys.argv[2:]))
    settings = StatusSettings()  # values come from the environment
    run_worker(build(settings), "status", settings)


if __name__ == "__main__":
    main()
