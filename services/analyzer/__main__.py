"""Run the analyzer: ``python -m services.analyzer``."""

from services.analyzer.agent import build
from services.analyzer.settings import AnalyzerSettings
from shared.stream_app import run_worker


def main() -> None:
    settings = AnalyzerSettings()  # values come from the environment
    run_worker(build(settings), "analyzer", settings)


if __name__ == "__main__":
    main()
