"""Scripts beyond Latin: right-to-left text in logical order, CJK kept, on the fast path.

The PDFs are made here. Hebrew and Arabic are drawn the way PDF writers draw them, glyph by glyph
from left to right (visual order), Arabic in its joined presentation forms, with DejaVu Sans
(Debian's fonts-dejavu-core, installed by ``make install``) embedded by pdfium. The CJK files
use the predefined CMaps of the four CJK character collections, no embedded font and no
ToUnicode map: the reader has to know the collections to get any text at all.
"""

from __future__ import annotations

import ctypes
import io
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from pypdf.generic import DecodedStreamObject, NameObject

from services.extractor.extraction import ExtractorPool
from services.extractor.extraction.ocr_options import OcrOptions
from services.extractor.extraction.pdf_fallback import PageRescue
from services.extractor.extraction.pdf_rtl import settle_words
from services.extractor.extraction.quality import assess

from .extraction_samples import assemble_pdf

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HEBREW = "שלום עולם, זה מבחן"
ARABIC = "السلام عليكم"
# ARABIC as a writer shapes it: each letter in its joined form (lam-alef as one ligature).
ARABIC_SHAPED = "\ufe8d\ufedf\ufeb4\ufefc\ufee1 \ufecb\ufee0\ufef4\ufedc\ufee2"


def _visual_order_pdf(lines: list[str]) -> bytes:
    if not FONT.exists():
        pytest.fail(f"{FONT} is missing: `make install` installs Debian's fonts-dejavu-core")
    data = FONT.read_bytes()
    document = pdfium.PdfDocument.new()
    page = document.new_page(612, 792)
    buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    font = pdfium_c.FPDFText_LoadFont(
        document.raw, buffer, len(data), pdfium_c.FPDF_FONT_TRUETYPE, 1
    )
    for number, line in enumerate(lines):
        text = pdfium_c.FPDFPageObj_CreateTextObj(document.raw, font, 14.0)
        visual = ctypes.create_string_buffer((line[::-1] + "\0").encode("utf-16-le"))
        pdfium_c.FPDFText_SetText(text, ctypes.cast(visual, pdfium_c.FPDF_WIDESTRING))
        pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, 72, 700 - 30 * number)
        pdfium_c.FPDFPage_InsertObject(page.raw, text)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    out = io.BytesIO()
    document.save(out)
    page.close()
    document.close()
    return out.getvalue()


def _cjk_pdf(text: str, encoding: str, codec: str, ordering: str, base_font: str) -> bytes:
    stream = f"BT /F1 14 Tf 72 700 Td <{text.encode(codec).hex()}> Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{base_font} /Encoding /{encoding} "
        "/DescendantFonts [6 0 R] >>".encode(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{base_font} /CIDSystemInfo "
        f"<< /Registry (Adobe) /Ordering ({ordering}) /Supplement 4 >> "
        "/FontDescriptor 7 0 R >>".encode(),
        f"<< /Type /FontDescriptor /FontName /{base_font} /Flags 4 /FontBBox [0 -200 1000 900] "
        "/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 80 >>".encode(),
    ]
    return assemble_pdf(objects, 1)


@pytest.mark.parametrize(
    ("name", "lines", "expected"),
    [
        ("hebrew", [HEBREW], HEBREW),
        ("arabic", [ARABIC], ARABIC),
        ("arabic-shaped", [ARABIC_SHAPED], ARABIC),
        ("two-lines", [HEBREW, ARABIC_SHAPED], f"{HEBREW}\n{ARABIC}"),
    ],
)
async def test_right_to_left_text_comes_in_logical_order(
    pool: ExtractorPool, tmp_path: Path, name: str, lines: list[str], expected: str
) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(_visual_order_pdf(lines))
    result = await pool.extract(f"rtl-{name}", path)
    (page,) = result.pages
    assert page.text == expected  # logical order, presentation forms folded to letters
    assert (page.extractor, page.warnings) == ("pypdfium2", [])


