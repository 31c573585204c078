"""Run ingest: ``python -m services.ingest``."""

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from shared.web_service import serve


def main() -> None:
    settings = IngestSettings()  # values come from the environment
    serve("ingest", settings, create_app, port=settings.port)


if __name__ == "__main__":
    main()
