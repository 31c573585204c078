# ruff: noqa: RUF001 - texts in many scripts, on purpose
"""Text files as they come: encodings, what kind of text they are (CSV, HTML, Markdown, plain).

Inputs from a sweep of real-world text files that came out wrong; each test failed before its fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from services.extractor.extraction import ExtractionLimits, ExtractorPool
from services.extractor.extraction.collector import DocumentInfo, PageCollector
from services.extractor.extraction.decoding import decode_text
from services.extractor.extraction.html_text import extract_html
from services.extractor.extraction.plaintext import extract_plain
from services.extractor.extraction.textkind import (
    CSV,
    HTML,
    MARKDOWN,
    PLAIN,
    TextKind,
    classify_text,
)

Write = Callable[[str, bytes | str], Path]

# --- encodings ---

WESTERN = {
    # charset-normalizer alone read these as cp1257, iso8859-2 or cp1006 ("Josﻠ Mﮰller")
    "fr-short": "Réunion à 14h à l'hôtel de ville, salle des fêtes. Merci de confirmer.\n",
    "pt": "A população da região aumentou, e as eleições serão em outubro. Não há informação.\n",
    "name": "José Müller\n",
    "fr-two-words": "Café crème\n",
    "fr": "Le café était très animé ce matin-là. Les élèves préféraient s'asseoir près de là.",
    "da": "Blåbærsyltetøj er godt på brød. Søen ligger ved skoven.",
    "is": "Þú ert að læra íslensku. Það er gaman að ferðast.",
    "es": "El niño comió una piña en la mañana. ¿Dónde está la estación?",
    "de": "Grüße aus Köln",
}


@pytest.mark.parametrize("text", WESTERN.values(), ids=WESTERN.keys())
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_western_text_in_a_western_code_page(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text


def test_cp1252_punctuation() -> None:
    text = "He said “naïve café” — it cost €5 … and that’s all. Déjà vu for the résumé.\n"
    assert decode_text(text.encode("cp1252")) == text


OTHER_ENCODINGS = {
    "shift_jis": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 4,
    "euc_jp": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 4,
    "gbk": "北京是中华人民共和国的首都，是全国的政治中心、文化中心。" * 3,
    "euc_kr": "안녕하세요. 오늘 날씨가 좋습니다.",
    "cp1251": "Москва — столица России. Это крупнейший город страны, важный центр.",
    "koi8_r": "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "cp1250": "Příliš žluťoučký kůň úpěl ďábelské ódy. Večer jsme šli do divadla.",
    "iso8859_2": "Zażółć gęślą jaźń. Wczoraj byłem w sklepie i kupiłem chleb.",
    "cp1253": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Σήμερα ο καιρός είναι καλός.",
    "cp1255": "דג סקרן שט בים מאוכזב ולפתע מצא חברה. היום מזג האוויר נעים.",
    # charset-normalizer alone read these three wrong too (kz1048, cp1252, cp1254)
    "cp1251-uk": "Україна — держава у Східній Європі. Їжак і ґанок.",
    "cp1254": "Pijamalı hasta yağız şoföre çabucak güvendi. Bugün hava çok güzel.",
    "cp1257": "Įlinkdama fechtuotojo špaga sublykčiojusi pragręžė apvalų arbūzą.",
    "utf-16": "Grüße aus Köln, schöne Straße! " * 10,  # with a byte-order mark
    "utf-16-le": "Grüße aus Köln, schöne Straße! " * 10,  # without one
    "utf-32": "Grüße aus Köln, schöne Straße! " * 10,
    "utf-8-sig": "Grüße aus Köln, schöne Straße! " * 10,
}


@pytest.mark.parametrize(("encoding", "text"), OTHER_ENCODINGS.items(), ids=OTHER_ENCODINGS.keys())
def test_other_encodings_still_read(encoding: str, text: str) -> None:
    assert decode_text(text.encode(encoding.removesuffix("-uk"))) == text


def test_binary_data_is_not_text() -> None:
    assert decode_text(os.urandom(64 * 1024)) is None
    assert decode_text(bytes(range(0xA0, 0x100)) * 200) is None


UTF8 = "Résumé of the café meeting: naïve coöperation, déjà vu, façade, jalapeño, Zürich.\n"


def test_utf8_with_a_stray_byte() -> None:
    # Was refused (unsupported_type): charset-normalizer finds no code page for it.
    data = (UTF8 * 20).encode() + b"Stray \xff byte\n" + (UTF8 * 5).encode()
    assert decode_text(data) == UTF8 * 20 + "Stray ÿ byte\n" + UTF8 * 5


def test_utf8_with_a_latin1_line_keeps_both() -> None:
    # Was read whole as iso8859-10: "JosÃĐ | ZÃžrich" on every line.
    lines = ["Name,City", *(f"José {i},Zürich" for i in range(40))]
    data = "\n".join(lines).encode() + "\nFrançois,Genève\n".encode("latin-1")
    assert decode_text(data) == "\n".join(lines) + "\nFrançois,Genève\n"


def test_legacy_text_is_not_taken_for_damaged_utf8() -> None:
    for text, encoding in [(UTF8 * 30, "latin-1"), (OTHER_ENCODINGS["euc_jp"] * 50, "euc_jp")]:
        assert decode_text(text.encode(encoding)) == text


def test_a_character_cut_at_the_judged_head_is_not_a_stray_byte() -> None:
    text = "x" * (16 * 1024 - 1) + "é and a few more: café" + UTF8
    assert decode_text(text.encode() + b"\xe9") == text + "é"


# --- CSV or not ---

NOT_TABLES = {
    "python-log": "".join(
        f"2024-03-01 12:00:0{i},{i}23 INFO job {i} {verb}\n"
        for i, verb in enumerate(["started", "connected to broker", "done", "failed: timeout"])
    ),
    "poem": (
        "Roses are red, violets are blue\nSugar is sweet, and so are you\n"
        "The night is dark, the stars are bright\nI think of you, by candle light\n"
    ),
    "letter": (
        "Dear John, thank you\nfor your letter, which arrived\nyesterday, and I was glad\n"
        "to hear from you, really.\n"
    ),
    "short-clauses": "Hello, world.\nGoodbye, moon.\nSee you, soon.\n",
    "repeated-paragraph": (
        "Le café était animé ce matin-là. Les élèves, assis près de la fenêtre, lisaient.\n" * 5
    ),
}

TABLES = {
    "simple": ("name,age,city\nAlice,30,Paris\nBob,25,Berlin\nCarol,41,Rome\n", ","),
    "quoted": ('name,city\n"Smith, Ann",Paris\nLee,"New\nYork"\nKim,Seoul\n', ","),
    "semicolon-decimal-commas": ("Name;Preis;Menge\nÄpfel;1,20;3\nBirnen;0,99;5\n", ";"),
    "tsv": ("col a\tcol b\tcol c\n1\t2\t3\n4\t5\t6\n", "\t"),
    "crlf": ("Name,Amount,Date\r\nA,1,2024-01-01\r\nB,2,2024-01-02\r\nC,3,2024-01-03\r\n", ","),
    "headerless-numbers": ("1,2\n3,4\n5,6\n", ","),
    "headerless-items": ("".join(f"{i},item {i},{i * 3}\n" for i in range(20)), ","),
    "free-text-column": (
        "id,comment\n1,works as described and arrived early\n2,the box was damaged in transit\n"
        "3,would buy again\n",
        ",",
    ),
    "spaced-short-fields": ("name, age, city\nAlice, 30, Paris\nBob, 25, Berlin\n", ","),
}


@pytest.mark.parametrize("text", NOT_TABLES.values(), ids=NOT_TABLES.keys())
def test_text_with_commas_on_every_line_is_not_a_table(text: str) -> None:
    assert classify_text(text).mime == PLAIN


@pytest.mark.parametrize(("text", "delimiter"), TABLES.values(), ids=TABLES.keys())
def test_tables_are_still_tables(text: str, delimiter: str) -> None:
    assert classify_text(text).delimiter == delimiter


def test_csv_with_a_bom_and_crlf() -> None:
    data = b"\xef\xbb\xbfName,Amount,Date\r\nA,1,2024-01-01\r\nB,2,2024-01-02\r\n"
    text = decode_text(data)
    assert text is not None and classify_text(text) == TextKind(CSV, ",")


async def test_a_log_keeps_its_commas(pool: ExtractorPool, write: Write) -> None:
    log = NOT_TABLES["python-log"]
    result = await pool.extract("log", write("worker.log", log))
    assert (result.detected_type, result.tables) == ("text/plain", [])
    assert result.text == log


# --- HTML or not ---

README = """<p align="center">
  <img src="logo.png" width="200">
