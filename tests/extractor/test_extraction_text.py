# ruff: noqa: RUF001 - texts in many scripts, on purpose
"""Text files as they come: encodings, what kind of text they are (CSV, HTML, Markdown, plain).

Inputs from a sweep of real-world text files that came out wrong; each test failed before its fix.
"""

from __future__ import annotations

import os

import pytest

from services.extractor.extraction.decoding import decode_text

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
