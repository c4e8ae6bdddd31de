"""The dashboard and the alert rules hold: promtool accepts the rules and their own tests (each alert
fires on the series meant to fire it, none on a healthy service), and every metric they query is one
that /metrics exposes, so a renamed metric cannot leave a panel or an alert silently empty."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.harness.prometheus_server import find_promtool
from tests.harness.service_app import ADMIN, client

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "dev" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "dev" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "dev" / "grafana" / "gxrtc.json"
_METRIC = re.compile(r"\bgxrtc_[a-z0-9_]+")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_promtool(), *arguments], capture_output=True, text=True, timeout=60, check=False, cwd=RULES.parent
    )


def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_when_it_should_and_only_then() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def dashboard_expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [expr for value in node.values() for expr in dashboard_expressions(value)]
    if isinstance(node, list):
        return [expr for value in node for expr in dashboard_expressions(value)]
    return []


async def exposed_names() -> set[str]:
    async with client() as http:
        response = await http.get("/metrics", headers=ADMIN)
    assert response.status_code == 200
    return {
        family.name + suffix
        for family in text_string_to_metric_families(response.text)
        for suffix in _SUFFIXES.get(family.type, ("",))
    }


async def test_every_metric_the_dashboard_and_the_rules_use_is_exposed() -> None:
    expressions = dashboard_expressions(json.loads(DASHBOARD.read_text()))
    assert len(expressions) > 20
    used = {name for expr in expressions for name in _METRIC.findall(expr)}
    used |= set(_METRIC.findall(RULES.read_text()))
    assert len(used) > 15
    missing = used - await exposed_names()
    assert not missing, f"queried but not exposed at /metrics: {sorted(missing)}"


async def test_the_metric_names_follow_prometheus_naming() -> None:
    # Counters end in _total, durations are in seconds, and everything is ours (gxrtc_).
    async with client() as http:
        text = (await http.get("/metrics", headers=ADMIN)).text
    ours = [family for family in text_string_to_metric_families(text) if family.name.startswith("gxrtc_")]
    assert len(ours) >= 19
    for family in ours:
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        assert "duration" not in family.name or family.name.endswith("_seconds"), family.name
