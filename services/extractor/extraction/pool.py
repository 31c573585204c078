"""ExtractorPool: documents extracted in worker processes, awaited from asyncio.

The service's event loop only ever waits: reading, parsing and counting happen in the workers.
Each worker is a ``python -m ...worker`` process (not ``fork``: the parent runs asyncio and Kafka
clients whose threads and sockets must not be duplicated), warmed up once and reused for many
documents. A worker is killed, and replaced in the background, when its document runs past the
timeout or the memory limit, when the job is cancelled, or when it crashes; the pool keeps
serving the other documents meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.reasons import ReasonCode

from . import protocol
from .assembly import ProgressCallback, ResultAssembly, merge_parts
from .collector import LanguageSample, too_much_text
from .errors import ExtractionCancelled, ExtractionError
from .limits import ExtractionLimits
from .ocr_options import OcrOptions
from .process import Frame, WorkerProcess, WorkerStartError
from .result import ExtractionResult

logger = logging.getLogger(__name__)

# RLIMIT_AS is set this far above memory_mb: a process maps address space it never touches
# (shared libraries, allocator arenas). The resident size itself is held to memory_mb by the
# watchdog; the address-space cap catches allocations too fast for the watchdog to see. 64 MB
# of it are the malloc arena glibc reserves for the worker's frame-flush thread (protocol.py),
# which it never fills: without them, the cap came before the watchdog.
ADDRESS_SPACE_HEADROOM_MB = 320
WATCH_INTERVAL_S = 0.1
# A worker that dies this close to a memory limit is taken to have died of it.
_NEAR_LIMIT = 0.8
_RESPAWN_DELAY_S = (0.5, 30.0)  # first and longest pause between failed attempts


@functools.lru_cache(maxsize=16)
def _as_dict(options: ExtractionLimits | OcrOptions) -> dict[str, Any]:
    """The options as a job sends them, made once (frozen: the same options, the same dict;
    dataclasses.asdict costs tens of microseconds a job). Not to be changed by the caller."""
    return options.to_dict()


@dataclass(eq=False)
class _Part:
    """One worker's share of a job: the whole document, or a page range of a split PDF."""

    worker: WorkerProcess | None  # None once a later part's worker went back to the pool
    assembly: ResultAssembly = field(default_factory=ResultAssembly)
    running: bool = True
    reusable: bool = False  # the worker finished its part cleanly and can take another job