def _word_processor_pdf(shaped: str) -> bytes:
    """``shaped`` drawn as by a word processor: glyphs in visual order, and a ToUnicode map that
    gives each glyph its plain letters in logical order (the lam-alef ligature: two letters)."""
    reader = pypdf.PdfReader(io.BytesIO(_visual_order_pdf([shaped])))
    writer = pypdf.PdfWriter(clone_from=reader)
    page = writer.pages[0]
    operands = re.findall(rb"<([0-9A-Fa-f]+)>", page.get_contents().get_data())
    codes = b"".join(operands).decode()
    glyphs = [codes[i : i + 4] for i in range(0, len(codes), 4)]
    pairs = {
        f"<{glyph}> <{unicodedata.normalize('NFKC', char).encode('utf-16-be').hex()}>"
        for glyph, char in zip(glyphs, shaped[::-1], strict=True)
    }
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo "
        "<< /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS "
        "def /CMapType 2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange "
        f"{len(pairs)} beginbfchar\n" + "\n".join(sorted(pairs)) + "\nendbfchar endcmap "
        "CMapName currentdict /CMap defineresource pop end end"
    )
    stream = DecodedStreamObject()
    stream.set_data(cmap.encode())
    fonts = page["/Resources"]["/Font"]
    font = fonts[next(iter(fonts))].get_object()
    font[NameObject("/ToUnicode")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_a_ligature_of_right_to_left_letters_keeps_their_order(
    pool: ExtractorPool, tmp_path: Path
) -> None:
    """pdfium reversed the two letters of lam-alef ("السالم"); pypdf had them right."""
    path = tmp_path / "ligature.pdf"
    path.write_bytes(_word_processor_pdf(ARABIC_SHAPED))
    result = await pool.extract("rtl-ligature", path)
    (page,) = result.pages
    assert page.text == ARABIC
    assert page.extractor == "pypdfium2"


ARABIC_SENTENCE = "اللغة العربية هي لغة رسمية في عدد كبير من الدول، ويتحدثها ملايين الناس."


def _printed_by_chromium(tmp_path: Path, html: str) -> Path:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    page, pdf = tmp_path / "page.html", tmp_path / "page.pdf"
    page.write_text(html, encoding="utf-8")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", page.as_uri()],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return pdf


async def test_arabic_printed_by_a_browser_comes_in_logical_order(
    pool: ExtractorPool, tmp_path: Path
) -> None:
    """Chromium's PDFs made pdfium reverse most Arabic words letter by letter ("ةغللا" for
    "اللغة"), and keep others right; pypdf reads them in logical order there."""
    path = _printed_by_chromium(
        tmp_path,
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"></head>'
        f'<body style="font-family: DejaVu Sans"><p>{ARABIC_SENTENCE}</p></body></html>',
    )
    result = await pool.extract("rtl-chromium", path)
    (page,) = result.pages
    assert _arabic_words(page.text) == _arabic_words(ARABIC_SENTENCE)
    assert result.language == "ar"


def _arabic_words(text: str) -> list[str]:
    return re.findall("[\u0600-\u06ff]+", text)


def test_a_reference_in_visual_order_turns_no_word() -> None:
    """Writers that draw right-to-left text in visual order make pypdf read it reversed while
    pdfium has it right: then pypdf's words must not be taken."""
    for logical in (HEBREW, ARABIC_SENTENCE):
        reversed_words = " ".join(word[::-1] for word in logical.split())
        assert settle_words(logical, reversed_words) == (logical, 0)
    wrong = " ".join(word[::-1] for word in ARABIC_SENTENCE.split())
    assert settle_words(wrong, ARABIC_SENTENCE)[1] > 0


def test_only_a_page_that_reads_reversed_asks_pypdf(tmp_path: Path) -> None:
    """pypdf reads a page many times slower than pdfium: a right-to-left page pdfium got right
    stays on the fast path."""
    path = tmp_path / "any.pdf"
    path.write_bytes(_visual_order_pdf([HEBREW]))
    reversed_sentence = " ".join(word[::-1] for word in ARABIC_SENTENCE.split())
    for text, asks in ((HEBREW, False), (ARABIC_SENTENCE, False), (reversed_sentence, True)):
        rescue = PageRescue(path, None, OcrOptions(mode="never"), None, None)
        try:
            rescue.settle_right_to_left(0, text, [])
            assert (rescue._pypdf_pages is not None) is asks, text
        finally:
            rescue.close()


COMMA = "\uff0c"  # the ideographic full-width comma
CJK = [
    ("UniGB-UCS2-H", "utf-16-be", "GB1", "STSong-Light", f"中文文本测试 2024年12月{COMMA}第3页。"),
    ("GBK-EUC-H", "gbk", "GB1", "STSong-Light", f"中文文本测试 2024年12月{COMMA}第3页。"),
    ("B5pc-H", "big5", "CNS1", "MSung-Light", f"中文文本 2024年12月{COMMA}第3頁。"),
    ("90ms-RKSJ-H", "cp932", "Japan1", "HeiseiMin-W3", "日本語のテキスト 2024年12月。"),
    ("KSCms-UHC-H", "cp949", "Korea1", "HYSMyeongJo-Medium", "한국어 텍스트 2024년 12월."),
]


@pytest.mark.parametrize(("encoding", "codec", "ordering", "base_font", "text"), CJK)
async def test_cjk_text_is_kept_on_the_fast_path(
    pool: ExtractorPool,
    tmp_path: Path,
    encoding: str,
    codec: str,
    ordering: str,
    base_font: str,
    text: str,
) -> None:
    """pypdf reads B5pc-H and KSCms-UHC-H as UTF-16 and returns mojibake: the fast path's
    text must stand, not be "improved" by a second reader."""
    path = tmp_path / f"{encoding}.pdf"
    path.write_bytes(_cjk_pdf(text, encoding, codec, ordering, base_font))
    result = await pool.extract(f"cjk-{encoding}", path)
    (page,) = result.pages
    assert page.text == text
    assert (page.extractor, page.warnings) == ("pypdfium2", [])


@pytest.mark.parametrize(
    "text",
    [HEBREW, ARABIC, "中文文本测试", "日本語のテキスト", "한국어 텍스트", "Ελληνικά κείμενα"],
)
def test_the_quality_check_trusts_every_script(text: str) -> None:
    assert assess(text).trusted


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("'\"7+%-", "punctuation or symbols"),
        ("\ue000\ue001\ue002 \ue003 ok", "private-use"),
        ("\ufffd\ufffd\ufffd\ufffd text", "replacement"),
        ("2024年", None),  # few characters: no verdict on letters
        ("12 345, 67 890. 12 345, 67 890. 2024", "letter"),
        ("Contents ........................ 4", None),  # dot leaders count once
    ],
)
def test_the_quality_check_flags_garbage(text: str, reason: str | None) -> None:
    verdict = assess(text)
    if reason is None:
        assert verdict.trusted, verdict
    else:
        assert verdict.reason is not None and reason in verdict.reason
