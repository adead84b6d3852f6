"""The sample Grafana dashboard and Prometheus alert rules in deploy/ load, and every
Switchboard metric they use is one /metrics exposes (a renamed metric breaks this test, not a
dashboard in production)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from switchboard.jobs.database_metrics import empty_families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "switchboard-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "switchboard-alerts.yml"
METRIC = re.compile(r"\bswitchboard_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


class DatabaseFamilies:
    """The database collector's families as a scrape shows them (reading no database)."""

    def collect(self) -> Iterable[Metric]:
        return list(empty_families().values())


def exposed_names() -> set[str]:
    """The series names of the exposition: the process's metrics and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REGISTRY)
    registry.register(DatabaseFamilies())
    names: set[str] = set()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_exprs() -> Iterator[str]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", ()):
            yield str(target["expr"])


def test_the_dashboard_uses_only_exposed_metrics() -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert len(used) >= 15
    assert sorted(used - exposed_names()) == []


def test_the_alert_rules_use_only_exposed_metrics() -> None:
    used = {name for rule in alert_rules() for name in METRIC.findall(str(rule["expr"]))}
    assert sorted(used - exposed_names()) == []


def test_the_alert_rules_cover_what_operators_must_hear_of() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert {
        "SwitchboardAccountStale",
        "SwitchboardAccountFailing",
        "SwitchboardHeldRunWaiting",
        "SwitchboardSubscriptionExpiring",
        "SwitchboardNoBackgroundWork",
        "SwitchboardNotReady",
    } <= rules.keys()
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"], name


def test_the_dashboard_panels_are_well_formed() -> None:
    panels = dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
