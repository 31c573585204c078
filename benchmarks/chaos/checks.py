"""Verdicts on every document of a fault run, and the figures they add up to."""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chaos.client import DocRun, Timeline
from benchmarks.chaos.events import Seen
from benchmarks.chaos.faults import Kill
from services.status.fold import TERMINAL

# What a stage's input looks like in a document's last event: the stage owes the next one.
WAITING_ON = {
    "extractor": {"document.accepted", "extraction.started", "extraction.progressed"},
    "analyzer": {"extraction.completed", "analysis.started"},
}
#: Fields of the read model that must equal the refold of documents.events.
REFOLD_FIELDS = ("status", "generation", "extraction", "text_blob", "analysis")


def outcome(doc: dict[str, Any] | None) -> str:
    if doc is None:
        return "missing"
    status = str(doc.get("status"))
    if status == "failed":
        return f"failed:{(doc.get('error') or {}).get('reason')}"
    return status


def fingerprint(doc: dict[str, Any], blob_dir: Path) -> dict[str, Any]:
    """What a run without faults must give for the same file: outcome, extraction metadata
    (less its timing), the text's hash, and the analysis (less its timing)."""
    extraction = {k: v for k, v in (doc.get("extraction") or {}).items() if k != "took_ms"}
    analysis = {k: v for k, v in (doc.get("analysis") or {}).items() if k != "took_ms"}
    text_hash = None
    blob = doc.get("text_blob") or {}
    if blob.get("key"):
        path = blob_dir / blob["key"]
        text_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"
    return {
        "outcome": outcome(doc),
        "extraction": extraction,
        "text_sha256": text_hash,
        "analysis": analysis,
    }


def diff_keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


@dataclass
class Failure:
    document: str
    file: str
    problem: str
    detail: str = ""


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    #: Not failures, but worth a look (e.g. what became of uploads the client never heard of).
    notes: list[Failure] = field(default_factory=list)


def judge(
    docs: list[DocRun],
    *,
    read_model: dict[str, dict[str, Any]],
    refolded: dict[str, dict[str, Any]],
    conflicts: dict[str, list[str]],
    references: dict[str, dict[str, Any]],
    blob_dir: Path,
    reference_ids: set[str],
) -> Verdict:
    v = Verdict()
    f = v.figures
    counts = dict.fromkeys(
        (
            "lost",
            "duplicated",
            "stuck",
            "wrong_outcome",
            "content_mismatch",
            "refold_mismatch",
            "watcher_missed",
            "watcher_wrong",
            "cancelled",
            "cancel_requested",
            "refused",
            "accepted",
            "orphans",
            "orphans_unfinished",
        ),
        0,
    )

    def fail(doc_id: str, file: str, problem: str, detail: str = "") -> None:
        v.failures.append(Failure(doc_id, file, problem, detail))

    for run in docs:
        key = run.sample.key
        if run.status_code is None:
            counts["lost"] += 1
            fail("-", key, "lost", f"upload never answered after {run.attempts} attempts")
            continue
        if run.status_code != 202:
            counts["refused"] += 1
            if not run.sample.allows("refused"):
                counts["wrong_outcome"] += 1
                fail("-", key, "wrong_outcome", f"refused {run.status_code} {run.refused_reason}")
            continue
        counts["accepted"] += 1
        assert run.id is not None
        doc = read_model.get(run.id)
        folded = refolded.get(run.id)
        if folded is None or doc is None:
            counts["lost"] += 1
            where = "documents.events" if folded is None else "the read model"
            fail(run.id, key, "lost", f"absent from {where}")
            continue
        got = outcome(doc)
        if doc.get("status") not in TERMINAL:
            counts["stuck"] += 1
            fail(run.id, key, "stuck", f"status {doc.get('status')} at the end")
        else:
            cancel_landed = run.cancel and run.cancel_answer == 202
            if got == "cancelled":
                counts["cancelled"] += 1
            if not (run.sample.allows(got) or (got == "cancelled" and cancel_landed)):
                counts["wrong_outcome"] += 1
                fail(run.id, key, "wrong_outcome", f"{got}, expected {sorted(run.sample.outcomes)}")
            elif got != "cancelled" and key in references:
                mine = fingerprint(doc, blob_dir)
                differs = diff_keys(mine, references[key])
                if differs:
                    counts["content_mismatch"] += 1
                    counts["wrong_outcome"] += 1
                    fail(
                        run.id, key, "content_mismatch", f"differs from the reference in {differs}"
                    )
        if run.cancel:
            counts["cancel_requested"] += 1
        if run.id in conflicts:
            counts["duplicated"] += 1
            fail(run.id, key, "duplicated", "; ".join(conflicts[run.id]))
        mismatched = [k for k in REFOLD_FIELDS if doc.get(k) != folded.get(k)]
        if (doc.get("error") or {}).get("reason") != (folded.get("error") or {}).get("reason"):
            mismatched.append("error.reason")
        if mismatched:
            counts["refold_mismatch"] += 1
            fail(
                run.id,
                key,
                "refold_mismatch",
                ", ".join(
                    f"{k}: db={doc.get(k)!r:.80} fold={folded.get(k)!r:.80}" for k in mismatched
                ),
            )
        watch = run.watch
        if watch.terminal is None:
            counts["watcher_missed"] += 1
            fail(
                run.id,
                key,
                "watcher_missed",
                f"{watch.connects} connections, gave up={watch.gave_up}",
            )
        elif watch.terminal != doc.get("status"):
            counts["watcher_wrong"] += 1
            fail(
                run.id,
                key,
                "watcher_wrong",
                f"watcher saw {watch.terminal}, read model {doc.get('status')}",
            )

    # Documents in the topic that no client was told about: an upload that died after
    # publishing (ingest killed mid-request). Allowed, but each must still finish.
    known = {run.id for run in docs if run.id} | reference_ids
    for doc_id, folded in refolded.items():
        if doc_id in known:
            continue
        counts["orphans"] += 1
        doc = read_model.get(doc_id)
        v.notes.append(
            Failure(doc_id, str(folded.get("filename")), "orphan", f"ended {outcome(doc)}")
        )
        if doc is None or doc.get("status") not in TERMINAL:
            counts["orphans_unfinished"] += 1
            counts["stuck"] += 1
            fail(
                doc_id,
                str(folded.get("filename")),
                "stuck",
                f"unacknowledged upload, {outcome(doc)}",
            )
    f.update(counts)
    f["uploads_503"] = sum(run.answered_503 for run in docs)
    f["uploads_missing_retry_after"] = sum(run.missing_retry_after for run in docs)
    f["upload_connection_errors"] = sum(run.connection_errors for run in docs)
    f["upload_server_errors"] = sum(len(run.server_errors) for run in docs)
    f["ws_reconnects"] = sum(run.watch.reconnects for run in docs if run.watch.terminal)
    return v


