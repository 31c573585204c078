"""Run the extractor: ``python -m services.extractor``."""

from services.extractor.agent import build
from services.extractor.settings import ExtractorSettings
from shared.web_service import serve


def main() -> None:
    settings = ExtractorSettings()  # values come from the environment
    # asyncio's own loop, not uvloop: the worker pool's pipes are asyncio subprocess
    # transports (services/extractor/extraction/process.py), tested on that loop.
    serve("extractor", settings, build, port=settings.web_port, loop="asyncio")


if __name__ == "__main__":
    main()
