"""One module per command group; each has ``register(subparsers)``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from docstream.cli.config import CliConfig
from docstream.cli.output import Output

Run = Callable[[argparse.Namespace, CliConfig, Output], Awaitable[int]]
#: What ``add_subparsers`` returns (argparse keeps the class private).
Subparsers = Any
