"""The ``docstream`` command: one parser, one module per command group.

User commands (``upload``, ``watch``, ``get``, ``ls``, ``text``, ``cancel``) speak the REST API
and the gateway with a token; operator commands read Kafka, the read model and ``/metrics``.

Each module in :data:`COMMANDS` adds its subcommand(s) with ``register(subparsers)`` and sets
``run`` (an ``async`` function of the parsed arguments, the configuration and the output) as
the parser's default. A new command (issue 13's user commands) is one more module in the list.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from docstream.cli import exits
from docstream.cli.commands import active, dlq, documents, lag, purge, stats, token, upload, watch
from docstream.cli.config import CliConfig, ConfigError
from docstream.cli.output import Output

#: In ``--help``'s order: what users do first, then what operators do.
USER_COMMANDS = (upload, watch, documents)
OPERATOR_COMMANDS = (lag, active, stats, dlq, purge, token)
COMMANDS = USER_COMMANDS + OPERATOR_COMMANDS

DESCRIPTION = """\
Use and operate a docstream system.

user commands (upload .. cancel) need DOCSTREAM_URL and DOCSTREAM_TOKEN (or `url` and `token`
in the config file); operator commands (lag .. token) read Kafka, the read model and /metrics."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="docstream",
        description=DESCRIPTION,
        epilog=exits.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--json", action="store_true", help="JSON instead of tables (scripts)")
    root.add_argument("--config", help="config file (default ~/.config/docstream/config.toml)")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Output(as_json=args.json)
    try:
        cfg = CliConfig.load(args.config)
        code: int = asyncio.run(args.run(args, cfg, out))
    except ConfigError as exc:
        print(f"docstream: {exc}", file=sys.stderr)
        return exits.USAGE
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    return code