class _Shares:
    """The pages of a split PDF, handed out range by range to the workers reading it as each
    asks for more: large ranges first, smaller ones towards the end, so that few questions are
    asked and the workers finish together however uneven the pages' cost (tables, OCR)."""

    def __init__(self, total: int, workers: int) -> None:
        self.total = total
        self._workers = workers
        self._next = 0
        self.first = self.take()  # the asking worker's: the document's first pages

    def take(self) -> range:
        remaining = self.total - self._next
        size = remaining if self._workers == 1 else -(-remaining // (2 * self._workers))
        pages = range(self._next, self._next + size)
        self._next += size
        return pages


@dataclass(eq=False)
class _Job:
    job_id: str
    waiter: asyncio.Future[WorkerProcess] | None = None
    worker: WorkerProcess | None = None
    cancel_requested: bool = False
    reusable: bool = False  # the worker finished the job cleanly and can take another
    # The later page ranges of a split PDF, each on a worker of its own (see _split).
    helpers: list[_Part] = field(default_factory=list)


class ExtractorPool:
    """A fixed number of warm worker processes (default: one per core) behind an async API.

    ``extract`` raises :class:`ExtractionError` (with a reason code) or
    :class:`ExtractionCancelled`, nothing else for bad input. ``tables`` turns pdfplumber's
    table search on PDFs on or off; DOCX and CSV tables cost nothing and always come back.
    ``ocr`` says when and how scanned or garbled PDF pages are read by OCR.

    A PDF with more than ``split_pages`` pages is read by several workers at once when others
    are idle as it starts: each reads contiguous page ranges handed out as it asks, and the
    pages are put together in page order into the result one worker would have produced. Only
    the workers idle at that moment are taken, never waited for, and an added worker leaves
    at the end of its range when another document waits, so a long document cannot hold up
    the others. 0 turns splitting off.
    """

    def __init__(
        self,
        workers: int | None = None,
        limits: ExtractionLimits = ExtractionLimits(),  # noqa: B008 - frozen, safe to share
        *,
        tables: bool = True,
        ocr: OcrOptions = OcrOptions(),  # noqa: B008 - frozen, safe to share
        split_pages: int = 16,
    ) -> None:
        self.size = workers if workers is not None else (os.cpu_count() or 1)
        if self.size < 1:
            raise ValueError("an extractor pool needs at least one worker")
        if split_pages < 0:
            raise ValueError("split_pages cannot be negative")
        self.split_pages = split_pages
        self.split_documents = 0  # documents read by more than one worker (tests, metrics)
        self.limits = limits
        self.tables = tables
        self.ocr = ocr
        self._address_space_mb = limits.memory_mb + ADDRESS_SPACE_HEADROOM_MB
        self._workers: set[WorkerProcess] = set()
        self._idle: list[WorkerProcess] = []
        self._waiters: deque[asyncio.Future[WorkerProcess]] = deque()
        # Usually one job per id; a document redelivered while in flight may have two.
        self._jobs: dict[str, list[_Job]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._dying: set[WorkerProcess] = set()  # killed, not yet reaped
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    async def __aenter__(self) -> ExtractorPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start and warm up all workers; idempotent. Raises WorkerStartError if one fails."""
        if self._closed:
            raise RuntimeError("the extractor pool is closed")
        if self._starting is None:
            self._starting = asyncio.create_task(self._start_all())
        if not self._starting.done():
            # asyncio.wait, not await: a caller giving up must not abort the start others
            # wait for.
            await asyncio.wait({self._starting})
        if self._starting.cancelled():
            raise RuntimeError("the extractor pool closed while starting")
        self._starting.result()

    async def extract(
        self,
        job_id: str,
        path: Path,
        *,
        password: str | None = None,
        on_progress: ProgressCallback | None = None,
        ocr_languages: str | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> ExtractionResult:
        """Extract one document; raises ExtractionError or ExtractionCancelled.

        ``ocr_languages`` ("eng+fra") overrides the pool's default for this document.
        ``on_start`` is called when a worker takes it (it may wait for one first)."""
        if self._closed:
            raise ExtractionCancelled("the extractor pool is closed")
        try:
            await self.start()
        except RuntimeError:
            if self._closed:
                raise ExtractionCancelled("the extractor pool closed") from None
            raise
        job = _Job(job_id)
        self._jobs.setdefault(job_id, []).append(job)
        worker: WorkerProcess | None = None
        try:
            worker = await self._acquire(job)
            if on_start is not None:
                on_start()
            # A relative path resolves in the worker, whose working directory is ours.
            request = {
                "k": protocol.JOB,
                "path": os.fspath(path),
                "password": password,
                "tables": self.tables,
                "limits": _as_dict(self.limits),
                "ocr": _as_dict(self.ocr),
                "ocr_languages": ocr_languages,
                # None: never ask (a single worker could only split with itself).
                "split_above": self.split_pages if self.split_pages and self.size > 1 else None,
            }
            return await self._run(job, worker, request, on_progress)
        finally:
            same_id = self._jobs[job_id]
            same_id.remove(job)
            if not same_id:
                del self._jobs[job_id]
            if worker is not None:
                if job.reusable:
                    self._release(worker)
                else:
                    self._retire(worker)

    async def cancel(self, job_id: str) -> bool:
        """Stop the queued or running extractions of ``job_id``; False when there are none."""
        jobs = self._jobs.get(job_id, [])
        for job in jobs:
            job.cancel_requested = True
            if job.waiter is not None and not job.waiter.done():
                job.waiter.set_exception(ExtractionCancelled(f"job {job_id} was cancelled"))
            elif job.worker is not None:
                # The only way to stop C code mid-page. The job sees the stream end and raises.
                job.worker.kill()
                for part in job.helpers:  # every page range of a split document
                    if part.worker is not None:
                        part.worker.kill()
        return bool(jobs)

    async def close(self) -> None:
        """Kill every worker and wait for them; jobs in flight raise ExtractionCancelled."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ExtractionCancelled("the extractor pool closed"))
        tasks: list[asyncio.Task[Any]] = list(self._background)
        if self._starting is not None:
            tasks.append(self._starting)
        for task in tasks:
            task.cancel()
        workers = [*self._workers, *self._dying]
        for worker in workers:
            worker.kill()
        await asyncio.gather(*tasks, *(w.reap() for w in workers), return_exceptions=True)
        self._workers.clear()
        self._dying.clear()
        self._idle.clear()

    # --- scheduling ---

    async def _start_all(self) -> None:
        results = await asyncio.gather(
            *(self._spawn() for _ in range(self.size)), return_exceptions=True
        )
        started = [r for r in results if isinstance(r, WorkerProcess)]
        failures = [r for r in results if not isinstance(r, WorkerProcess)]
        if failures:
            for worker in started:
                self._retire(worker, replace=False)
            raise WorkerStartError("extractor workers failed to start") from failures[0]
        for worker in started:
            self._release(worker)

    async def _spawn(self) -> WorkerProcess:
        worker = await WorkerProcess.spawn(self._address_space_mb)
        if self._closed:  # closed while this one was starting: it must not outlive the pool
            worker.kill()
            await worker.reap()
            raise WorkerStartError("the extractor pool closed while a worker was starting")
        self._workers.add(worker)
        return worker

    async def _acquire(self, job: _Job) -> WorkerProcess:
        while True:
            if self._idle:
                worker = self._idle.pop()
            else:
                waiter = job.waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    worker = await waiter
                except BaseException:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                    # Handed a worker just as the caller was cancelled: give it back.
                    if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                        self._release(waiter.result())
                    raise
                finally:
                    job.waiter = None
            if not worker.alive:
                self._retire(worker)  # died while idle
                continue
            if job.cancel_requested:
                self._release(worker)
                raise ExtractionCancelled(f"job {job.job_id} was cancelled")
            job.worker = worker
            return worker

    def _release(self, worker: WorkerProcess) -> None:
        if self._closed or not worker.alive:
            self._retire(worker)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _retire(self, worker: WorkerProcess, *, replace: bool = True) -> None:
        self._workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        worker.kill()
        if self._closed and worker.exited:
            return  # close() has reaped it already
        self._dying.add(worker)
        self._in_background(self._reap_and_replace(worker, replace))

    async def _reap_and_replace(self, worker: WorkerProcess, replace: bool) -> None:
        try:
            await worker.reap()
        finally:
            self._dying.discard(worker)
        delay, longest = _RESPAWN_DELAY_S
        while replace and not self._closed:
            try:
                self._release(await self._spawn())
                return
            except Exception:  # whatever it was, a pool that shrinks silently is worse
                logger.exception("extractor worker failed to start; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # a part's failure is raised by its job, not logged as unretrieved

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- one job: one worker, or several for a split PDF ---

    async def _run(
        self,
        job: _Job,
        worker: WorkerProcess,
        request: protocol.Header,
        on_progress: ProgressCallback | None,
    ) -> ExtractionResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.limits.timeout_s  # for the document, whatever its parts
        first = _Part(worker)
        parts = [first]  # the first worker, then those added to a split PDF
        tasks: list[asyncio.Task[protocol.Header]] = []
        failures: list[BaseException] = []

        def report(_done: int, total: int) -> None:
            # Pages done in all parts: monotonic, and at most the total (which all parts share).
            if on_progress is not None:
                on_progress(sum(len(part.assembly.pages) for part in parts), total)

        def stop_all(failure: BaseException) -> None:
            """The first part to fail decides the document's reason; the others are stopped."""
            if not failures:
                failures.append(failure)
            for part in parts:
                if part.running and part.worker is not None:
                    part.worker.kill()

        shares: list[_Shares] = []  # set by the first worker's first ask

        def next_pages(total: int) -> range:
            """A worker of this document asks for pages (see protocol.SPLIT)."""
            if not shares:  # the first worker has counted more than split_pages pages
                helpers = self._take_idle(min(self.size, -(-total // self.split_pages)) - 1)
                shares.append(_Shares(total, 1 + len(helpers)))
                for helper in helpers:
                    start_helper(helper)
                if helpers:
                    self.split_documents += 1
                return shares[0].first
            if total != shares[0].total:
                raise ValueError(f"a worker counted {total} pages, not {shares[0].total}")
            return shares[0].take()

        def share(total: int) -> range:
            """An added worker asks for more: none while another document waits for a worker,
            which this one then serves; the first worker reads what is left."""
            if any(not waiter.done() for waiter in self._waiters):
                return range(0)
            return next_pages(total)

        def start_helper(helper: WorkerProcess) -> None:
            part = _Part(helper)
            parts.append(part)
            job.helpers.append(part)
            helper_request = {**request, "split_above": 0, "helper": True}
            task = loop.create_task(
                self._run_part(job, part, helper_request, deadline, report, stop_all, share)
            )
            tasks.append(task)
            self._background.add(task)  # close() cancels it with the rest
            task.add_done_callback(self._forget)

        try:
            try:
                done = await self._drive(job, first, request, deadline, report, next_pages)
            finally:
                job.reusable = first.reusable
            if tasks:
                await asyncio.wait(tasks)
        except BaseException as exc:
            stop_all(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            if failures[0] is exc:
                raise self._said_of_parts(exc, split=bool(tasks)) from None
            # The first worker was stopped because a later part failed: that part's reason.
            raise self._said_of_parts(failures[0], split=True) from None
        finally:
            for task in tasks:
                task.cancel()  # those still running: their workers are killed and replaced
        if failures:
            raise self._said_of_parts(failures[0], split=True)
        took_ms = (loop.time() - started) * 1000
        if not tasks:
            return first.assembly.result(done, took_ms=took_ms)
        finished = [
            (first.assembly, done),
            *((p.assembly, t.result()) for p, t in zip(parts[1:], tasks, strict=True)),
        ]
        return merge_parts(
            finished,
            language=await self._language(finished, shares[0].first),
            max_chars=self.limits.max_chars,
            took_ms=took_ms,
        )

    def _take_idle(self, wanted: int) -> list[WorkerProcess]:
        """Up to ``wanted`` workers idle right now; never waits for one (a long document
        must not hold up the documents behind it)."""
        taken: list[WorkerProcess] = []
        while self._idle and len(taken) < wanted:
            worker = self._idle.pop()
            if worker.alive:
                taken.append(worker)
            else:
                self._retire(worker)  # died while idle
        return taken

    async def _language(
        self, parts: list[tuple[ResultAssembly, protocol.Header]], first_range: range
    ) -> str | None:
        """The first worker's language when the pages of its first range filled the sample
        language detection looks at (the usual case: they are the document's first pages);
        otherwise detected here from the merged pages' sample."""
        sample = LanguageSample()
        pages = sorted((p for a, _ in parts for p in a.pages), key=lambda p: p.number)
        for page in pages:
            sample.add(page.text, page.empty)
            if sample.full:
                if page.number <= first_range.stop:
                    language = parts[0][1].get("language")
                    return None if language is None else str(language)
                break
        # A thread: detection takes tens of milliseconds the event loop must not wait.
        return await asyncio.to_thread(sample.language)

    def _said_of_parts(self, failure: BaseException, *, split: bool) -> BaseException:
        """A split PDF's part over the text limit counted only the pages it read: the page it
        names is not the document's, so the document's error names none."""
        too_large = isinstance(failure, ExtractionError) and failure.reason is ReasonCode.TOO_LARGE
        if split and too_large:
            return too_much_text(self.limits.max_chars, None)
        return failure

    async def _run_part(
        self,
        job: _Job,
        part: _Part,
        request: protocol.Header,
        deadline: float,
        report: ProgressCallback,
        stop_all: Callable[[BaseException], None],
        next_pages: Callable[[int], range],
    ) -> protocol.Header:
        """A worker added to a split PDF; it goes back to the pool at its end."""
        try:
            return await self._drive(job, part, request, deadline, report, next_pages)
        except BaseException as exc:
            stop_all(exc)
            raise
        finally:
            worker, part.worker = part.worker, None
            if worker is not None:
                if part.reusable:
                    self._release(worker)
                else:
                    self._retire(worker)

    async def _drive(
        self,
        job: _Job,
        part: _Part,
        request: protocol.Header,
        deadline: float,
        report: ProgressCallback,
        next_pages: Callable[[int], range] | None = None,
    ) -> protocol.Header:
        """Runs one part to its DONE header; raises ExtractionError or ExtractionCancelled.

        The frames are taken as they arrive, in the pipe's data callback (see process.py);
        this coroutine only wakes up for the outcome, and for the memory watch and the
        deadline."""
        worker = part.worker
        assert worker is not None
        loop = asyncio.get_running_loop()
        # The memory watch keeps its rhythm across the worker's jobs: a new job is sampled
        # at once unless the worker was sampled less than WATCH_INTERVAL_S ago.
        worker.next_memory_check = min(worker.next_memory_check, loop.time() + WATCH_INTERVAL_S)
        # The DONE header, or None when the stream ended first.
        outcome: asyncio.Future[protocol.Header | None] = loop.create_future()

        def take(frame: Frame | None) -> None:
            if outcome.done():
                return  # after the outcome: nothing a worker sends counts any more
            if frame is None:
                outcome.set_result(None)
                return
            try:
                if next_pages is not None and frame[0]["k"] == protocol.SPLIT:
                    pages = next_pages(int(frame[0]["total"]))
                    worker.send({"k": protocol.PAGES, "start": pages.start, "stop": pages.stop})
                    return
                done = part.assembly.add(frame, report)
            except ExtractionError as exc:
                part.reusable = not part.assembly.worker_exiting
                outcome.set_exception(exc)
            except (KeyError, TypeError, ValueError) as exc:
                worker.kill()
                broke = ExtractionError(
                    ReasonCode.INTERNAL, f"The extractor worker broke the protocol: {exc!r}"
                )
                broke.__cause__ = exc
                outcome.set_exception(broke)
            except Exception as exc:  # noqa: BLE001 - raised by the job, not in the pipe's callback
                outcome.set_exception(exc)
            else:
                if done is not None:
                    part.reusable = True
                    outcome.set_result(done)

        # In the job's context (the caller's trace, say), as when a coroutine took them.
        context = contextvars.copy_context()
        try:
            worker.send(request)
            worker.consume(lambda frame: context.run(take, frame))
            while not outcome.done():
                self._watch(worker, deadline, loop.time())
                wait = min(deadline, worker.next_memory_check) - loop.time()
                await asyncio.wait((outcome,), timeout=max(wait, 0.0))
            done = outcome.result()
            if done is None:
                raise await self._why_it_ended(job, worker)
            return done
        finally:
            worker.consume(None)
            outcome.cancel()  # when the watch or a cancellation ended the part first
            part.running = False

    def _watch(self, worker: WorkerProcess, deadline: float, now: float) -> None:
        """Stops a worker over the memory limit (sampled every WATCH_INTERVAL_S) or past the
        deadline."""
        if now >= worker.next_memory_check:
            worker.next_memory_check = now + WATCH_INTERVAL_S
            if worker.sample_memory() > self.limits.memory_mb:
                worker.kill()
                raise ExtractionError(
                    ReasonCode.MEMORY_LIMIT,
                    f"Extraction used more than {self.limits.memory_mb} MB of memory; "
                    "it was stopped.",
                )
        if now >= deadline:
            worker.kill()
            raise ExtractionError(
                ReasonCode.TIMEOUT,
                f"Extraction took longer than {self.limits.timeout_s:g} s; it was stopped.",
            )

    async def _why_it_ended(self, job: _Job, worker: WorkerProcess) -> Exception:
        """The error for a worker whose stream ended in the middle of a job."""
        code = await worker.exit_code()
        if job.cancel_requested or self._closed:
            return ExtractionCancelled(f"job {job.job_id} was cancelled")
        if worker.broken:
            return ExtractionError(ReasonCode.INTERNAL, "The extractor worker broke the protocol.")
        near_limit = (
            worker.rss_mb >= _NEAR_LIMIT * self.limits.memory_mb
            or worker.vms_mb >= _NEAR_LIMIT * self._address_space_mb
        )
        # SIGKILL that is not ours comes from the kernel's OOM killer.
        if code in (protocol.EXIT_OUT_OF_MEMORY, -signal.SIGKILL) or near_limit:
            return ExtractionError(
                ReasonCode.MEMORY_LIMIT,
                f"Extraction ran out of memory (limit {self.limits.memory_mb} MB).",
            )
        if code < 0:
            return ExtractionError(
                ReasonCode.CORRUPT,
                f"The document crashed the reader ({signal.Signals(-code).name}).",
            )
        return ExtractionError(
            ReasonCode.INTERNAL, f"The extractor worker exited unexpectedly (status {code})."
        )
