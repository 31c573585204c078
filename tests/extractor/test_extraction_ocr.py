"""Scanned and garbled pages: the quality check, the fallback chain and OCR (issue 8)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pypdfium2 as pdfium
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from services.extractor.extraction import ExtractionResult, ExtractorPool, OcrOptions
from services.extractor.extraction.ocr import OcrEngine, estimate_skew
from services.extractor.extraction.pdf_fallback import PageRescue

from .extraction_samples import CORPUS, pdf_bytes, peak_rss, unmapped_cid_pdf

TRANSCRIPTIONS = Path(__file__).parent / "transcriptions"
FRANCAIS = CORPUS / "pdf" / "francais.pdf"
MULTIPAGE = CORPUS / "pdf" / "multipage.pdf"
NOMAPPING = CORPUS / "pdf" / "truetype_font_nomapping.pdf"


def character_error_rate(recognised: str, reference: str) -> float:
    """Edit distance over the reference's length, white space normalized on both sides."""
    got, want = " ".join(recognised.split()), " ".join(reference.split())
    return Levenshtein.distance(got, want) / len(want)


@pytest.fixture(scope="module")
async def scanned(pool: ExtractorPool) -> dict[str, ExtractionResult]:
    return {
        path.name: await pool.extract(f"ocr-{path.name}", path)
        for path in (FRANCAIS, MULTIPAGE, NOMAPPING)
    }


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(OcrOptions())


