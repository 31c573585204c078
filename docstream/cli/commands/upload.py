"""``docstream upload FILE...``: upload files; with ``--watch``, follow each to its end.

Each file is uploaded and followed on its own, a few at a time, so one refused or failed
file does not stop the others; the exit code is the highest of the files' codes.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from docstream.cli.commands import Subparsers
from docstream.cli.commands.watch import follow, timeout_option
from docstream.cli.config import CliConfig
from docstream.cli.exits import OK, USAGE, classify
from docstream.cli.output import Output
from docstream.cli.progress import Display
from docstream.cli.user import fail, guarded, json_option, open_client
from docstream.client import AsyncClient

#: Files handled at once: each watched one holds a gateway connection (50 per user at most).
CONCURRENCY = 8


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("upload", help="upload files (--watch: follow them to the end)")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--watch", action="store_true", help="progress bars; wait for the end")
    parser.add_argument("--no-analyze", action="store_true", help="extract only, no analysis")
    parser.add_argument("--language", help="the documents' language, when known (e.g. en)")
    parser.add_argument("--ocr-languages", help="Tesseract languages for scans (e.g. eng+fra)")
    parser.add_argument(
        "--password",
        action="store_true",
        help="ask for the PDFs' password (read from stdin when it is not a terminal)",
    )
    timeout_option(parser)
    json_option(parser)
    parser.set_defaults(run=guarded(run))


def _unusable(path: Path) -> str | None:
    """Why ``path`` cannot be uploaded, or None: it must be a regular file this process can
    open (a FIFO or a device is refused before it is opened: that could block)."""
    try:
        if not path.exists():
            return "no such file"
        if path.is_dir():
            return "is a directory"
        if not path.is_file():
            return "not a regular file"
        with path.open("rb"):
            return None
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"


def _password() -> str:
    # Never an argument's value: it would show in `ps` and the shell's history.
    if sys.stdin.isatty():
        return getpass.getpass("PDF password: ")
    return sys.stdin.readline().rstrip("\n")


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    # Every file is checked before anything is uploaded: a typo in the last of ten files
    # is a usage error, not nine uploads and an error (nor "unreachable" for a file).
    unusable = [(path, why) for path in args.files if (why := _unusable(path))]
    for path, why in unusable:
        fail(str(path), why)
    if unusable:
        return USAGE
    options: dict[str, Any] = {
        "analyze": False if args.no_analyze else None,
        "language": args.language,
        "ocr_languages": args.ocr_languages,
        "password": await asyncio.to_thread(_password) if args.password else None,
    }
    limit = asyncio.Semaphore(CONCURRENCY)
    async with open_client(cfg) as client:
        with Display.open() as display:

            async def one(path: Path) -> dict[str, Any]:
                async with limit:
                    return await _one(client, display, path, options, args)

            rows = await asyncio.gather(*(one(path) for path in args.files))
    out.rows(rows, ["id", "status", "file", "reason"])
    return max(int(row["code"]) for row in rows)


async def _one(
    client: AsyncClient,
    display: Display,
    path: Path,
    options: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    row: dict[str, Any] = {"id": None, "status": None, "file": str(path), "reason": None}
    try:
        accepted = await client.upload(path, **options)
        row.update(id=accepted.id, status=accepted.status, code=OK)
        if args.watch:
            doc = await follow(
                client, accepted, display.track(f"{path.name} {accepted.id}"), args.timeout
            )
            row["status"] = doc.status
    except Exception as exc:
        outcome = classify(exc)
        if outcome is None:
            raise
        row.update(status=outcome.status, reason=outcome.message, code=outcome.code)
        fail(f"{path} ({row['id']})" if row["id"] else str(path), outcome.message)
    return row
