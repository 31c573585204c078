"""``docstream get``, ``ls``, ``text``, ``cancel``: one document, your documents, a text,
a cancel. Thin over the client: the API's answers, shown as a table or as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig
from docstream.cli.exits import OK
from docstream.cli.output import Output
from docstream.cli.user import guarded, json_option, open_client

#: What ``get`` shows without --json (the full document is in its JSON), dotted paths.
GET_FIELDS = (
    "id",
    "status",
    "generation",
    "filename",
    "size",
    "created_at",
    "extraction.detected_type",
    "extraction.pages",
    "extraction.words",
    "extraction.language",
    "error.stage",
    "error.reason",
    "error.message",
    "analysis.summary",
)


def register(sub: Subparsers) -> None:
    get = sub.add_parser("get", help="a document: status, pages, language, analysis")
    get.add_argument("id", help="the document's id")
    json_option(get)
    get.set_defaults(run=guarded(run_get))

    ls = sub.add_parser("ls", help="your documents, newest first")
    ls.add_argument("--status", help="only these: queued, extracting, completed, failed...")
    ls.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    json_option(ls)
    ls.set_defaults(run=guarded(run_ls))

    text = sub.add_parser("text", help="a document's extracted text")
    text.add_argument("id", help="the document's id")
    text.set_defaults(run=guarded(run_text))

    cancel = sub.add_parser("cancel", help="stop a document's processing")
    cancel.add_argument("id", help="the document's id")
    json_option(cancel)
    cancel.set_defaults(run=guarded(run_cancel))


def _at(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


async def run_get(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    async with open_client(cfg) as client:
        doc = (await client.get(args.id)).model_dump(mode="json")
    if out.as_json:
        out.data(doc)
        return OK
    shown = {path: _at(doc, path) for path in GET_FIELDS}
    width = max(len(path) for path in shown)
    for path, value in shown.items():
        if value is not None:
            print(f"{path.ljust(width)}  {value}", file=out.stream)
    return OK


async def run_ls(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    filters = {"status": args.status} if args.status else {}
    rows: list[dict[str, Any]] = []
    async with open_client(cfg) as client:
        # The API's pages hold 200 at most; the client follows them, we stop at --limit.
        # (The generator left at --limit is closed by asyncio.run's shutdown of generators.)
        async for item in client.list(page_size=max(1, min(args.limit, 200)), **filters):
            if len(rows) >= args.limit:
                break
            rows.append(item.model_dump(mode="json"))
    out.rows(rows, ["id", "status", "filename", "created_at"])
    return OK


async def run_text(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    async with open_client(cfg) as client:
        text = await client.text(args.id)
    out.stream.write(text)
    if text and not text.endswith("\n"):
        out.stream.write("\n")
    out.stream.flush()
    return OK


async def run_cancel(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    async with open_client(cfg) as client:
        accepted = await client.cancel(args.id)
    # 202: requested; the document ends `cancelled` shortly (see: docstream watch ID).
    out.message(f"{accepted.id}  {accepted.status}", id=accepted.id, status=accepted.status)
    return OK
