"""Resource limits for one extraction; every limit hit fails with its own reason code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ExtractionLimits:
    """Hard limits per document.

    ``timeout_s`` and ``memory_mb`` are enforced from outside the worker process (it is killed),
    because a hostile file can hang or balloon inside C code where no Python check ever runs.
    The others are checked by the worker before or while it reads the document.
    """

    timeout_s: float = 120.0
    memory_mb: int = 1024
    max_pages: int = 5000
    max_chars: int = 20_000_000
    max_file_bytes: int = 200 * 2**20
    max_docx_uncompressed_bytes: int = 200 * 2**20

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"ExtractionLimits.{name} must be positive, not {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractionLimits:
        return cls(**data)
