"""What the user commands share: a client of the API built from the CLI's configuration, and
errors turned into an exit code and one line on stderr (a refused token is not a traceback)."""

from __future__ import annotations

import argparse
import functools
import sys

from docstream.cli.commands import Run
from docstream.cli.config import CliConfig, ConfigError
from docstream.cli.exits import classify
from docstream.cli.output import Output
from docstream.client import AsyncClient, DocstreamError


def open_client(cfg: CliConfig) -> AsyncClient:
    # The client would fall back to DOCSTREAM_TOKEN itself; the CLI's config file is the
    # other place a token may be, so the message names both.
    if not cfg.token:
        raise DocstreamError("no token: set DOCSTREAM_TOKEN or `token` in the config file")
    cfg.check_user_urls()
    return AsyncClient(cfg.url, cfg.token, ws_url=cfg.ws_url)


def fail(subject: str | None, message: str) -> None:
    print(
        f"docstream: {subject}: {message}" if subject else f"docstream: {message}", file=sys.stderr
    )


def guarded(run: Run) -> Run:
    """``run``, with the errors a user can meet mapped to their exit codes."""

    @functools.wraps(run)
    async def wrapper(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
        try:
            return await run(args, cfg, out)
        except ConfigError:
            raise  # main() prints it and exits 2, as for a bad config file
        except Exception as exc:
            outcome = classify(exc)
            if outcome is None:
                raise  # a bug: its traceback is what helps
            fail(getattr(args, "id", None), outcome.message)
            return outcome.code

    return wrapper


def json_option(parser: argparse.ArgumentParser) -> None:
    """``--json`` after the command too (``get ID --json``); SUPPRESS leaves the root's
    ``--json`` in place when it is not given here."""
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON (scripts)"
    )
