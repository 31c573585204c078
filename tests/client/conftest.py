"""The client is tested against the running pipeline: the integration tests' stack fixture."""

from tests.integration.conftest import pipeline

__all__ = ["pipeline"]
