"""`fulfil kpis`: the operators' figures, computed from each service's own tables (its record of the events
it handled). Read-only SQL over the services' schemas; this module imports no service code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.catalog import NAMES


@dataclass(frozen=True)
class Kpi:
    name: str
    key: str
    """Its stable snake_case name in `fulfil kpis --json`, unit included (fill_rate_pct, mean_eta_error_min)"""
    value: float | int | dict[str, str] | None  # None: nothing to measure yet; counts are ints; money by currency
    unit: str
    how: str  # what was counted, in a sentence

    def shown(self) -> str:
        if self.value is None:
            return "-"
        if isinstance(self.value, dict):
            return ", ".join(f"{amount} {currency}" for currency, amount in self.value.items()) or "0"
        if self.unit == "%":
            return f"{self.value:.1f}%"
        return f"{self.value:,.2f} {self.unit}".strip() if self.value % 1 else f"{self.value:,.0f} {self.unit}".strip()


def _one(connection: Connection, sql: str) -> float | None:
    value = connection.execute(text(sql)).scalar()
    return None if value is None else float(value)


def _pct(part: float | None, whole: float | None) -> float | None:
    return None if not whole or part is None else 100.0 * part / whole


def compute(connect: Callable[[str], Connection]) -> list[Kpi]:
    """`connect(service)`: a connection to the database that service's schema lives in (one for all, or one each)."""
    warehouse, tracking, routing, returns = (connect(name) for name in ("warehouse", "tracking", "routing", "returns"))
    ordered = _one(warehouse, "SELECT sum((x->>'quantity')::int) FROM warehouse.orders o, "
                              "jsonb_array_elements(o.lines) x "
                              "WHERE o.status = 'open'")
    reserved = _one(warehouse, "SELECT sum(l.quantity) FROM warehouse.shipment_lines l JOIN warehouse.shipments s "
                               "USING (shipment_id) JOIN warehouse.orders o USING (shop_id, order_id) "
                               "WHERE s.status <> 'cancelled' AND o.status = 'open'")
    shipped_orders = _one(warehouse, "SELECT count(DISTINCT (shop_id, order_id)) FROM warehouse.shipments "
                                     "WHERE status <> 'cancelled'")
    split_orders = _one(warehouse, "SELECT count(*) FROM (SELECT 1 FROM warehouse.shipments WHERE status <> "
                                   "'cancelled' "
                                   "GROUP BY shop_id, order_id HAVING count(*) > 1) x")
    delivered = _one(tracking, "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered'")
    promised = _one(tracking, "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered' AND promised_end IS "
                              "NOT NULL")
    on_time = _one(tracking, "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered' "
                             "AND status_at BETWEEN promised_start AND promised_end")
    early = _one(tracking, "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered' AND status_at < "
                           "promised_start")
    late = _one(tracking, "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered' AND status_at > "
                          "promised_end")
    eta_error = _one(tracking, "SELECT avg(abs(extract(epoch FROM status_at - planned_arrival))) / 60 FROM "
                               "tracking.shipments "
                               "WHERE status = 'delivered' AND planned_arrival IS NOT NULL")
    eta_bias = _one(tracking, "SELECT avg(extract(epoch FROM status_at - planned_arrival)) / 60 FROM "
                              "tracking.shipments "
                              "WHERE status = 'delivered' AND planned_arrival IS NOT NULL")
    lines_per_wave = _one(warehouse, "SELECT avg(jsonb_array_length(document->'lines')) FROM warehouse.picklists")
    km = _one(routing, "SELECT sum((summary->>'distance_km')::float) FROM routing.waves")
    routed = _one(routing, "SELECT sum((summary->>'routed')::int) FROM routing.waves")
    vans = _one(routing, "SELECT sum((summary->>'vehicles')::int) FROM routing.waves")
    delivered_units = _one(returns, "SELECT sum(value::int) FROM returns.shipments s, jsonb_each_text(s.lines) "
                                    "WHERE s.delivered_at IS NOT NULL")
    returned_units = _one(returns, "SELECT sum((x->>'quantity')::int) FROM returns.returns r, "
                                   "jsonb_array_elements(r.lines) x "
                                   "WHERE r.status <> 'rejected'")
    refunded = {currency: f"{cents / 100:.2f}" for currency, cents in returns.execute(text(
        "SELECT o.currency, sum(f.amount_cents) FROM returns.refunds f JOIN returns.orders o USING (shop_id, order_id) "
        "GROUP BY 1 ORDER BY 1"))}
    processed = sum(_one(connect(service), f"SELECT count(*) FROM {service}.inbox") or 0 for service in NAMES)
    dead = len({tuple(row) for service in NAMES for row in connect(service).execute(text(
        f"SELECT source_topic, source_partition, source_offset FROM {service}.dead_letters"))})
    return [
        Kpi("fill rate", "fill_rate_pct", _pct(reserved, ordered), "%",
            "units reserved in a shipment / units ordered (open orders)"),
        Kpi("split-shipment rate", "split_shipment_rate_pct", _pct(split_orders, shipped_orders), "%",
            "orders in more than one shipment / orders with a shipment"),
        Kpi("on-time delivery", "on_time_delivery_pct", _pct(on_time, promised), "%",
            "deliveries inside the window the route plan promised / deliveries with a promise"
            + (f" ({int(early or 0)} delivered before their window, {int(late or 0)} after it)" if promised else "")),
        Kpi("mean ETA error", "mean_eta_error_min", eta_error, "min",
            "mean |delivered - planned arrival| of planned deliveries"
            + ("" if eta_bias is None else f" (on average {abs(eta_bias):,.0f} min "
                                           f"{'before' if eta_bias < 0 else 'after'} the planned arrival)")),
        Kpi("deliveries", "deliveries", int(delivered or 0), "", "shipments delivered"),
        Kpi("pick lines per wave", "pick_lines_per_wave", lines_per_wave, "", "mean lines per pick list"),
        Kpi("distance per delivery", "distance_per_delivery_km", None if not routed or km is None else km / routed,
            "km", "planned km of all waves (latest plans) / stops routed"),
        Kpi("route distance", "route_distance_km", km, "km", "planned km of all waves (latest plans)"),
        Kpi("vans on the road", "vans_routed", None if vans is None else int(vans), "",
            "vans with a route, summed over waves (latest plans)"),
        Kpi("return rate", "return_rate_pct", _pct(returned_units, delivered_units), "%",
            "units in returns not rejected / units delivered"),
        Kpi("refunds", "refund_totals", refunded, "", "sum of refund.issued amounts, per currency"),
        Kpi("events processed", "events_processed", int(processed), "",
            "events in the services' inboxes (each counted once per service)"),
        Kpi("dead letters", "dead_letters", int(dead or 0), "",
            "messages refused, each counted once however many services refused it"),
    ]
