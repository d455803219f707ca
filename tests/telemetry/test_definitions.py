"""metrics/: the Grafana dashboard and the Prometheus alert rules use only metrics the engine
exposes, the rules pass `promtool check rules`, and each alert fires on the situation it names
(`promtool test rules`). promtool comes from Debian's `prometheus` package (CI installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from acd.clock import FakeClock
from acd.telemetry import Telemetry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "metrics" / "grafana-dashboard.json"
RULES = ROOT / "metrics" / "alerts.yaml"
# series Prometheus makes itself (not from the engine)
PROMETHEUS_BUILTINS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "inf", "nan", "atan2",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\w)(\s*\()?")


def promql_metrics(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression (functions, keywords and labels removed)."""
    e = _STRING.sub('""', expr)
    e = _MATCHERS.sub("", e)
    e = _RANGE.sub("", e)
    e = _GROUPING.sub(" ", e)
    names = set()
    for m in _IDENT.finditer(e):
        ident, call = m.group(1), m.group(2)
        if call or ident.lower() in PROMQL_KEYWORDS:
            continue
        names.add(ident)
    return names


def test_promql_metric_extraction() -> None:
    expr = ('sum by (queue) (rate(acd_a_total{queue=~"$queue",x="y z"}[5m])) / on(queue) group_left '
            'histogram_quantile(0.9, sum by (le) (rate(acd_b_bucket[1h]))) > 0.1 and acd_c == bool 0')
    assert promql_metrics(expr) == {"acd_a_total", "acd_b_bucket", "acd_c"}


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        m = re.fullmatch(r"label_values\((\w+)\s*,\s*\w+\)", q or "")
        if m:
            exprs.append(m.group(1))
    return exprs


