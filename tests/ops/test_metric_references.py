"""Every metric and label the alert rules and the dashboards query is one a service exports.

A rule or panel on a metric nobody exports, or on a label it does not carry, still evaluates
(to nothing): a silent, broken alert or an empty panel. The exported side is read from the
services' metrics modules as prometheus_client registered them (plus the HTTP metrics of
prometheus-fastapi-instrumentator and Prometheus's own ``up``); the queried side is parsed
from the PromQL of deploy/prometheus/rules/*.yml and of the generated dashboard JSON.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_fastapi_instrumentator import metrics as http_metrics

from deploy.grafana import dashboards

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
BOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
SERVICES = ("ingest", "gateway", "extractor", "analyzer", "status", "webhooks")
METRIC_MODULES = [f"services.{name}.metrics" for name in SERVICES] + ["shared.record_consumer"]
#: Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})

KEYWORDS = frozenset(
    {
        *("by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"),
        *("unless", "offset", "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk"),
        *("bottomk", "quantile", "count_values", "group", "Inf", "NaN", "inf", "nan"),
    }
)
TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # a string
    r"|\[[^\]]*\]"  # a range or subquery
    r"|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"  # a number
    r"|[A-Za-z_:][A-Za-z0-9_:]*"  # an identifier
    r"|\{|\}|\(|\)|,|=~|!~|!=|==|=|[^\sA-Za-z_:]",
)


def scrape_jobs() -> set[str]:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


def series_of(name: str, kind: str, labels: tuple[str, ...]) -> dict[str, frozenset[str]]:
    base = frozenset(labels) | TARGET_LABELS
    if kind == "counter":
        return {f"{name}_total": base, f"{name}_created": base}
    if kind in ("histogram", "summary"):
        found = {f"{name}_sum": base, f"{name}_count": base, f"{name}_created": base}
        if kind == "histogram":
            found[f"{name}_bucket"] = base | {"le"}
        else:
            found[name] = base | {"quantile"}
        return found
    return {name: base}


def exported() -> dict[str, frozenset[str]]:
    """Every series name a docstream service exports, with its label names."""
    found: dict[str, frozenset[str]] = {"up": TARGET_LABELS}
    for module_name in METRIC_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                found |= series_of(value._name, str(value._type), tuple(value._labelnames))
    registry = CollectorRegistry()
    http_metrics.default(registry=registry)  # what Instrumentator() adds to ingest and gateway
    for collector in registry._collector_to_names:
        assert isinstance(collector, MetricWrapperBase)
        found |= series_of(collector._name, str(collector._type), tuple(collector._labelnames))
    return found


EXPORTED = exported()


def rule_expressions() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                found.append((f"{path.name}: {name}", str(rule["expr"])))
    return found


def dashboard_targets() -> list[tuple[str, str, str]]:
    """(where, expression, legend) of every dashboard panel's query."""
    found: list[tuple[str, str, str]] = []
    for path in BOARDS:
        board = json.loads(path.read_text())
        for panel in board.get("panels", []):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    where = f"{path.name}: {panel.get('title')}"
                    found.append((where, str(target["expr"]), str(target.get("legendFormat", ""))))
    return found


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]], int]]:
    """Each metric selector of a PromQL expression: (name, [(label, op, value)], position)."""
    tokens = TOKEN.findall(expr)
    found: list[tuple[str, list[tuple[str, str, str]], int]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("by", "without", "on", "ignoring", "group_left", "group_right"):
            # a label list, not metrics: skip "( ... )"
            if i + 1 < len(tokens) and tokens[i + 1] == "(":
                i = tokens.index(")", i + 1)
            i += 1
            continue
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token) and token not in KEYWORDS:
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following == "(":  # a function
                i += 1
                continue
            matchers: list[tuple[str, str, str]] = []
            if following == "{":
                j = i + 2
                while tokens[j] != "}":
                    if tokens[j] == ",":
                        j += 1
                        continue
                    matchers.append((tokens[j], tokens[j + 1], tokens[j + 2][1:-1]))
                    j += 3
                found.append((token, matchers, i))
                i = j + 1
                continue
            found.append((token, matchers, i))
        i += 1
    return found


