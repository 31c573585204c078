"""What the feeds need from the running gateway, in one object (so tests can hand in fakes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.gateway.backfill import Backfill
from services.gateway.hub import Hub
from services.gateway.settings import GatewaySettings


@dataclass(frozen=True)
class FeedDeps:
    hub: Hub
    backfill: Backfill
    #: The read model's database now (it changes when a rebuild switches).
    db: Callable[[], Any]
    settings: GatewaySettings
