"""The operators' kit in deploy/ holds up: the alert rules pass promtool and fire (and only fire) on the series
they are for, the dashboard is what its builder makes and reads only metrics the workers export, and
docker-compose.yml is valid Compose with a worker for every service of the catalogue, each scraped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import services.common.metrics  # noqa: F401  (registers the workers' metrics)
from services import catalog

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def exported() -> set[str]:
    """Every series name the workers export (counters with _total, histograms with _bucket, _sum, _count)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("fulfil_"):
            names |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum",
                      f"{family.name}_count"}
    return names


def metrics_in(text: str) -> set[str]:
    return set(re.findall(r"\b(fulfil_[a-z_]+)\b", text))


def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = subprocess.run(["promtool", "check", "rules", "alerts.yml"], cwd=PROMETHEUS, capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True,
                            text=True)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
              for r in g["rules"]}
    unit_tested = {t["alertname"] for case in yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
                   for t in case["alert_rule_test"]}
    assert alerts == unit_tested, f"alerts without a unit test: {alerts - unit_tested}"


def test_alerts_and_dashboard_read_only_metrics_the_workers_export() -> None:
    used = metrics_in((PROMETHEUS / "alerts.yml").read_text()) | metrics_in(
        (ROOT / "deploy" / "grafana" / "fulfil.json").read_text())
    assert used and used <= exported(), used - exported()
    for wanted in ("fulfil_events_total", "fulfil_consumer_lag", "fulfil_outbox_oldest_seconds", "fulfil_outbox_parked",
                   "fulfil_dead_letters_total", "fulfil_ready", "fulfil_batch_seconds_bucket"):
        assert wanted in metrics_in((ROOT / "deploy" / "grafana" / "fulfil.json").read_text()), wanted


def test_the_dashboard_is_what_its_builder_makes() -> None:
    built = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'deploy/grafana'); "
                            "import dashboard; print(dashboard.render(), end='')"], cwd=ROOT, capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stderr
    assert built.stdout == (ROOT / "deploy" / "grafana" / "fulfil.json").read_text(), \
        "deploy/grafana/fulfil.json is stale: run python deploy/grafana/dashboard.py"
    model = json.loads(built.stdout)
    assert model["uid"] == "fulfil-operators" and len(model["panels"]) >= 10


def test_compose_is_valid_compose_with_a_scraped_worker_for_every_service() -> None:
    valid = subprocess.run([str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema",
                            "vendor.compose-spec", "docker-compose.yml"], cwd=ROOT, capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    workers = {name for name, s in compose["services"].items()
               if s.get("command", [None, None])[:2] == ["fulfil", "worker"]}
    assert workers == set(catalog.NAMES), workers ^ set(catalog.NAMES)
    for name in workers:
        assert compose["services"][name]["command"] == ["fulfil", "worker", name]
    scraped = {t.split(":")[0] for job in yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"]
               for config in job["static_configs"] for t in config["targets"]}
    assert scraped == set(catalog.NAMES), scraped ^ set(catalog.NAMES)
