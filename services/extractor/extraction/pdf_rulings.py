"""Can a PDF page hold a ruled table? Asked of pdfium in ~1 ms instead of pdfplumber in ~100 ms.

pdfplumber's table finder (default "lines" strategy) builds cells only from ruling edges,
and every edge comes from a path object (lines, rectangles, curves). So a page is worth the
table search only when its path objects can form at least two cells: two horizontal and two
vertical edges with five in all, or one path with enough segments to draw a grid by itself.
Pages of running text (no paths, or a rule under the header) skip pdfplumber entirely.

The page's objects are walked with pdfium's raw calls: pypdfium2's ``get_objects`` builds a
Python object for every object of the page, text included, before its type filter sees it
(~0.4 ms of the ~2.3 ms a one-page document costs a worker, for a page of ~140 objects).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

_THIN_PT = 5.0  # thinner than this, a path is a rule (a line), not a box
_GRID_SEGMENTS = 6  # one path drawing several cells at once
_MAX_DEPTH = 3  # paths inside form XObjects count too (as get_objects' max_depth)


def may_have_ruled_table(page: Any) -> bool:
    horizontal = vertical = 0
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    bounds = (ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top))
    for obj in _paths(page.raw, pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, 0):
        if pdfium_c.FPDFPath_CountSegments(obj) >= _GRID_SEGMENTS:
            return True
        if not pdfium_c.FPDFPageObj_GetBounds(obj, *bounds):
            raise pdfium.PdfiumError("Failed to locate pageobject.")
        wide = right.value - left.value > _THIN_PT
        tall = top.value - bottom.value > _THIN_PT
        if wide and tall:  # a rectangle: two edges each way
            horizontal += 2
            vertical += 2
        elif wide:
            horizontal += 1
        elif tall:
            vertical += 1
        if horizontal >= 2 and vertical >= 2 and horizontal + vertical >= 5:
            return True
    return False


def _paths(
    parent: Any, count: Callable[[Any], int], get: Callable[[Any, int], Any], level: int
) -> Iterator[Any]:
    """The path objects under ``parent`` (a page, or a form XObject at ``level``), in the order
    (and with the errors) of pypdfium2's ``get_objects(filter=PATH, max_depth=_MAX_DEPTH)``."""
    total = count(parent)
    if total < 0:
        raise pdfium.PdfiumError("Failed to get number of pageobjects.")
    for index in range(total):
        obj = get(parent, index)
        if not obj:
            raise pdfium.PdfiumError("Failed to get pageobject.")
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        if kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            yield obj
        elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and level < _MAX_DEPTH - 1:
            yield from _paths(
                obj, pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject, level + 1
            )
        elif kind == pdfium_c.FPDF_PAGEOBJ_UNKNOWN:
            raise pdfium.PdfiumError("Failed to determine pageobject type.")