def recovery(
    kills: list[Kill],
    *,
    live: dict[str, list[Seen]],
    timeline: Timeline,
    snapshots: list[float],
    window_s: float = 60.0,
) -> None:
    """Fill each kill's recovery_s (see docs/reliability.md for the definitions)."""
    snapshots = sorted(snapshots)
    accepted = sorted(timeline.accepted)
    for kill in kills:
        if not kill.at:
            continue
        if kill.service == "ingest":
            kill.recovery_s = _first_after(accepted, kill.at, window_s)
        elif kill.service == "gateway":
            kill.recovery_s = _first_after(snapshots, kill.at, window_s)
        elif kill.service in WAITING_ON:
            kill.recovery_s = _stage_recovery(kill, live, WAITING_ON[kill.service], window_s)
        # status: measured live from its consumer group's offsets (harness)


def _first_after(times: list[float], t: float, window_s: float) -> float | None:
    for x in times:
        if t < x <= t + window_s:
            return round(x - t, 2)
    return None


def _stage_recovery(
    kill: Kill, live: dict[str, list[Seen]], waiting: set[str], window_s: float
) -> float | None:
    """The longest wait, after the kill, of a document the stage owed its next event: those
    waiting at the kill and those that came to wait within 30 s after it (both: documents in
    flight on the surviving replica must not hide those on the killed one's partitions)."""
    waits: list[float] = []
    never = window_s * 10  # no next event at all: the document is stuck, recovery fails
    for seen in live.values():
        ordered = sorted(seen, key=lambda s: s.at)
        before = [s for s in ordered if s.at <= kill.at]
        after = [s for s in ordered if s.at > kill.at]
        if before and before[-1].event.type in waiting:
            waits.append((after[0].at if after else kill.at + never) - kill.at)
            continue
        for i, s in enumerate(after):
            if s.event.type in waiting and s.at <= kill.at + 30:
                nxt = after[i + 1].at if i + 1 < len(after) else kill.at + never
                waits.append(nxt - s.at)
                break
    return round(max(waits), 2) if waits else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def recovery_figures(kills: list[Kill]) -> dict[str, Any]:
    measured = [k.recovery_s for k in kills if k.recovery_s is not None]
    restart = [k.healthy_at - k.at for k in kills if k.healthy_at and k.at]
    out: dict[str, Any] = {
        "kills": sum(1 for k in kills if k.at),
        "recovery_unmeasured": sum(1 for k in kills if k.at and k.recovery_s is None),
    }
    if measured:
        out["recovery_s.p50"] = round(statistics.median(measured), 2)
        out["recovery_s.max"] = round(max(measured), 2)
    if restart:
        out["restart_s.p50"] = round(statistics.median(restart), 2)
        out["restart_s.max"] = round(max(restart), 2)
    return out