def rule_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load(RULES.read_text())
    return [(rule["alert"], rule["expr"]) for group in doc["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exposed() -> set[str]:
    return Telemetry(clock=FakeClock()).sample_names()


def test_every_dashboard_metric_exists(exposed: set[str]) -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    used = set().union(*(promql_metrics(e) for e in exprs))
    assert used, "no metric found in the dashboard"
    assert used - PROMETHEUS_BUILTINS <= exposed, sorted(used - PROMETHEUS_BUILTINS - exposed)


def test_dashboard_is_importable_and_covers_the_required_panels() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = " | ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("service level", "asa", "aht", "abandon", "waiting", "longest wait", "agents by state",
                  "occupancy", "containment", "ami", "fastagi sessions", "routing"):
        assert topic in titles, topic
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"


def test_every_rule_metric_exists(exposed: set[str]) -> None:
    rules = rule_exprs()
    assert {name for name, _ in rules} >= {
        "AcdServiceLevelBreach", "AcdHighAbandonRate", "AcdAmiDown", "AcdQueueCallersWithoutAgents"
    }
    for name, expr in rules:
        used = promql_metrics(expr)
        assert used, name
        assert used - PROMETHEUS_BUILTINS <= exposed, (name, sorted(used - PROMETHEUS_BUILTINS - exposed))


def test_rules_have_severity_and_summary() -> None:
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"]
            assert re.fullmatch(r"\d+[smh]", rule["for"])


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: apt-get install -y prometheus (Debian package) provides it"
    return path


def test_promtool_check_rules() -> None:
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


ALERT_TESTS = """
rule_files:
  - {rules}
evaluation_interval: 1m
tests:
  # callers waiting in 'sales' with nobody logged in; 'support' is staffed
  - interval: 1m
    input_series:
      - series: 'acd_queue_calls_waiting{{job="acd",queue="sales"}}'
        values: '2x10'
      - series: 'acd_queue_agents_logged_in{{job="acd",queue="sales"}}'
        values: '0x10'
      - series: 'acd_queue_calls_waiting{{job="acd",queue="support"}}'
        values: '3x10'
      - series: 'acd_queue_agents_logged_in{{job="acd",queue="support"}}'
        values: '4x10'
      - series: 'acd_ami_link_up{{job="acd",instance="e1"}}'
        values: '1 1 0 0 0 0 0 0 0 0'
    alert_rule_test:
      - eval_time: 5m
        alertname: AcdQueueCallersWithoutAgents
        exp_alerts:
          - exp_labels: {{severity: critical, queue: sales}}
            exp_annotations:
              summary: "Queue sales has callers but no agent logged in"
              description: "2 caller(s) waiting and no agent logged in for 1 minute."
      - eval_time: 2m
        alertname: AcdAmiDown
        exp_alerts: []
      - eval_time: 5m
        alertname: AcdAmiDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: acd, instance: e1}}
            exp_annotations:
              summary: "AMI link from the acd engine to Asterisk is down"
              description: "acd_ami_link_up has been 0 for 1 minute on e1; reconnects so far: see acd_ami_reconnects_total."
  # 'sales': 2 calls a minute answered, 1 of them within T (50 % < goal 80 %);
  # 1 abandon a minute of 3 offered, none short (33 % > 10 %). 'ok': all within T, no abandons.
  - interval: 1m
    input_series:
      - series: 'acd_queue_calls_answered_total{{queue="sales"}}'
        values: '0+2x60'
      - series: 'acd_queue_calls_answered_within_sl_total{{queue="sales"}}'
        values: '0+1x60'
      - series: 'acd_queue_service_level_goal_ratio{{queue="sales"}}'
        values: '0.8x60'
      - series: 'acd_queue_calls_offered_total{{queue="sales"}}'
        values: '0+3x60'
      - series: 'acd_queue_calls_abandoned_total{{queue="sales"}}'
        values: '0+1x60'
      - series: 'acd_queue_calls_abandoned_short_total{{queue="sales"}}'
        values: '0x60'
      - series: 'acd_queue_calls_answered_total{{queue="ok"}}'
        values: '0+2x60'
      - series: 'acd_queue_calls_answered_within_sl_total{{queue="ok"}}'
        values: '0+2x60'
      - series: 'acd_queue_service_level_goal_ratio{{queue="ok"}}'
        values: '0.8x60'
      - series: 'acd_queue_calls_offered_total{{queue="ok"}}'
        values: '0+2x60'
      - series: 'acd_queue_calls_abandoned_total{{queue="ok"}}'
        values: '0x60'
      - series: 'acd_queue_calls_abandoned_short_total{{queue="ok"}}'
        values: '0x60'
    alert_rule_test:
      - eval_time: 45m
        alertname: AcdServiceLevelBreach
        exp_alerts:
          - exp_labels: {{severity: warning, queue: sales}}
            exp_annotations:
              summary: "Queue sales is below its service-level goal"
              description: "Service level over 30 min is 50% (answered within T / answered)."
      - eval_time: 45m
        alertname: AcdHighAbandonRate
        exp_alerts:
          - exp_labels: {{severity: warning, queue: sales}}
            exp_annotations:
              summary: "High abandon rate on queue sales"
              description: "33.33% of callers hung up while waiting (short abandons excluded)."
  # e1: 6 MB wait in the spool and every write fails; e2 is healthy (a small backlog, no failure)
  - interval: 1m
    input_series:
      - series: 'acd_spool_backlog_bytes{{job="acd",instance="e1"}}'
        values: '6000000x20'
      - series: 'acd_spool_backlog_bytes{{job="acd",instance="e2"}}'
        values: '2000x20'
      - series: 'acd_database_write_failures_total{{job="acd",instance="e1"}}'
        values: '0+3x20'
      - series: 'acd_database_write_failures_total{{job="acd",instance="e2"}}'
        values: '0x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: AcdSpoolBacklog
        exp_alerts: []
      - eval_time: 10m
        alertname: AcdSpoolBacklog
        exp_alerts:
          - exp_labels: {{severity: warning, job: acd, instance: e1}}
            exp_annotations:
              summary: "Call records are piling up in the acd spool"
              description: "5.722MiB of call records on e1 wait for the database."
      - eval_time: 15m
        alertname: AcdDatabaseWriteFailures
        exp_alerts:
          - exp_labels: {{severity: critical, job: acd, instance: e1}}
            exp_annotations:
              summary: "The acd engine cannot write call records to its database"
              description: "15 failed writes in 5 minutes on e1; records stay in the spool until it is back."
"""


def test_alerts_fire_on_their_situation_and_only_there(tmp_path: Path) -> None:
    spec = tmp_path / "alerts_test.yaml"
    spec.write_text(textwrap.dedent(ALERT_TESTS).format(rules=RULES))
    out = subprocess.run([promtool(), "test", "rules", str(spec)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_documents_every_metric_and_only_real_ones(exposed: set[str]) -> None:
    readme = (ROOT / "metrics" / "README.md").read_text()
    documented = set(re.findall(r"^\| `(acd_[a-z0-9_]+)` \|", readme, re.M))
    families = {f.name + ("_total" if f.type == "counter" else "") for f in Telemetry(clock=FakeClock()).registry.collect()}
    assert documented == families, (sorted(families - documented), sorted(documented - families))
    for name in set(re.findall(r"\bacd_[a-z0-9_]+", readme)):
        assert name in exposed or name in families or name.endswith("_"), name
