"""Exit codes of the user commands, and which error means which.

Scripts branch on these, so they are part of the interface: documented in ``--help`` (from
:data:`HELP`) and in the README, and never renumbered.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from websockets.exceptions import InvalidHandshake, InvalidURI

from docstream.client import (
    ApiError,
    DocstreamError,
    DocumentCancelledError,
    DocumentFailedError,
    UnreachableError,
    WaitTimeoutError,
)

OK = 0
FAILED = 1
#: argparse's own code for bad arguments; a bad config file is a usage error too.
USAGE = 2
CANCELLED = 3
AUTH = 4
NOT_FOUND = 5
UNREACHABLE = 6
REFUSED = 7
TIMEOUT = 8
INTERRUPTED = 130

HELP = f"""\
exit codes:
  {OK}    done (uploads: accepted, or completed with --watch)
  {FAILED}    a document failed (its reason is printed)
  {USAGE}    usage error: bad arguments, an unreadable file, a bad config or URL
  {CANCELLED}    a document was cancelled
  {AUTH}    no token, or the token was refused (401/403)
  {NOT_FOUND}    no such document (404)
  {UNREACHABLE}    the system is unreachable or unavailable (refused, not answering, 5xx)
  {REFUSED}    the API refused the request (e.g. too_large, already_finished)
  {TIMEOUT}    --timeout passed before the document finished
  with several files, the highest code of theirs"""


@dataclass(frozen=True)
class Outcome:
    code: int
    #: One word for a table's status column: failed, cancelled, refused, unreachable...
    status: str
    message: str


def classify(exc: BaseException) -> Outcome | None:
    """The exit code and message for an error of a user command; None when it is a bug."""
    if isinstance(exc, DocumentFailedError):
        stage = f" in {exc.stage}" if exc.stage else ""
        return Outcome(FAILED, "failed", f"failed{stage}: {exc.reason}: {exc.message}")
    if isinstance(exc, DocumentCancelledError):
        return Outcome(CANCELLED, "cancelled", "cancelled")
    if isinstance(exc, WaitTimeoutError):
        return Outcome(
            TIMEOUT, "timeout", f"not finished in time (last status: {exc.status or '-'})"
        )
    if isinstance(exc, ApiError):
        code = _api_code(exc.status)
        return Outcome(code, _STATUS[code], f"{exc.status} {exc.reason}: {exc.detail}")
    if isinstance(exc, UnreachableError):  # a DocstreamError, but not about the token
        return Outcome(UNREACHABLE, _STATUS[UNREACHABLE], f"unreachable: {exc}")
    if isinstance(exc, DocstreamError):  # the client's own refusal: no token
        return Outcome(AUTH, _STATUS[AUTH], str(exc))
    # Before OSError: the handshake errors are not, but a refused connection is one.
    if isinstance(exc, InvalidURI):
        return Outcome(USAGE, "usage", f"bad WebSocket URL: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Outcome(USAGE, "usage", f"bad URL: {exc}")
    # An OSError that names a file is about a local file (a connection's names none): one
    # that became unreadable, or went away, after upload checked it.
    if isinstance(exc, OSError) and exc.filename is not None:
        return Outcome(USAGE, "usage", f"cannot read {exc.filename}: {exc.strerror or exc}")
    if isinstance(exc, InvalidHandshake | httpx.TransportError | OSError | TimeoutError):
        return Outcome(
            UNREACHABLE, _STATUS[UNREACHABLE], f"unreachable: {exc or type(exc).__name__}"
        )
    return None


_STATUS = {
    AUTH: "unauthorized",
    NOT_FOUND: "not_found",
    UNREACHABLE: "unreachable",
    REFUSED: "refused",
}


def _api_code(status: int) -> int:
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status >= 500:
        return UNREACHABLE
    return REFUSED
