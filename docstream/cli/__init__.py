"""The ``docstream`` command: one parser, one module per command group.

Each module in :data:`COMMANDS` adds its subcommand(s) with ``register(subparsers)`` and sets
``run`` (an ``async`` function of the parsed arguments, the configuration and the output) as
the parser's default. A new command (issue 13's user commands) is one more module in the list.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from docstream.cli.commands import active, dlq, lag, purge, stats, token
from docstream.cli.config import CliConfig, ConfigError
from docstream.cli.output import Output

COMMANDS = (lag, active, stats, dlq, purge, token)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="docstream", description="Operate a docstream system.")
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
        return 2
    except KeyboardInterrupt:
        return 130
    return code
