from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.extractor.extraction.ocr_options import OcrOptions
from shared.events import OCR_LANGUAGES_PATTERN
from shared.settings import ServiceSettings


class ExtractorSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_EXTRACTOR_", frozen=True, populate_by_name=True, extra="ignore"
    )

    web_port: int = 8002
    #: Worker processes; 0 means one per CPU core.
    workers: int = Field(0, ge=0)
    #: Documents in flight per replica (a few more than workers keeps the pool busy).
    concurrency: int = Field(0, ge=0)
    timeout_s: float = Field(120.0, gt=0)
    memory_mb: int = Field(1024, ge=64)
    max_pages: int = Field(5000, ge=1)
    max_chars: int = Field(20_000_000, ge=1)
    max_file_bytes: int = Field(200 * 2**20, ge=1)
    max_docx_uncompressed_bytes: int = Field(200 * 2**20, ge=1)
    tables: bool = True
    #: A PDF with more pages than this is read by several idle workers at once, in page
    #: ranges put back together in order; 0: one worker per document, always.
    split_pages: int = Field(16, ge=0)
    #: Texts up to this size ride inline in documents.extracted; larger ones only by reference.
    inline_text_max_bytes: int = Field(256 * 1024, ge=0)
    #: At most one progress event per document per this many seconds (plus a final one).
    progress_interval_s: float = Field(0.25, ge=0)
    #: The stage's *started* event waits up to this long to go in one batch with its next
    #: events (one produce request, and one fetch for each live reader, fewer a document);
    #: then it is sent on its own. 0: at once.
    started_hold_s: float = Field(0.25, ge=0)
    #: auto: OCR only PDF pages without trustworthy text; always: every PDF page; never.
    ocr: Literal["auto", "always", "never"] = "auto"
    #: Tesseract languages when an upload names none (installed by `make install`: eng, fra).
    ocr_languages: str = Field("eng+fra", pattern=OCR_LANGUAGES_PATTERN)
    ocr_dpi: int = Field(300, ge=72, le=600)
    #: Pages larger than this at ocr_dpi are rendered smaller (memory: ~1 byte per pixel).
    ocr_max_megapixels: float = Field(25.0, gt=0, le=100)
    #: Tesseract's language data; None: Debian's folder (/usr/share/tesseract-ocr/5/tessdata).
    ocr_tessdata_dir: str | None = None

    def ocr_options(self) -> OcrOptions:
        return OcrOptions(
            mode=self.ocr,
            languages=self.ocr_languages,
            dpi=self.ocr_dpi,
            max_megapixels=self.ocr_max_megapixels,
            tessdata_dir=self.ocr_tessdata_dir,
        )
