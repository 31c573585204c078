"""Document extraction for docstream: text, tables and metadata from PDF, DOCX, text, Markdown,
HTML and CSV, in a pool of worker processes with hard time and memory limits.

Typical use from an asyncio service::

    async with ExtractorPool(limits=ExtractionLimits(timeout_s=60)) as pool:
        try:
            result = await pool.extract(doc_id, path, on_progress=report)
        except ExtractionError as exc:
            fail(exc.reason, exc.message)
        except ExtractionCancelled:
            ...

The names below are imported on first use (PEP 562): every worker process imports this package
on its way to ``.worker``, and must not pay for the pool's imports (asyncio, pydantic models).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assembly import ProgressCallback
    from .errors import ExtractionCancelled, ExtractionError
    from .limits import ExtractionLimits
    from .ocr_options import OcrOptions
    from .pages import PageText
    from .pool import ExtractorPool
    from .result import ExtractionResult

__all__ = [
    "ExtractionCancelled",
    "ExtractionError",
    "ExtractionLimits",
    "ExtractionResult",
    "ExtractorPool",
    "OcrOptions",
    "PageText",
    "ProgressCallback",
]

_HOMES = {
    "ExtractionCancelled": "errors",
    "ExtractionError": "errors",
    "ExtractionLimits": "limits",
    "ExtractionResult": "result",
    "ExtractorPool": "pool",
    "OcrOptions": "ocr_options",
    "PageText": "pages",
    "ProgressCallback": "assembly",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
