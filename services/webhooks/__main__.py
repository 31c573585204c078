"""Run the webhooks deliverer: ``python -m services.webhooks``."""

from services.webhooks.app import create_app
from services.webhooks.settings import WebhooksSettings
from shared.web_service import serve


def main() -> None:
    settings = WebhooksSettings()  # values come from the environment
    serve("webhooks", settings, create_app, port=settings.web_port)


if __name__ == "__main__":
    main()
