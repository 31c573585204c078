"""The user commands are tested against the running pipeline: the integration tests' fixture."""

from tests.integration.conftest import pipeline

__all__ = ["pipeline"]