def groupings(expr: str) -> list[tuple[list[str], list[str]]]:
    """Each ``by (labels)`` aggregation: (its labels, the metric names inside its argument)."""
    tokens = TOKEN.findall(expr)
    metric_at = {pos: name for name, _, pos in selectors(expr)}
    found: list[tuple[list[str], list[str]]] = []
    for i, token in enumerate(tokens):
        if token != "by" or tokens[i + 1] != "(":
            continue
        close = tokens.index(")", i + 1)
        labels = [t for t in tokens[i + 2 : close] if t != ","]
        if tokens[close + 1] == "(":  # sum by (x) (...): the argument follows
            start = close + 1
        else:  # sum(...) by (x): the argument precedes
            depth, start = 0, i - 1
            while True:
                depth += {")": 1, "(": -1}.get(tokens[start], 0)
                if depth == 0:
                    break
                start -= 1
        depth, end = 0, start
        step = 1 if tokens[start] == "(" else -1
        while True:
            depth += {"(": 1, ")": -1}.get(tokens[end], 0) * step
            if depth == 0:
                break
            end += step
        lo, hi = sorted((start, end))
        found.append((labels, [name for pos, name in metric_at.items() if lo < pos < hi]))
    return found


def check(where: str, expr: str) -> list[str]:
    problems: list[str] = []
    for name, matchers, _ in selectors(expr):
        if name not in EXPORTED:
            problems.append(f"{where}: {name} is exported by no service")
            continue
        for label, op, value in matchers:
            if label not in EXPORTED[name]:
                problems.append(f"{where}: {name} has no label {label!r}")
            if name == "up" and label == "job":
                jobs = scrape_jobs()
                if op in ("=~", "!~"):
                    listed = set(value.split("|"))
                    problems += [f"{where}: no scrape job {j!r}" for j in listed - jobs]
                elif value not in jobs:
                    problems.append(f"{where}: no scrape job {value!r}")
    for labels, names in groupings(expr):
        for name in names:
            for label in labels:
                if name in EXPORTED and label not in EXPORTED[name]:
                    problems.append(f"{where}: by ({label}) but {name} has no label {label!r}")
    return problems


def test_the_parser_reads_selectors_and_groupings() -> None:
    expr = (
        'sum by (group, topic) (max by (group, topic, partition) (lag{group=~".*x"}))'
        ' / on (job) sum(rate(b_total[5m])) by (le) and up{job="a", instance!="b"}'
    )
    assert [(n, m) for n, m, _ in selectors(expr)] == [
        ("lag", [("group", "=~", ".*x")]),
        ("b_total", []),
        ("up", [("job", "=", "a"), ("instance", "!=", "b")]),
    ]
    assert groupings(expr) == [
        (["group", "topic"], ["lag"]),
        (["group", "topic", "partition"], ["lag"]),
        (["le"], ["b_total"]),
    ]


def test_the_rules_and_dashboards_have_queries() -> None:
    assert len(rule_expressions()) >= 8
    assert len(dashboard_targets()) > 40
    assert {path.stem for path in BOARDS} == set(dashboards.BOARDS)


@pytest.mark.parametrize(("where", "expr"), rule_expressions(), ids=lambda v: str(v)[:60])
def test_rule_queries_exported_metrics_and_labels(where: str, expr: str) -> None:
    assert check(where, expr) == []


def test_dashboard_queries_exported_metrics_and_labels() -> None:
    problems: list[str] = []
    for where, expr, legend in dashboard_targets():
        problems += check(where, expr)
        names = [name for name, _, _ in selectors(expr)]
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
            if not any(label in EXPORTED.get(name, ()) for name in names):
                problems.append(f"{where}: legend {{{{{label}}}}} is no label of {names}")
    assert problems == []


def test_every_service_down_alert_covers_every_scrape_job() -> None:
    """DocstreamServiceDown and the overview's "Services up" watch every job Prometheus scrapes."""
    jobs = scrape_jobs()
    ups = [e for _, e in rule_expressions()] + [e for _, e, _ in dashboard_targets()]
    for expr in ups:
        for name, matchers, _ in selectors(expr):
            if name != "up":
                continue
            for label, op, value in matchers:
                if label == "job" and op == "=~":
                    assert set(value.split("|")) == jobs, expr


def test_every_service_has_a_dashboard() -> None:
    """The README's "an overview, one per service"."""
    assert set(SERVICES) | {"overview"} == set(dashboards.BOARDS)


def test_the_readme_names_exported_metrics() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Observability", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(docstream_[a-z_]+\*?)", section))
    assert len(named) > 5
    for name in named:
        if name.endswith("_*"):
            assert any(n.startswith(name[:-1]) for n in EXPORTED), name
        else:
            family = name in EXPORTED or f"{name}_count" in EXPORTED  # a histogram's name
            assert family, f"README names {name}, which no service exports"
