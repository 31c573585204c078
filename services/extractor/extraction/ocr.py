"""OCR with Tesseract, in the worker process: page image -> upright, straight -> text.

The engine is tesserocr, which calls libtesseract in this process (its wheel carries the
engine; Debian's tesseract-ocr-* packages bring the language data). In-process, OCR counts
against the worker's memory limit, stops when the pool kills the worker, and keeps each
language model loaded from one page to the next (the tesseract command line would load it
again for every page).

Per page: render with pdfium in greyscale at ``dpi`` (less for huge pages), find the
orientation with Tesseract's OSD and turn the image upright, measure the skew on a small copy
(projection profiles: rows of text line up when the angle is right) and straighten it, then
recognise in the document's languages. Tesseract's page layout analysis gives the blocks in
reading order (columns one after the other).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

from .ocr_options import OcrOptions, find_tessdata

# Orientation found with less confidence than this is not acted on (Tesseract's OSD reports a
# few units for clear text pages, below one for noise).
MIN_ORIENTATION_CONFIDENCE = 1.5
# ... and above this it is taken at its word (clear pages score 15 to 35; faint ones 3 to 5).
SURE_ORIENTATION_CONFIDENCE = 10.0
# Skew search: within +-MAX_SKEW degrees; smaller angles than MIN_SKEW are left alone.
MAX_SKEW = 10.0
MIN_SKEW = 0.5
_SKEW_SAMPLE_PX = 800
_BLANK_LINES = re.compile(r"\n{3,}")


class OcrUnavailableError(Exception):
    """No engine or no language data: pages that need OCR keep what they have, with a warning."""


@dataclass
class OcrReading:
    text: str
    confidence: float  # 0..1
    languages: str
    rotated: int = 0  # how far (degrees, counter-clockwise) the page was turned
    deskewed: float = 0.0  # degrees
    warnings: list[str] = field(default_factory=list)


class OcrEngine:
    """One per worker; Tesseract models are loaded on first use and kept."""

    def __init__(self, options: OcrOptions) -> None:
        self.options = options
        self._apis: dict[str, Any] = {}
        self._tessdata: str | None = None
        self._installed: set[str] | None = None

    def _engine(self) -> Any:
        try:
            import tesserocr  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise OcrUnavailableError(f"OCR is not available: {exc}") from exc
        if self._tessdata is None:
            self._tessdata = find_tessdata(self.options.tessdata_dir)
            if self._tessdata is None:
                raise OcrUnavailableError("OCR is not available: no Tesseract language data")
            _, found = tesserocr.get_languages(self._tessdata)
            self._installed = set(found)
        return tesserocr

    def resolve_languages(self, wanted: str | None) -> tuple[str, list[str]]:
        """The languages to use of those asked for (default: the options'), and warnings."""
        self._engine()
        installed = self._installed or set()
        asked = [code for code in (wanted or self.options.languages).split("+") if code]
        usable = [code for code in asked if code in installed]
        warnings = []
        missing = [code for code in asked if code not in installed]
        if missing:
            warnings.append(f"OCR languages not installed: {'+'.join(missing)}")
        if not usable:
            fallback = [c for c in self.options.languages.split("+") if c in installed]
            usable = fallback or sorted(installed - {"osd"})[:1]
        if not usable:
            raise OcrUnavailableError("OCR is not available: no Tesseract language installed")
        return "+".join(usable), warnings

    def _api(self, languages: str) -> Any:
        api = self._apis.get(languages)
        if api is None:
            tesserocr = self._engine()
            if len(self._apis) >= 3:  # a worker seldom sees more; each model costs memory
                self._apis.pop(next(iter(self._apis))).End()
            api = tesserocr.PyTessBaseAPI(
                path=self._tessdata, lang=languages, oem=tesserocr.OEM.LSTM_ONLY
            )
            self._apis[languages] = api
        return api

    def _osd_api(self) -> Any | None:
        """Orientation needs its own model (osd.traineddata): asked through the recognition
        model's API, Tesseract 5 aborts the process."""
        if "osd" not in self._apis:
            tesserocr = self._engine()
            if "osd" not in (self._installed or set()):
                return None
            self._apis["osd"] = tesserocr.PyTessBaseAPI(
                path=self._tessdata, lang="osd", psm=tesserocr.PSM.OSD_ONLY
            )
        return self._apis["osd"]

    def render_page(self, page: Any) -> Image.Image:
        """A pdfium page as a greyscale image at the OCR resolution, within the pixel budget."""
        width, height = page.get_size()
        scale = self.options.dpi / 72
        budget = self.options.max_megapixels * 1e6
        if width * height * scale * scale > budget:
            scale = math.sqrt(budget / (width * height))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image: Image.Image = bitmap.to_pil().convert("L")
        finally:
            bitmap.close()
        return image

    def read_image(self, image: Image.Image, languages: str) -> OcrReading:
        turned, sure = self._turned(image)
        reading = self._recognise(image, turned, languages)
        if turned and not sure:
            # OSD is known to mistake 90 for 270 degrees on faint or curved scans: when it is
            # unsure, the opposite turn is read too and the more confident reading kept.
            other = self._recognise(image, (turned + 180) % 360, languages)
            if other.confidence > reading.confidence:
                reading = other
        return reading

    def _recognise(self, image: Image.Image, turned: int, languages: str) -> OcrReading:
        if turned:
            image = image.rotate(-turned, expand=True)  # PIL turns counter-clockwise
        angle = estimate_skew(image)
        if abs(angle) >= MIN_SKEW:
            image = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
        else:
            angle = 0.0
        api = self._api(languages)
        api.SetImage(image)
        try:
            text = api.GetUTF8Text()
            confidence = max(api.MeanTextConf(), 0) / 100
        finally:
            api.Clear()
        return OcrReading(_tidy(text), confidence, languages, turned, angle)

    def _turned(self, image: Image.Image) -> tuple[int, bool]:
        """How far (degrees, counter-clockwise) the page's text is turned, and whether OSD is
        sure of it."""
        osd = self._osd_api()
        if osd is None:
            return 0, True
        osd.SetImage(image)
        try:
            found = osd.DetectOrientationScript()
        finally:
            osd.Clear()
        confidence = float(found.get("orient_conf", 0)) if found else 0.0
        if not found or not found.get("orient_deg") or confidence < MIN_ORIENTATION_CONFIDENCE:
            return 0, True
        # OSD's orient_deg is the clockwise turn of the text (tesseract's "Rotate:" is its
        # complement); the page was turned the other way round.
        return (360 - int(found["orient_deg"])) % 360, confidence >= SURE_ORIENTATION_CONFIDENCE

    def close(self) -> None:
        for api in self._apis.values():
            api.End()
        self._apis.clear()


def estimate_skew(image: Image.Image) -> float:
    """The angle (degrees, counter-clockwise) that straightens the text lines of ``image``.

    On a small inked copy, each candidate rotation's row profile (the mean ink of every row)
    is scored by how sharply it changes from row to row: lines of text that run straight make
    dark rows and white gaps, skewed ones smear them. A coarse search, then a fine one.
    """
    sample = image.copy()
    sample.thumbnail((_SKEW_SAMPLE_PX, _SKEW_SAMPLE_PX))
    ink = ImageOps.invert(sample).point(lambda value: 255 if value > 96 else 0)

    def sharpness(angle: float) -> float:
        turned = ink.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0)
        rows = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()
        return float(sum((a - b) ** 2 for a, b in itertools.pairwise(rows)))

    def rank(angle: float) -> tuple[float, float]:
        return sharpness(angle), -abs(angle)  # on a tie, the smaller turn

    coarse = [step / 2 for step in range(int(-2 * MAX_SKEW), int(2 * MAX_SKEW) + 1)]
    best: float = max(coarse, key=rank)
    fine = [best + step / 10 for step in range(-5, 6)]
    best = max(fine, key=rank)
    return round(best, 1)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\x0c", "").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
