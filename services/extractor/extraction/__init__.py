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

from typing import TYPE_CHECKING

from shared.lazy import exports_on_first_use

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

__getattr__ = exports_on_first_use(
    __name__,
    {
        "ExtractionCancelled": ".errors",
        "ExtractionError": ".errors",
        "ExtractionLimits": ".limits",
        "ExtractionResult": ".result",
        "ExtractorPool": ".pool",
        "OcrOptions": ".ocr_options",
        "PageText": ".pages",
        "ProgressCallback": ".assembly",
    },
)
