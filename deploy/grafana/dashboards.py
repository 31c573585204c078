"""docstream's Grafana dashboards, as code (Grafana's foundation SDK).

``python -m deploy.grafana.dashboards`` writes ``deploy/grafana/dashboards/*.json``, which the
compose file's Grafana loads (provisioning/). A test checks that the files are what this
module builds, and runs every expression against a Prometheus that scraped the real stack.

Conventions: each status replica exports the same consumer-lag reading, so lag is ``max`` per
partition before any sum; counters are summed across replicas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).resolve().parent / "dashboards"
#: The data source provisioning/datasources/prometheus.yml declares.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="docstream-prometheus")
R = "$__rate_interval"


@dataclass(frozen=True)
class Q:
    expr: str
    legend: str = ""


def lag(group: str | None = None) -> str:
    match = f'{{group=~".*docstream-{group}"}}' if group else ""
    return (
        f"sum by (group, topic) (max by (group, topic, partition) (docstream_consumer_lag{match}))"
    )


def p(quantile: float, bucket: str, by: str = "") -> str:
    keys = f"le, {by}" if by else "le"
    return f"histogram_quantile({quantile}, sum by ({keys}) (rate({bucket}[{R}])))"


def rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}[{R}]))"


def series(title: str, queries: list[Q], unit: str = "short", width: int = 12) -> Timeseries:
    panel = Timeseries().title(title).unit(unit).min(0).span(width).height(8)
    panel = panel.datasource(DATASOURCE)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(Dataquery().expr(q.expr).legend_format(q.legend).ref_id(ref))
    return panel


def stat(title: str, query: Q, unit: str = "short", width: int = 6) -> Stat:
    target = Dataquery().expr(query.expr).legend_format(query.legend).instant().ref_id("A")
    return (
        Stat()
        .title(title)
        .unit(unit)
        .span(width)
        .height(4)
        .datasource(DATASOURCE)
        .with_target(target)
    )


def dashboard(uid: str, title: str, rows: list[tuple[str, list[Timeseries | Stat]]]) -> Dashboard:
    board = (
        Dashboard(title)
        .uid(uid)
        .tags(["docstream"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
    )
    for name, panels in rows:
        board = board.with_row(Row(name))
        for panel in panels:
            board = board.with_panel(panel)
    return board


def overview() -> Dashboard:
    finished = "docstream_documents_finished_total"
    return dashboard(
        "docstream-overview",
        "docstream / Overview",
        [
            (
                "Now",
                [
                    stat(
                        "Services up",
                        Q('sum(up{job=~"ingest|gateway|extractor|analyzer|status|webhooks"})'),
                    ),
                    stat("Being extracted", Q("sum(docstream_extractor_in_flight)")),
                    stat(
                        "Work waiting (lag)",
                        Q("sum(max by (group, topic, partition) (docstream_consumer_lag))"),
                    ),
                    stat("Open WebSockets", Q("sum(docstream_gateway_open_connections)")),
                ],
            ),
            (
                "Flow",
                [
                    series(
                        "Uploads and completions",
                        [
                            Q(
                                f'sum(rate(docstream_ingest_uploads_total{{outcome="accepted"}}[{R}]))',
                                "uploaded",
                            ),
                            Q(f"sum by (status) (rate({finished}[{R}]))", "{{status}}"),
                        ],
                        "ops",
                    ),
                    series(
                        "Failures by reason",
                        [
                            Q(
                                f'sum by (reason) (rate({finished}{{status="failed"}}[{R}]))',
                                "{{reason}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "End-to-end latency (accepted to terminal)",
                        [
                            Q(p(0.5, "docstream_document_duration_seconds_bucket"), "p50"),
                            Q(p(0.95, "docstream_document_duration_seconds_bucket"), "p95"),
                        ],
                        "s",
                    ),
                    series("Consumer lag", [Q(lag(), "{{group}} {{topic}}")]),
                ],
            ),
        ],
    )


def ingest() -> Dashboard:
    return dashboard(
        "docstream-ingest",
        "docstream / ingest",
        [
            (
                "HTTP",
                [
                    series(
                        "Requests",
                        [
                            Q(
                                f"sum by (handler, status) (rate(http_requests_total[{R}]))",
                                "{{handler}} {{status}}",
                            )
                        ],
                        "reqps",
                    ),
                    series(
                        "Request latency p95",
                        [
                            Q(
                                p(0.95, "http_request_duration_seconds_bucket", "handler"),
                                "{{handler}}",
                            )
                        ],
                        "s",
                    ),
                ],
            ),
            (
                "Uploads",
                [
                    series(
                        "Uploads by outcome",
                        [
                            Q(
                                f"sum by (outcome) (rate(docstream_ingest_uploads_total[{R}]))",
                                "{{outcome}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Upload size",
                        [
                            Q(p(0.5, "docstream_ingest_upload_size_bytes_bucket"), "p50"),
                            Q(p(0.95, "docstream_ingest_upload_size_bytes_bucket"), "p95"),
                        ],
                        "bytes",
                    ),
                    series(
                        "Commands",
                        [
                            Q(
                                f"sum by (command) (rate(docstream_ingest_commands_total[{R}]))",
                                "{{command}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Publish failures (503)",
                        [Q(f"sum(rate(docstream_ingest_publish_failures_total[{R}]))", "503")],
                        "ops",
                    ),
                ],
            ),
        ],
    )


def stage_rows(service: str) -> list[Timeseries | Stat]:
    metric = f"docstream_{service}_documents_total"
    return [
        series(
            "Documents by outcome",
            [Q(f"sum by (outcome) (rate({metric}[{R}]))", "{{outcome}}")],
            "ops",
        ),
        series(
            "Failures by reason",
            [Q(f'sum by (reason) (rate({metric}{{outcome="failed"}}[{R}]))', "{{reason}}")],
            "ops",
        ),
        series(
            "Retries by error",
            [Q(f"sum by (error) (rate(docstream_{service}_retries_total[{R}]))", "{{error}}")],
            "ops",
        ),
        series(
            "Dead letters",
            [Q(f"sum(rate(docstream_{service}_dead_letters_total[{R}]))", "dead letters")],
            "ops",
        ),
        series("Lag", [Q(lag(service), "{{topic}}")]),
    ]


def extractor() -> Dashboard:
    return dashboard(
        "docstream-extractor",
        "docstream / extractor",
        [
            ("Documents", stage_rows("extractor")),
            (
                "Pages",
                [
                    series(
                        "Duration",
                        [
                            Q(p(0.5, "docstream_extractor_duration_seconds_bucket"), "p50"),
                            Q(p(0.95, "docstream_extractor_duration_seconds_bucket"), "p95"),
                        ],
                        "s",
                    ),
                    series(
                        "Pages per second (median document)",
                        [Q(p(0.5, "docstream_extractor_pages_per_second_bucket"), "p50")],
                    ),
                    series(
                        "Pages by reader",
                        [
                            Q(
                                rate("docstream_extractor_pages_by_reader_total", "reader"),
                                "{{reader}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Fallback pages (OCR and others)",
                        [
                            Q(
                                rate("docstream_extractor_fallback_pages_total", "reader"),
                                "{{reader}}",
                            )
                        ],
                        "ops",
                    ),
                    series("In flight", [Q("sum(docstream_extractor_in_flight)", "documents")]),
                ],
            ),
        ],
    )


def analyzer() -> Dashboard:
    return dashboard(
        "docstream-analyzer",
        "docstream / analyzer",
        [
            ("Documents", stage_rows("analyzer")),
            (
                "Model",
                [
                    series(
                        "Duration p95 by provider",
                        [
                            Q(
                                p(0.95, "docstream_analyzer_duration_seconds_bucket", "provider"),
                                "{{provider}}",
                            )
                        ],
                        "s",
                    ),
                    series(
                        "Model calls",
                        [
                            Q(
                                f"sum by (model) (rate(docstream_analyzer_model_calls_total[{R}]))",
                                "{{model}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Tokens",
                        [
                            Q(
                                rate("docstream_analyzer_tokens_total", "model, direction"),
                                "{{model}} {{direction}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Estimated cost per hour",
                        [
                            Q(
                                "sum by (model) (increase(docstream_analyzer_cost_usd_total[1h]))",
                                "{{model}}",
                            )
                        ],
                        "currencyUSD",
                    ),
                    series(
                        "Rate-limit wait p90",
                        [Q(p(0.9, "docstream_analyzer_rate_limit_wait_seconds_bucket"), "p90")],
                        "s",
                    ),
                    series(
                        "Model retries by reason",
                        [
                            Q(
                                rate("docstream_analyzer_model_retries_total", "reason"),
                                "{{reason}}",
                            )
                        ],
                        "ops",
                    ),
                ],
            ),
        ],
    )


def status() -> Dashboard:
    return dashboard(
        "docstream-status",
        "docstream / status",
        [
            (
                "Fold",
                [
                    series(
                        "Events by outcome",
                        [
                            Q(
                                f"sum by (outcome) (rate(docstream_status_events_total[{R}]))",
                                "{{outcome}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Batch duration p95",
                        [Q(p(0.95, "docstream_status_batch_duration_seconds_bucket"), "p95")],
                        "s",
                    ),
                    series(
                        "Write retries",
                        [
                            Q(
                                f"sum by (error) (rate(docstream_status_write_retries_total[{R}]))",
                                "{{error}}",
                            )
                        ],
                        "ops",
                    ),
                    series("Lag", [Q(lag("status"), "{{topic}}")]),
                ],
            ),
            (
                "Watchdog and housekeeping",
                [
                    series(
                        "Re-drives by stage",
                        [
                            Q(
                                f"sum by (stage) (rate(docstream_status_redrives_total[{R}]))",
                                "{{stage}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Stalled by stage",
                        [
                            Q(
                                f"sum by (stage) (rate(docstream_status_stalled_total[{R}]))",
                                "{{stage}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Housekept",
                        [
                            Q(
                                f"sum by (what) (rate(docstream_status_housekept_total[{R}]))",
                                "{{what}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Lag readings failed",
                        [Q(f"sum(rate(docstream_consumer_lag_errors_total[{R}]))", "errors")],
                        "ops",
                    ),
                ],
            ),
        ],
    )


def gateway() -> Dashboard:
    return dashboard(
        "docstream-gateway",
        "docstream / gateway",
        [
            (
                "WebSockets",
                [
                    series(
                        "Open connections", [Q("sum(docstream_gateway_open_connections)", "open")]
                    ),
                    series(
                        "Connections by outcome",
                        [
                            Q(
                                rate("docstream_gateway_connections_total", "outcome"),
                                "{{outcome}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Messages by type",
                        [
                            Q(
                                f"sum by (type) (rate(docstream_gateway_messages_total[{R}]))",
                                "{{type}}",
                            )
                        ],
                        "ops",
                    ),
                    series(
                        "Events read and progress coalesced",
                        [
                            Q(f"sum(rate(docstream_gateway_events_total[{R}]))", "events read"),
                            Q(f"sum(rate(docstream_gateway_coalesced_total[{R}]))", "coalesced"),
                        ],
                        "ops",
                    ),
                ],
            ),
        ],
    )


def webhooks() -> Dashboard:
    return dashboard(
        "docstream-webhooks",
        "docstream / webhooks",
        [
            (
                "Deliveries",
                [
                    series(
                        "Attempts by result",
                        [Q(rate("docstream_webhooks_attempts_total", "result"), "{{result}}")],
                        "ops",
                    ),
                    series(
                        "Deliveries by outcome",
                        [Q(rate("docstream_webhooks_deliveries_total", "outcome"), "{{outcome}}")],
                        "ops",
                    ),
                    series(
                        "Attempt duration",
                        [
                            Q(p(0.5, "docstream_webhooks_attempt_duration_seconds_bucket"), "p50"),
                            Q(p(0.95, "docstream_webhooks_attempt_duration_seconds_bucket"), "p95"),
                        ],
                        "s",
                    ),
                    series("In flight", [Q("sum(docstream_webhooks_in_flight)", "deliveries")]),
                    series(
                        "Attempts not recorded",
                        [
                            Q(
                                f"sum(rate(docstream_webhooks_record_failures_total[{R}]))",
                                "failures",
                            )
                        ],
                        "ops",
                    ),
                    series("Lag", [Q(lag("webhooks"), "{{topic}}")]),
                ],
            ),
        ],
    )


BOARDS = {
    "overview": overview,
    "ingest": ingest,
    "extractor": extractor,
    "analyzer": analyzer,
    "status": status,
    "gateway": gateway,
    "webhooks": webhooks,
}


def render(name: str) -> str:
    board = BOARDS[name]().build()
    return JSONEncoder(sort_keys=True, indent=2).encode(board) + "\n"


def expressions(board: dict[str, object]) -> list[str]:
    """Every PromQL expression of a dashboard file (what a test runs against Prometheus)."""
    found: list[str] = []
    for panel in board.get("panels", []):  # type: ignore[attr-defined]
        for target in panel.get("targets", []) or []:
            if target.get("expr"):
                found.append(str(target["expr"]).replace("$__rate_interval", "1m"))
    return found


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in BOARDS:
        (OUT / f"{name}.json").write_text(render(name))
        print(f"wrote {OUT / name}.json: {len(expressions(json.loads(render(name))))} queries")


if __name__ == "__main__":
    main()
