"""Run the webhooks deliverer: ``python -m services.webhooks``."""

from services.webhooks.agent import build
from services.webhooks.settings import WebhooksSettings
from shared.stream_app import run_worker


def main() -> None:
    settings = WebhooksSettings()  # values come from the environment
    run_worker(build(settings), "webhooks", settings)


if __name__ == "__main__":
    main()