</p>

# Project Title

A short description of the project.

## Installation

- Step one: clone
- Step two: install

```
pip install project
```

See [the docs](https://example.org/docs).
"""

NOT_HTML = {
    "readme-logo": (README, MARKDOWN),
    "markdownlint-comment": (
        "<!-- markdownlint-disable -->\n" + README.split("\n", 4)[4],
        MARKDOWN,
    ),
    "note": ("<b>Note:</b> remember to\nbuy milk\nand eggs\n\nThanks\n", PLAIN),
    "div-then-text": (
        "<div>\nHello\n</div>\nThis is plain text after\na div, with\nbreaks.\n",
        PLAIN,
    ),
}

HTML_DOCUMENTS = {
    "doctype": "<!DOCTYPE html><html><head><title>T</title></head><body><p>x</p></body></html>",
    "comment-first": "<!-- saved from url=(0014)about:internet -->\n<!doctype html>\n<p>x</p>",
    "upper-case": "<HTML><BODY><P>Upper case<P>Two<BR>lines</BODY></HTML>",
    "body-only": "<body>\n<p>hello</p>\n</body>\n",
    "xhtml": '<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><p>x</p></html>',
    "fragment": '<div dir="ltr">Hi Bob,<div><br></div><div>See you</div></div>\n',
    "paragraphs": "<p>First paragraph.</p>\n<p>Second paragraph.</p>\n",
    "table": "<table>\n<tr><td>1</td><td>2</td></tr>\n</table>\n",
}


@pytest.mark.parametrize(("text", "mime"), NOT_HTML.values(), ids=NOT_HTML.keys())
def test_text_that_starts_with_a_tag_is_not_html(text: str, mime: str) -> None:
    assert classify_text(text).mime == mime


@pytest.mark.parametrize("text", HTML_DOCUMENTS.values(), ids=HTML_DOCUMENTS.keys())
def test_html_is_still_html(text: str) -> None:
    assert classify_text(text).mime == HTML


async def test_a_readme_with_a_centred_logo_keeps_its_lines(
    pool: ExtractorPool, write: Write
) -> None:
    result = await pool.extract("readme", write("README.md", README))
    assert (result.detected_type, result.text) == ("text/markdown", README)


def _long_rows_csv(rows: int) -> str:
    """A valid CSV whose first 50 rows are longer than the 64K characters classified."""
    description = "Long product description with details, sizes and notes. " * 25
    lines = ["sku,description,price"]
    lines += [f'{i},"{description}\nsecond line {i}",{i}.50' for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_a_csv_cut_inside_a_quoted_field_by_the_sample_is_still_a_table() -> None:
    text = _long_rows_csv(81)
    assert text[: 64 * 1024].count("second line") < 50  # the sample ends before row 50
    assert classify_text(text) == TextKind(CSV, ",")


def test_a_malformed_csv_is_not_a_table() -> None:
    text = 'a,b,c\n1,"x"y,3\n2,3,4\n5,6,7\n'  # text after a closing quote: not CSV
    assert classify_text(text).mime == PLAIN


async def test_long_quoted_rows_keep_their_table(pool: ExtractorPool, write: Write) -> None:
    result = await pool.extract("long-rows", write("products.csv", _long_rows_csv(81)))
    assert (result.detected_type, result.extractor) == ("text/csv", "csv")
    rows = result.tables[0].rows
    assert len(rows) == 82 and rows[81][2] == "80.50"


# --- HTML and plain text as read ---


def _read(text: str, extract: Callable[[PageCollector], DocumentInfo]) -> tuple[DocumentInfo, str]:
    pages: list[str] = []
    limits = ExtractionLimits()
    out = PageCollector(limits, lambda page, total: pages.append(page.text), lambda n, rows: None)
    info = extract(out)
    return info, "\n".join(pages)


@pytest.mark.parametrize(
    ("head", "title", "author"),
    [
        (
            '<title>  Spaced \x01 Title  </title><meta name="author" content="">'
            '<meta name="AUTHOR" content=" Bob\x07 Builder ">',
            "Spaced Title",
            "Bob Builder",
        ),
        ('<title> \x02 </title><meta name="author" content="  ">', None, None),
        (
            '<meta name="author" content="Ana Lima"><meta name="author" content="">',
            None,
            "Ana Lima",
        ),
    ],
    ids=["control-characters", "blank", "first-author"],
)
def test_html_title_and_author_are_cleaned_like_pdf_and_docx(
    head: str, title: str | None, author: str | None
) -> None:
    html = f"<html><head>{head}</head><body><p>Body</p></body></html>"
    info, _ = _read(html, lambda out: extract_html(html, out))
    assert (info.title, info.author) == (title, author)


def test_html_pre_keeps_its_spaces_and_lines() -> None:
    html = (
        "<html><body><p>Before   the\ncode</p><pre>\ndef f(x):\n    return  x\r\n\n"
        "  # end</pre><p>After</p><pre>a   b</pre></body></html>"
    )
    _, text = _read(html, lambda out: extract_html(html, out))
    assert text == "Before the code\ndef f(x):\n    return  x\n\n  # end\nAfter\na   b"


def test_plain_text_line_ends_of_every_system() -> None:
    text = "line one unix\nline two windows\r\nline three old mac\rline four\n"
    _, page = _read(text, lambda out: extract_plain(text, PLAIN, out))
    assert page == "line one unix\nline two windows\nline three old mac\nline four\n"
