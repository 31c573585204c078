"""How the workers use OCR; travels to them in each job (workers read no environment)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

OcrMode = Literal["auto", "always", "never"]
OCR_MODES: tuple[OcrMode, ...] = ("auto", "always", "never")

# Where Debian's tesseract-ocr-* packages put the language data (Tesseract 5, then 4).
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
)


@dataclass(frozen=True)
class OcrOptions:
    """``mode``: ``auto`` reads by OCR only the pages without trustworthy text, ``always`` every
    PDF page (its text layer is kept only where OCR finds nothing reliable), ``never`` none.

    ``dpi`` is the rendering resolution (300 suits Tesseract); a page larger than
    ``max_megapixels`` at that resolution is rendered smaller, so that a poster-sized page
    cannot take the worker's memory.
    """

    mode: OcrMode = "auto"
    languages: str = "eng+fra"
    dpi: int = 300
    max_megapixels: float = 25.0
    tessdata_dir: str | None = None
    # Below this mean word confidence (0..1) OCR text is noise (a photo, a chart's texture).
    min_confidence: float = 0.4
    # False: every PDF page keeps pdfium's text unchecked (no fallback, no OCR), as before the
    # check existed; what the benchmark compares the check's cost with.
    text_check: bool = True

    def __post_init__(self) -> None:
        if self.mode not in OCR_MODES:
            raise ValueError(f"OcrOptions.mode must be one of {OCR_MODES}, not {self.mode!r}")
        if self.dpi <= 0 or self.max_megapixels <= 0:
            raise ValueError("OcrOptions.dpi and max_megapixels must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OcrOptions:
        return cls(**data)


def find_tessdata(configured: str | None = None) -> str | None:
    """The language data folder: the configured one, else the first of Debian's that exists."""
    for candidate in (configured,) if configured else TESSDATA_CANDIDATES:
        if candidate and any(Path(candidate).glob("*.traineddata")):
            return candidate
    return None
