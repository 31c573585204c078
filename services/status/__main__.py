"""Run status: ``python -m services.status``."""

from services.status.agent import build
from services.status.settings import StatusSettings
from shared.stream_app import run_worker


def main() -> None:
    settings = StatusSettings()  # values come from the environment
    run_worker(build(settings), "status", settings)


if __name__ == "__main__":
    main()
