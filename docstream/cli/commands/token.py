"""``docstream token``: mint a credential (needs DOCSTREAM_AUTH_SECRET)."""

from __future__ import annotations

import argparse

from docstream.cli.commands import Subparsers
from docstream.cli.config import CliConfig, ConfigError
from docstream.cli.output import Output
from shared.auth import issue_token


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("token", help="mint a credential for an owner")
    parser.add_argument("--owner", required=True)
    parser.add_argument("--ttl", type=int, default=None, help="seconds (default: no expiry)")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace, cfg: CliConfig, out: Output) -> int:
    if not cfg.auth_secret:
        raise ConfigError("token needs the signing secret: set DOCSTREAM_AUTH_SECRET")
    token = issue_token(cfg.auth_secret, args.owner, ttl_s=args.ttl)
    if out.as_json:
        out.data({"owner": args.owner, "ttl_s": args.ttl, "token": token})
    else:
        print(token, file=out.stream)
    return 0
