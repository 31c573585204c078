"""The two exceptions :class:`~.pool.ExtractorPool` raises; anything else is a bug."""

from __future__ import annotations

from shared.reasons import ReasonCode


class ExtractionError(Exception):
    """The document could not be extracted, for a reason a user can be told.

    ``reason`` is the machine-readable code (a metrics label, an API field); ``message`` says
    the same in words, with the figures that matter (the limit, the page count, ...).
    """

    def __init__(self, reason: ReasonCode, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class ExtractionCancelled(Exception):  # noqa: N818 - the name is the agent's API
    """The extraction was stopped on request (or the pool closed) before it finished."""
