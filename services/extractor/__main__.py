"""Run the extractor: ``python -m services.extractor``."""

from services.extractor.agent import build
from services.extractor.settings import ExtractorSettings
from shared.stream_app import run_worker


def main() -> None:
    settings = ExtractorSettings()  # values come from the environment
    run_worker(build(settings), "extractor", settings)


if __name__ == "__main__":
    main()
