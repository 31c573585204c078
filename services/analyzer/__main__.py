"""Run the analyzer: ``python -m services.analyzer``."""

from services.analyzer.agent import build
from services.analyzer.settings import AnalyzerSettings
from shared.web_service import serve


def main() -> None:
    settings = AnalyzerSettings()  # values come from the environment
    serve("analyzer", settings, build, port=settings.web_port)


if __name__ == "__main__":
    main()
