"""The operators' Grafana dashboard, built with Grafana's own Foundation SDK (grafana-foundation-sdk), so what is
written is Grafana's dashboard model, not hand-kept JSON: per service, throughput, consumer lag, outbox age and
rows, parked records, dead letters, readiness and batch latency. Writes deploy/grafana/fulfil.json;
tests/unit/test_operators_kit.py checks the file is what this builds and that every metric it reads exists.

    python deploy/grafana/dashboard.py
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef

OUT = Path(__file__).with_name("fulfil.json")
SOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def series(title: str, description: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).description(description).unit(unit).datasource(SOURCE).height(8).span(12)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def build() -> dashboard.Dashboard:
    service = '{service=~"$service"}'
    return (
        dashboard.Dashboard("Fulfil")
        .uid("fulfil-operators")
        .description("Per service: throughput, lag, outbox, parked records, dead letters, readiness, batch latency. "
                     "Alerts: deploy/prometheus/alerts.yml.")
        .tags(["fulfil"])
        .time("now-3h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(dashboard.QueryVariable("service").label("Service").datasource(SOURCE)
                       .query("label_values(fulfil_events_total, service)").include_all(True).multi(True))
        .with_row(dashboard.Row("Now"))
        .with_panel(stat.Panel().title("Workers ready").datasource(SOURCE).height(4).span(6).unit("short")
                    .with_target(query(f"sum(fulfil_ready{service})", "ready")))
        .with_panel(stat.Panel().title("Records parked").datasource(SOURCE).height(4).span(6).unit("short")
                    .with_target(query(f"sum(fulfil_outbox_parked{service})", "parked")))
        .with_panel(stat.Panel().title("Oldest unpublished event").datasource(SOURCE).height(4).span(6).unit("s")
                    .with_target(query(f"max(fulfil_outbox_oldest_seconds{service})", "oldest")))
        .with_panel(stat.Panel().title("Dead letters, last hour").datasource(SOURCE).height(4).span(6).unit("short")
                    .with_target(query(f"sum(increase(fulfil_dead_letters_total{service}[1h]))", "dead letters")))
        .with_row(dashboard.Row("Flow"))
        .with_panel(series("Throughput", "Events handled per second, by outcome.", "ops",
                           query(f"sum by (service, outcome) (rate(fulfil_events_total{service}[1m]))",
                                 "{{service}} {{outcome}}")))
        .with_panel(series("Consumer lag", "Messages waiting per topic: what the workers have not handled yet.",
                           "short", query(f"sum by (service, topic) (fulfil_consumer_lag{service})",
                                          "{{service}} {{topic}}")))
        .with_panel(series("Batch latency", "Time to handle one batch in its transaction (p50 and p99).", "s",
                           query("histogram_quantile(0.5, sum by (service, le) "
                                 f"(rate(fulfil_batch_seconds_bucket{service}[5m])))", "{{service}} p50"),
                           query("histogram_quantile(0.99, sum by (service, le) "
                                 f"(rate(fulfil_batch_seconds_bucket{service}[5m])))", "{{service}} p99", "B")))
        .with_panel(series("Readiness", "1 when a worker is ready (/readyz), 0 when not.", "short",
                           query(f"fulfil_ready{service}", "{{service}} {{instance}}")))
        .with_row(dashboard.Row("Outbox and dead letters"))
        .with_panel(series("Outbox", "Rows still to publish, and the age of the oldest.", "short",
                           query(f"sum by (service) (fulfil_outbox_rows{service})", "{{service}} rows"),
                           query(f"max by (service) (fulfil_outbox_oldest_seconds{service})",
                                 "{{service}} oldest (s)", "B")))
        .with_panel(series("Parked and dead letters", "Records parked for good, and messages dead-lettered per "
                           "minute.", "short",
                           query(f"sum by (service) (fulfil_outbox_parked{service})", "{{service}} parked"),
                           query(f"sum by (service, topic) (increase(fulfil_dead_letters_total{service}[1m]))",
                                 "{{service}} {{topic}} dead letters", "B")))
    )


def render() -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
