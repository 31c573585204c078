"""The ruled-table check walks pdfium's objects by raw calls: the same objects, the same answer
as pypdfium2's get_objects, on every page of the corpus."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from services.extractor.extraction import pdf_rulings


def _address(obj: Any) -> int | None:
    return ctypes.cast(obj, ctypes.c_void_p).value


def _answer_by_get_objects(page: Any) -> bool:
    """The check as it was written against pypdfium2's helpers (the reference)."""
    horizontal = vertical = 0
    for obj in page.get_objects(
        filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=pdf_rulings._MAX_DEPTH
    ):
        if pdfium_c.FPDFPath_CountSegments(obj.raw) >= pdf_rulings._GRID_SEGMENTS:
            return True
        left, bottom, right, top = obj.get_bounds()
        wide, tall = right - left > pdf_rulings._THIN_PT, top - bottom > pdf_rulings._THIN_PT
        if wide and tall:
            horizontal += 2
            vertical += 2
        elif wide:
            horizontal += 1
        elif tall:
            vertical += 1
        if horizontal >= 2 and vertical >= 2 and horizontal + vertical >= 5:
            return True
    return False


def _assert_same(page: Any, where: object) -> tuple[bool, int]:
    """The check's answer, and how many paths it looked at."""
    expected = [
        _address(o.raw)
        for o in page.get_objects(
            filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=pdf_rulings._MAX_DEPTH
        )
    ]
    walked = pdf_rulings._paths(
        page.raw, pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, 0
    )
    assert [_address(o) for o in walked] == expected, where
    answer = pdf_rulings.may_have_ruled_table(page)
    assert answer == _answer_by_get_objects(page), where
    return answer, len(expected)


def test_same_paths_and_answer_as_get_objects(corpus: Path) -> None:
    pages = ruled = 0
    for path in sorted((corpus / "pdf").glob("*.pdf")):
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError:
            continue  # empty, encrypted, or for pypdf only: never reaches the check
        try:
            for index in range(min(len(document), 40)):
                page = document[index]
                try:
                    ruled += _assert_same(page, (path.name, index))[0]
                    pages += 1
                finally:
                    page.close()
        finally:
            document.close()
    assert pages > 50 and 0 < ruled < pages  # both answers were met


def _boxes_page(document: Any, boxes: int) -> Any:
    page = document.new_page(200, 200)
    for n in range(boxes):
        box = pdfium_c.FPDFPageObj_CreateNewRect(10 + 30 * n, 10, 20, 20)
        pdfium_c.FPDFPath_SetDrawMode(box, pdfium_c.FPDF_FILLMODE_NONE, True)
        pdfium_c.FPDFPage_InsertObject(page.raw, box)
    page.gen_content()
    return page


def test_paths_inside_forms_count_down_to_the_depth_limit() -> None:
    """The corpus has no form XObjects: forms nested in forms, one box drawn at each level."""
    inner = pdfium.PdfDocument.new()
    _boxes_page(inner, 1).close()
    documents = [inner]
    looked_at = []
    for _level in range(pdf_rulings._MAX_DEPTH + 1):
        outer = pdfium.PdfDocument.new()
        page = _boxes_page(outer, 1)
        form = documents[-1].page_as_xobject(0, outer).as_pageobject()
        page.insert_obj(form)
        page.gen_content()
        answer, paths = _assert_same(page, len(documents))
        assert answer  # two boxes or more: eight edges
        looked_at.append(paths)
        page.close()
        documents.append(outer)
    # The page's box and those of the forms at levels 1 and 2; level 3 is not looked into.
    assert looked_at == [2, 3, 3, 3]
    for document in documents:
        document.close()
