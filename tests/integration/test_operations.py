"""Operations against one running stack (blobs on a real S3-compatible server, analysis by the
Gemini provider against a local stub): a real Prometheus scrapes it, the ``docstream``
command operates it, and one document's trace is followed through the five services' logs."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import yaml

from deploy.grafana import dashboards
from deploy.launcher import Stack
from deploy.launcher.objectstore import S3Server
from deploy.launcher.stack import SERVICES
from tests.analyzer.gemini_stub import GeminiStub, error
from tests.integration.client import Pipeline
from tests.integration.conftest import pipeline_config
from tests.integration.ops_support import JOBS, REPO, Prometheus, docstream

pytestmark = pytest.mark.integration

N = 3
TEXT = b"The committee approved the budget. Members praised the careful work of the staff.\n" * 5


class Ops:
    def __init__(self, pipeline: Pipeline, prometheus: Prometheus, stub: GeminiStub) -> None:
        self.pipeline = pipeline
        self.cfg = pipeline.cfg
        self.prometheus = prometheus
        self.stub = stub


@pytest.fixture(scope="module")
def ops(infra: Stack) -> Iterator[Ops]:
    with GeminiStub() as stub, S3Server() as s3:
        cfg = pipeline_config(
            infra,
            **s3.env(),
            DOCSTREAM_ANALYZER_GEMINI_API_KEY="test-key",
            DOCSTREAM_ANALYZER_GEMINI_BASE_URL=stub.base_url,
            DOCSTREAM_ANALYZER_MAX_ATTEMPTS="3",
            DOCSTREAM_ANALYZER_RETRY_BASE_S="0.05",
            DOCSTREAM_ANALYZER_RETRY_MAX_S="0.2",
            DOCSTREAM_EXTRACTOR_TEST_HOOKS="1",
            DOCSTREAM_STATUS_LAG_INTERVAL_S="1",
            # The same text each time, each one processed (not linked to the first copy).
            DOCSTREAM_INGEST_DUPLICATES="process",
        )
        # INFO: the lines each service writes per document are what the trace test greps.
        stack = Stack(replace(cfg, log_level="INFO"))
        try:
            prometheus = Prometheus(asyncio.run(_start(stack)))
            yield Ops(Pipeline(stack.cfg), prometheus, stub)
        finally:
            stack.stop()


async def _start(stack: Stack) -> str:
    await stack.start_services()
    await stack.wait_consumers_ready()
    return await stack.start_prometheus(scrape_interval_s=1)


async def _upload(ops: Ops, data: bytes = TEXT, headers: dict[str, str] | None = None) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{ops.pipeline.api}/v1/documents",
            headers={**ops.pipeline.headers("olga"), **(headers or {})},
            files={"file": ("minutes.txt", data)},
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _eventually(ops: Ops, expr: str, want: float, timeout_s: float = 30) -> float:
    seen: object = None
    for _ in range(int(timeout_s * 4)):
        body = await ops.prometheus.query(expr)
        result = body["data"]["result"]
        seen = result
        if result and float(result[0]["value"][1]) == want:
            return want
        await asyncio.sleep(0.25)
    raise AssertionError(f"{expr} never returned {want}; last {seen}")


async def test_every_service_metrics_pass_promtool(ops: Ops) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for job in JOBS:
            text = (
                await client.get(f"http://127.0.0.1:{getattr(ops.cfg.ports, job)}/metrics")
            ).text
            result = await asyncio.to_thread(
                subprocess.run,
                ["promtool", "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, f"{job}: {result.stdout}{result.stderr}"
            assert f"docstream_{job}" in text or job == "status"


async def test_prometheus_scrapes_every_service_with_the_alert_rules(ops: Ops) -> None:
    """The Prometheus ``make run`` starts: every service up (webhooks too), rules loaded."""
    want = {service: "1" for service in SERVICES}
    up: dict[str, str] = {}
    for _ in range(80):  # a scrape slower than its 1 s (a loaded machine) reads 0 once
        result = (await ops.prometheus.query("up"))["data"]["result"]
        up = {r["metric"]["job"]: r["value"][1] for r in result}
        if up == want:
            break
        await asyncio.sleep(0.25)
    assert up == want
    async with httpx.AsyncClient(timeout=10) as client:
        rules = (await client.get(f"{ops.prometheus.url}/api/v1/rules")).json()
    loaded = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    written = {
        rule["alert"]
        for path in (REPO / "deploy" / "prometheus" / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert written and written <= loaded


async def test_prometheus_counts_the_completed_documents(ops: Ops) -> None:
    ids = [await _upload(ops) for _ in range(N)]
    for document_id in ids:
        doc = await ops.pipeline.wait_for_status(document_id, "olga", {"completed", "failed"})
        assert doc["status"] == "completed", doc.get("error")
    expr = 'sum(docstream_documents_finished_total{status="completed"})'
    assert await _eventually(ops, expr, N) == N
    accepted = 'sum(docstream_ingest_uploads_total{outcome="accepted"})'
    assert await _eventually(ops, accepted, N) == N


def _rule_expressions() -> list[str]:
    found = []
    for path in sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [str(rule["expr"]) for rule in group["rules"]]
    return found


def _dashboard_expressions() -> list[str]:
    found = []
    for path in sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json")):
        found += dashboards.expressions(json.loads(path.read_text()))
    return found


async def test_every_dashboard_and_rule_expression_runs(ops: Ops) -> None:
    exprs = _dashboard_expressions() + _rule_expressions()
    assert len(exprs) > 50
    # The core figures must have data after the documents above; the lag gauge is read from
    # Kafka on its own timer, so on a loaded machine it may come a few scrapes later.
    core = (
        dashboards.lag(),
        'sum(up{job=~"ingest|gateway|extractor|analyzer|status"})',
        dashboards.p(0.5, "docstream_document_duration_seconds_bucket").replace(
            "$__rate_interval", "1m"
        ),
    )
    with_data = 0
    missing: list[str] = list(core)
    for _ in range(30):  # rates need two scrapes after the documents: on a busy machine, later
        with_data = 0
        for expr in exprs:
            body = await ops.prometheus.query(expr)
            assert body["status"] == "success", f"{expr}: {body.get('error')}"
            with_data += bool(body["data"]["result"])
        missing = [e for e in core if not (await ops.prometheus.query(e))["data"]["result"]]
        if with_data >= len(exprs) // 3 and not missing:
            break
        await asyncio.sleep(2)
    # Many are rates of things that did not happen here (dead letters, OCR, 429s) and are
    # rightly empty.
    assert with_data >= len(exprs) // 3, with_data
    errors = await ops.prometheus.query("docstream_consumer_lag_errors_total")
    assert not missing, f"no data for {missing}; lag reading errors: {errors['data']['result']}"
    async with httpx.AsyncClient() as client:
        rules = (await client.get(f"{ops.prometheus.url}/api/v1/rules")).json()
    loaded = [r for g in rules["data"]["groups"] for r in g["rules"]]
    assert len(loaded) == 8 and all(r["health"] == "ok" for r in loaded), loaded


async def test_cli_lag_shows_every_stage_caught_up(ops: Ops) -> None:
    rows = await asyncio.to_thread(docstream, ops.cfg, "lag")
    groups = {row["group"] for row in rows}
    prefix = ops.cfg.topic_prefix
    assert {f"{prefix}docstream-{s}" for s in ("extractor", "analyzer", "status")} <= groups
    uploaded = [r for r in rows if r["topic"] == f"{prefix}documents.uploaded"]
    assert sum(r["committed"] for r in uploaded) >= N
    assert all(r["lag"] == 0 for r in rows), rows


async def test_cli_active_lists_a_document_being_extracted(ops: Ops) -> None:
    # The extractor's worker sleeps on this document (a test hook): in flight for seconds.
    document_id = await _upload(ops, b"DOCSTREAM-TEST-HOOK sleep 10\n")
    await ops.pipeline.wait_for_status(document_id, "olga", {"extracting"})
    # A marker's in-between status is written once it has waited DOCSTREAM_STATUS_HOLD_S (1 s).
    for _ in range(20):
        active = await asyncio.to_thread(docstream, ops.cfg, "active")
        listed = {d["id"]: d for d in active["documents"]}
        if listed.get(document_id, {}).get("stage") == "extracting":
            break
        await asyncio.sleep(0.25)
    assert document_id in listed, active
    assert listed[document_id]["stage"] == "extracting"
    assert active["by_stage"].get("extracting", 0) >= 1
    await ops.pipeline.wait_for_status(document_id, "olga", {"completed"})
    active = await asyncio.to_thread(docstream, ops.cfg, "active")
    assert document_id not in {d["id"] for d in active["documents"]}


async def test_cli_stats_per_service(ops: Ops) -> None:
    rows = await asyncio.to_thread(docstream, ops.cfg, "stats", "--interval", "0.5")
    by_service = {row["service"]: row for row in rows}
    assert set(by_service) == set(JOBS)
    assert all(row["up"] for row in rows)
    assert by_service["ingest"]["processed"] >= N + 1
    assert by_service["extractor"]["processed"] >= N + 1
    assert by_service["analyzer"]["processed"] >= N + 1
    assert by_service["status"]["processed"] > 0


async def test_dlq_replay_brings_a_dead_lettered_document_to_completed(ops: Ops) -> None:
    # The provider is down for every attempt: the document fails, its work is dead-lettered.
    ops.stub.push(*[error(503, "UNAVAILABLE")] * 3)
    document_id = await _upload(ops)
    doc = await ops.pipeline.wait_for_status(document_id, "olga", {"completed", "failed"})
    assert doc["status"] == "failed" and doc["error"]["reason"] == "provider_unavailable"
    # The dead letter follows the failure event: give it a moment to land.
    mine: list[dict[str, str]] = []
    for _ in range(20):
        letters = await asyncio.to_thread(docstream, ops.cfg, "dlq", "list")
        mine = [row for row in letters if row["document"] == document_id]
        if mine:
            break
        await asyncio.sleep(0.5)
    assert len(mine) == 1 and mine[0]["type"] == "document.extracted", (mine, letters)
    assert mine[0]["at"].startswith(f"{ops.cfg.topic_prefix}documents.extracted.dlt:")
    # The provider is back (the stub answers), the operator replays.
    replayed = await asyncio.to_thread(
        docstream, ops.cfg, "dlq", "replay", "--document", document_id
    )
    assert [row["generation"] for row in replayed] == [2]
    doc = await ops.pipeline.wait_for_status(document_id, "olga", {"completed"}, generation=2)
    assert doc["generation"] == 2 and doc["analysis"]["provider"] == "gemini"


def _logs_with(cfg_dir: Path, needle: str) -> set[str]:
    return {
        path.stem
        for path in (cfg_dir / "logs").glob("*.log")
        if needle in path.read_text(errors="replace")
    }


async def test_one_trace_id_in_the_logs_of_all_five_services(ops: Ops) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    document_id = await _upload(ops, headers={"traceparent": traceparent})
    await ops.pipeline.wait_for_status(document_id, "olga", {"completed"})
    needle = f'"trace_id": "{trace_id}"'
    found: set[str] = set()
    for _ in range(40):
        found = _logs_with(ops.cfg.data_dir, needle)
        if set(JOBS) <= found:
            break
        await asyncio.sleep(0.25)
    assert set(JOBS) <= found, f"trace {trace_id} only in {sorted(found)}"
    # Each line with the trace id is about this document.
    for path in (ops.cfg.data_dir / "logs").glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if needle in line:
                entry = json.loads(line)
                assert entry.get("document_id", document_id) == document_id, line


async def test_purge_empties_a_dead_letter_topic(ops: Ops) -> None:
    # After the replay test: its dead letter is still there (a replay does not consume it).
    before = await asyncio.to_thread(docstream, ops.cfg, "dlq", "list")
    assert before, "expected the replayed dead letter to be listed still"
    done = await asyncio.to_thread(docstream, ops.cfg, "purge", "documents.extracted.dlt", "--yes")
    assert done["topic"] == f"{ops.cfg.topic_prefix}documents.extracted.dlt"
    assert done["deleted"] == len([r for r in before if r["at"].startswith(done["topic"] + ":")])
    assert await asyncio.to_thread(docstream, ops.cfg, "dlq", "list") == []
