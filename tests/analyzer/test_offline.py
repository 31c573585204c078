"""The offline provider on real documents from the shared corpus."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from docx import Document

from services.analyzer.analysis import (
    AnalysisCancelled,
    AnalysisError,
    AnalyzerProvider,
    OfflineConfig,
    OfflineProvider,
)
from services.analyzer.analysis.segmentation import split_sentences
from services.extractor.extraction.dispatch import extract_pages
from services.extractor.extraction.pages import PAGE_SEPARATOR
from shared.events import AnalysisResult
from shared.reasons import ReasonCode


def pdf_text(path: Path) -> str:
    return PAGE_SEPARATOR.join(extract_pages(path))


def docx_text(path: Path) -> str:
    # Body paragraphs only: these tests know which sentence opens the body.
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_quotes_source(result: AnalysisResult, source: str) -> None:
    """Summary and key points are sentences of the source (whitespace runs aside)."""
    haystack = flat(source)
    for piece in (p for _, p in split_sentences(flat(result.summary))):
        assert piece in haystack, piece
    for point in result.key_points:
        assert flat(point) in haystack, point


@pytest.fixture(scope="module")
def english(corpus_dir: Path) -> str:
    return pdf_text(corpus_dir / "pdf" / "federal-register-2020-17221.pdf")


@pytest.fixture(scope="module")
def french(corpus_dir: Path) -> str:
    return pdf_text(corpus_dir / "pdf" / "chelsea_pdta.pdf")


@pytest.fixture(scope="module")
async def offline() -> AsyncIterator[OfflineProvider]:
    provider = OfflineProvider()
    yield provider
    await provider.close()


async def test_it_is_an_analyzer_provider(offline: OfflineProvider) -> None:
    assert isinstance(offline, AnalyzerProvider)
    assert offline.name == "offline"


async def test_english_pdf(offline: OfflineProvider, english: str) -> None:
    result = await offline.analyze(english, document_id="fr-2020-17221")
    assert result.provider == "offline" and result.usage.calls == 0
    assert result.language == "en"
    assert result.chunks > 1
    assert len(result.summary) > 200
    assert_quotes_source(result, english)
    assert result.sentiment.label in {"positive", "negative", "neutral", "mixed"}
    assert result.topics and "FAA" in result.topics
    assert not any("VADER" in w for w in result.warnings)  # English: no caveat needed


async def test_french_65_pages_is_read_to_the_end(offline: OfflineProvider, french: str) -> None:
    result = await offline.analyze(french, document_id="chelsea")
    assert result.language == "fr"
    assert result.chunks > 1
    assert_quotes_source(result, french)
    assert "transport actif" in result.topics
    # Key points cover the document: at least one comes from its second half.
    haystack = flat(french)
    positions = [haystack.find(flat(p)) for p in result.key_points]
    assert max(positions) > len(haystack) // 2
    # VADER is English-only: the label is given, with an honest caveat.
    assert result.sentiment.label in {"positive", "negative", "neutral", "mixed"}
    assert any("VADER" in w and "'fr'" in w for w in result.warnings)


async def test_docx(offline: OfflineProvider, corpus_dir: Path) -> None:
    text = docx_text(corpus_dir / "docx" / "blk-paras-and-tables.docx")
    result = await offline.analyze(text, document_id="docx")
    assert result.summary.startswith("Lorem ipsum dolor sit amet")
    assert result.key_points
    assert_quotes_source(result, text)


async def test_no_text_is_a_result_not_a_crash(offline: OfflineProvider, corpus_dir: Path) -> None:
    text = docx_text(corpus_dir / "docx" / "having-images.docx")
    result = await offline.analyze(text, document_id="images")
    assert result.summary == "" and result.chunks == 0
    assert result.sentiment.label == "neutral"
    assert result.warnings


async def test_short_notes_without_prose_fall_back_to_the_opening(
    offline: OfflineProvider,
) -> None:
    text = "Invoice 4471\nTotal: 120 EUR\nDue 2024-05-01"
    result = await offline.analyze(text, document_id="note")
    assert result.summary and result.summary in flat(text)
    assert any("no prose" in w for w in result.warnings)


async def test_language_hint_is_used_and_a_disagreement_noted(
    offline: OfflineProvider, english: str
) -> None:
    result = await offline.analyze(english[:5000], document_id="d", language_hint="de")
    assert result.language == "de"
    assert any("language hint" in w for w in result.warnings)


@pytest.mark.parametrize("length", [3000, 60000], ids=["one chunk", "several chunks"])
async def test_the_extractors_language_is_taken_without_detecting_again(
    monkeypatch: pytest.MonkeyPatch, english: str, length: int
) -> None:
    from services.analyzer.analysis import offline as offline_module

    detections: list[str] = []
    real = offline_module.detect

    def counted(sample: str) -> str | None:
        detections.append(sample)
        return real(sample)

    monkeypatch.setattr(offline_module, "detect", counted)
    provider = OfflineProvider(OfflineConfig(executor="thread"))
    try:
        known = await provider.analyze(english[:length], document_id="k", detected_language="en")
        assert detections == []
        assert known.language == "en" and not known.warnings
        # The uploader's hint is still checked against the text.
        hinted = await provider.analyze(
            english[:length], document_id="h", language_hint="de", detected_language="en"
        )
        assert len(detections) == 1
        assert hinted.language == "de"
        assert any("language hint 'de'" in w for w in hinted.warnings)
        # Nothing known: detected, and the same analysis as with the extractor's answer.
        alone = await provider.analyze(english[:length], document_id="a")
        assert len(detections) == 2
    finally:
        await provider.close()
    assert alone.model_dump(exclude={"took_ms"}) == known.model_dump(exclude={"took_ms"})


async def test_cancelled(offline: OfflineProvider, english: str) -> None:
    with pytest.raises(AnalysisCancelled):
        await offline.analyze(english, document_id="d", is_cancelled=lambda: True)


async def test_cancelled_between_chunks(offline: OfflineProvider, french: str) -> None:
    checks = 0

    def cancel_on_third_check() -> bool:
        nonlocal checks
        checks += 1
        return checks >= 3

    with pytest.raises(AnalysisCancelled):
        await offline.analyze(french, document_id="d", is_cancelled=cancel_on_third_check)
    assert checks == 3


async def test_the_event_loop_keeps_running(offline: OfflineProvider, french: str) -> None:
    """The CPU work runs in worker processes, not in the agent's process: its loop keeps
    ticking meanwhile. Measured in CPU time, not in gaps between ticks, so that a loaded
    machine cannot fail it (nor pass it) by scheduling alone."""
    await offline.analyze("Warm the worker pool up. It starts once.", document_id="warm")
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    def workers_cpu_s() -> float:
        total = 0.0
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total

    ticker = asyncio.create_task(tick())
    ours, theirs = time.process_time(), workers_cpu_s()
    await offline.analyze(french + "\n\n" + french, document_id="big")
    ours, theirs = time.process_time() - ours, workers_cpu_s() - theirs
    done.set()
    await ticker
    assert ticks > 5
    # Inline, this process would have spent all of it (over a tenth of a second of CPU).
    assert theirs > 0.05, theirs
    assert ours < theirs / 4, (ours, theirs)


async def test_thread_executor_gives_the_same_analysis(english: str) -> None:
    threads = OfflineProvider(OfflineConfig(executor="thread"))
    processes = OfflineProvider(OfflineConfig(executor="process", workers=1))
    try:
        a = await threads.analyze(english, document_id="a")
        b = await processes.analyze(english, document_id="b")
    finally:
        await threads.close()
        await processes.close()
    assert a.model_dump(exclude={"took_ms"}) == b.model_dump(exclude={"took_ms"})


async def test_a_few_chunks_in_one_call_give_the_chunk_by_chunk_analysis(english: str) -> None:
    """The 15-page PDF is several chunks: analysed in one worker call, or spread over the
    workers chunk by chunk, the analysis is the same (the reduce orders the digests)."""
    one_call = OfflineProvider(OfflineConfig(executor="process", workers=2))
    spread = OfflineProvider(OfflineConfig(executor="process", workers=2, one_call_chunks=1))
    try:
        for hint, known in ((None, None), (None, "en"), ("de", "en")):
            a = await one_call.analyze(
                english, document_id="a", language_hint=hint, detected_language=known
            )
            b = await spread.analyze(
                english, document_id="b", language_hint=hint, detected_language=known
            )
            assert a.chunks == b.chunks > 1
            assert a.model_dump(exclude={"took_ms"}) == b.model_dump(exclude={"took_ms"})
    finally:
        await one_call.close()
        await spread.close()


async def test_unexpected_errors_become_internal(
    monkeypatch: pytest.MonkeyPatch, english: str
) -> None:
    from services.analyzer.analysis import offline as offline_module

    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(offline_module, "map_chunk", broken)
    provider = OfflineProvider(OfflineConfig(executor="thread"))
    try:
        with pytest.raises(AnalysisError) as info:
            await provider.analyze(english, document_id="d")
    finally:
        await provider.close()
    assert info.value.reason is ReasonCode.INTERNAL and not info.value.retryable


def test_the_offline_analysis_does_not_import_the_gemini_sdk() -> None:
    """The offline pool's workers import the analysis package: google-genai (~0.5 s, ~40 MB)
    is only imported when the Gemini side is asked for."""
    script = "\n".join(
        [
            "import sys",
            "from services.analyzer.analysis import OfflineProvider",
            "from services.analyzer.analysis.offline import prepare_worker",
            "print('google.genai' in sys.modules)",
            "from services.analyzer.analysis import GeminiProvider, build_provider",
            "names = GeminiProvider.__name__, build_provider.__name__",
            "print('google.genai' in sys.modules, *names)",
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["False", "True", "GeminiProvider", "build_provider"]


def test_an_unknown_name_of_the_analysis_package_is_an_attribute_error() -> None:
    import services.analyzer.analysis as analysis

    with pytest.raises(AttributeError, match="no_such_thing"):
        analysis.no_such_thing  # noqa: B018