def rendered(path: Path, index: int, dpi: int = 300) -> Image.Image:
    document = pdfium.PdfDocument(str(path))
    try:
        return document[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()


# --- corpus files ---


def test_francais_scanned_page_is_read_by_ocr(scanned: dict[str, ExtractionResult]) -> None:
    result = scanned["francais.pdf"]
    (page,) = result.pages
    assert page.extractor == "ocr" and not page.empty
    assert "Portez ce vieux whisky au juge" in page.text
    assert "l'alcôve" in page.text
    assert page.ocr_confidence is not None and page.ocr_confidence > 0.8
    assert "no text layer" in page.warnings
    assert result.language == "fr"
    reference = (TRANSCRIPTIONS / "francais-p1.txt").read_text(encoding="utf-8")
    assert character_error_rate(page.text, reference) < 0.05


def test_multipage_reads_scanned_pages_and_keeps_the_text_layer(
    scanned: dict[str, ExtractionResult],
) -> None:
    result = scanned["multipage.pdf"]
    assert len(result.pages) == 6
    extractors = [page.extractor for page in result.pages]
    # Page 4 has a text layer of its own; every other page is an image.
    assert extractors == ["ocr", "ocr", "ocr", "pypdfium2", "ocr", "ocr"]
    texts = [" ".join(page.text.split()) for page in result.pages]
    assert "the trees back towards the end of the" in texts[0]
    assert "throne of England" in texts[4]
    assert "throne of England" in texts[5]  # the page turned sideways
    info = result.page_info()
    assert [p.extractor for p in info] == extractors
    assert all(p.ocr_confidence is not None for p in info if p.extractor == "ocr")
    assert info[3].ocr_confidence is None and info[3].warnings == []
    assert result.metadata().page_info == info


def test_unmapped_font_falls_back_to_ocr(scanned: dict[str, ExtractionResult]) -> None:
    (page,) = scanned["truetype_font_nomapping.pdf"].pages
    assert page.extractor == "ocr"
    assert "Phone" in page.text
    assert any("text layer not trusted" in warning for warning in page.warnings)


async def test_the_9000_pixel_page_stays_within_the_memory_limit() -> None:
    """multipage.pdf's page 2 is a 9000 x 9000 image: rendered within the pixel budget, it is
    read without the worker nearing its limit."""
    before = {child.pid for child in psutil.Process().children()}
    async with ExtractorPool(workers=1, tables=False) as single:
        (worker,) = [c for c in psutil.Process().children() if c.pid not in before]
        with peak_rss(worker) as peak:
            result = await single.extract("poster", MULTIPAGE)
        assert result.pages[1].extractor == "ocr"
        assert "pixels" in result.pages[1].text
        print(f"multipage.pdf: worker peak {peak[0] / 2**20:.0f} MiB")
        assert peak[0] < 0.8 * single.limits.memory_mb * 2**20


# --- orientation and skew ---


@pytest.mark.parametrize("page", [6, 5])
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_turned_page_reads_the_same(engine: OcrEngine, degrees: int, page: int) -> None:
    """multipage.pdf's page 6 is a clean scan (OSD is sure of itself); page 5 a faint
    photocopy on which OSD takes 90 degrees for 270 with little confidence."""
    upright = rendered(MULTIPAGE, page - 1)
    turned = upright.rotate(degrees, expand=True)  # counter-clockwise
    reading = engine.read_image(turned, "eng")
    assert reading.rotated == degrees
    assert "throne of England" in " ".join(reading.text.split())


def test_a_skewed_page_is_straightened(engine: OcrEngine) -> None:
    page = rendered(MULTIPAGE, 5)
    skewed = page.rotate(4, expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR)
    assert abs(estimate_skew(skewed) + 4) <= 0.5
    reading = engine.read_image(skewed, "eng")
    assert abs(reading.deskewed + 4) <= 0.5
    assert "throne of England" in " ".join(reading.text.split())


# --- modes, languages, fallbacks ---


async def test_ocr_never_leaves_scanned_pages_empty() -> None:
    async with ExtractorPool(workers=1, tables=False, ocr=OcrOptions(mode="never")) as single:
        result = await single.extract("never", FRANCAIS)
    (page,) = result.pages
    assert page.empty and page.extractor == "pypdfium2"


async def test_ocr_always_reads_text_pages_too(tmp_path: Path) -> None:
    path = tmp_path / "hello.pdf"
    path.write_bytes(pdf_bytes(["Hello from the text layer of this page"]))
    async with ExtractorPool(workers=1, tables=False, ocr=OcrOptions(mode="always")) as single:
        result = await single.extract("always", path)
    (page,) = result.pages
    assert page.extractor == "ocr"
    assert "Hello from the text layer" in page.text


async def test_ocr_languages_per_document(pool: ExtractorPool) -> None:
    english = await pool.extract("fr-as-eng", FRANCAIS, ocr_languages="eng")
    french = await pool.extract("fr-as-fra", FRANCAIS, ocr_languages="fra")
    reference = (TRANSCRIPTIONS / "francais-p1.txt").read_text(encoding="utf-8")
    english_cer = character_error_rate(english.text, reference)
    french_cer = character_error_rate(french.text, reference)
    assert french_cer < english_cer / 2, (french_cer, english_cer)
    unknown = await pool.extract("fr-as-xyz", FRANCAIS, ocr_languages="xyz+fra")
    assert "OCR languages not installed: xyz" in unknown.warnings
    assert "l'alcôve" in unknown.text


def test_a_text_layer_that_lost_its_letters_is_read_by_the_next_reader(tmp_path: Path) -> None:
    """What pdfium gives for a CJK font it cannot map (digits and punctuation only): the page
    is read again, and pypdf's full text is kept."""
    path = tmp_path / "real.pdf"
    path.write_bytes(pdf_bytes(["Quarterly report 2024, page 3 of 12"]))
    document = pdfium.PdfDocument(str(path))
    rescue = PageRescue(path, None, OcrOptions(mode="never"), None, None)
    try:
        reading = rescue.read(document[0], 0, "2024, 3 12 2024, 3 12 2024, 3 12 2024, 3 12")
    finally:
        rescue.close()
        document.close()
    assert reading.extractor == "pypdf"
    assert reading.text == "Quarterly report 2024, page 3 of 12"
    assert "text layer not trusted (none of 32 characters is a letter)" in reading.warnings


def test_pdfminer_placeholders_for_unmapped_glyphs_are_not_trusted(tmp_path: Path) -> None:
    """pdfplumber writes each glyph it cannot map as "(cid:N)", which looked like text: the
    page took it as rescued, and OCR was never asked."""
    path = tmp_path / "unmapped.pdf"
    path.write_bytes(unmapped_cid_pdf())
    document = pdfium.PdfDocument(str(path))
    rescue = PageRescue(path, None, OcrOptions(mode="never"), None, None)
    try:
        reading = rescue.read(document[0], 0, "!\"#$%&'")
        plumber = rescue._plumber_text(0)
    finally:
        rescue.close()
        document.close()
    assert plumber == "\ufffd" * 7
    assert reading.extractor != "pdfplumber"
    assert "no reader did better; the text layer is kept" in reading.warnings


def test_a_trusted_page_never_opens_another_reader(tmp_path: Path) -> None:
    path = tmp_path / "fine.pdf"
    path.write_bytes(pdf_bytes(["All is well on this page"]))
    document = pdfium.PdfDocument(str(path))
    rescue = PageRescue(path, None, OcrOptions(), None, None)
    try:
        reading = rescue.read(document[0], 0, "All is well on this page")
    finally:
        document.close()
    assert (reading.extractor, reading.warnings) == ("pypdfium2", [])
    assert rescue._pypdf_pages is None and rescue._plumber is None


def test_ocr_text_is_normalized_unicode(scanned: dict[str, ExtractionResult]) -> None:
    text = scanned["francais.pdf"].text
    assert unicodedata.is_normalized("NFC", text)
