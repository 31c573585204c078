"""``docstream watch ID``: a document's progress until it finishes; the exit code says how.

:func:`follow` is also what ``upload --watch`` does for each file.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import aclosing

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.exits import OK
from docstream.cli.output import Output
from docstream.cli.progress import Display, Tracker
from docstream.cli.user import guarded, json_option, open_client
from docstream.client import AsyncClient, WaitTimeoutError
from services.ingest.read_schemas import DocumentView
from services.ingest.schemas import UploadAccepted

#: Long enough for a large scanned PDF; scripts that want less pass --timeout.
DEFAULT_TIMEOUT_S = 3600.0


def timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"give up waiting after S seconds (default {DEFAULT_TIMEOUT_S:.0f})",
    )


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("watch", help="follow a document until it finishes")
    parser.add_argument("id", help="the document's id")
    timeout_option(parser)
    json_option(parser)
    parser.set_defaults(run=guarded(run))


async def follow(
    client: AsyncClient, document: str | UploadAccepted, tracker: Tracker, timeout_s: float
) -> DocumentView:
    """The finished document, its events shown on ``tracker`` meanwhile; raises as
    ``wait()`` does (failed with its reason, cancelled, timed out)."""
    document_id = document if isinstance(document, str) else document.id
    deadline = time.monotonic() + timeout_s
    limit = asyncio.timeout(timeout_s)
    try:
        async with limit, aclosing(client.watch(document)) as events:
            async for event in events:
                tracker.update(event)
    except TimeoutError:
        # Only --timeout is exit 8; a gateway that cannot be reached (refused, or not
        # answering within the client's timeout) is UnreachableError: exit 6.
        if not limit.expired():
            raise
        raise WaitTimeoutError(document_id, timeout_s, None) from None
    # The watch says how it ended (and nothing when it had ended already); wait() reads the
    # outcome from the read model, which may trail the terminal event by a moment.
    return await client.wait(document_id, timeout_s=max(1.0, deadline - time.monotonic()))


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    # A failure, a cancel or a timeout raises: ``guarded`` prints it and returns its code.
    async with open_client(cfg) as client:
        with Display.open() as display:
            doc = await follow(client, args.id, display.track(args.id), args.timeout)
    if out.as_json:
        out.data(doc.model_dump(mode="json"))
    else:
        print(f"{doc.id}  {doc.status}", file=out.stream)
    return OK
