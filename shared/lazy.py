"""Package names imported on first use (PEP 562): a package whose light parts are imported by
processes that never need its heavy ones (a worker process importing its package on the way to
its own module) exports the heavy names through :func:`exports_on_first_use`."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports_on_first_use(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The package's module ``__getattr__``: each name of ``homes`` is imported from its home
    module (relative to ``package``, e.g. ``".pool"``) when first asked for."""

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home, package), name)

    return attribute
