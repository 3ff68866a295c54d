"""Returns on real Apache Kafka and PostgreSQL, with the real warehouse service: a delivered order is returned,
received and inspected; restocked units go back into warehouse stock through Kafka and fill a backorder; the
refund is issued once, whatever is repeated; requests outside the policy are rejected with their reasons."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.embedded import free_port
from tests.eventually import eventually
from tests.factories import envelope, order_accepted, scan
from tests.integration.conftest import Stack, fulfil, get, load_layout, stock_violations, values

pytestmark = pytest.mark.integration

LAYOUT = {"warehouses": [
    {"id": "W-1", "name": "Gent", "latitude": 51.05, "longitude": 3.72, "priority": 1,
     "grid": {"zones": ["A"], "aisles": 2, "bays": 4, "levels": 2},
     "stock": [{"sku": "SKU-RED", "bin": "A-01-02-1", "on_hand": 2}, {"sku": "SKU-BLUE", "bin": "A-02-01-1", "on_hand": 1}]},
]}


def payloads(records: list[dict[str, Any]], event_type: str, **match: Any) -> list[dict[str, Any]]:
    return [e["payload"] for e in values(records, event_type) if all(e["payload"].get(k) == v for k, v in match.items())]


def delivered(order_id: str, shipment_id: str, at: datetime) -> dict[str, Any]:
    return envelope("shipment.status_changed", {
        "tracking_number": "FL" + shipment_id.replace("-", "").upper()[:16], "shipment_id": shipment_id,
        "shop_id": "acme", "order_id": order_id, "status": "delivered", "previous_status": "out_for_delivery",
        "changed_at": at.isoformat()}, correlation_id=order_id, source="service:tracking")


def requested(return_id: str, order_id: str, lines: list[tuple[str, str, int, str, bool]], at: datetime
              ) -> dict[str, Any]:
    return envelope("return.requested", {
        "return_id": return_id, "order_id": order_id, "shop_id": "acme", "requested_at": at.isoformat(),
        "lines": [{"line_id": line_id, "sku": sku, "quantity": n, "reason": reason, "opened": opened}
                  for line_id, sku, n, reason, opened in lines]}, correlation_id=order_id)


def inspected(rma: str, lines: list[tuple[str, str, int, str]]) -> dict[str, Any]:
    return scan("return.inspected", "W-1", rma=rma, lines=[
        {"line_id": line_id, "sku": sku, "quantity": n, "disposition": disposition}
        for line_id, sku, n, disposition in lines])


def wait_for(stack: Stack, query: str, timeout_s: float = 30) -> None:
    eventually(lambda: stack.sql(query), timeout_s=timeout_s, context=stack.log_tail)


def test_return_restock_through_kafka_and_one_refund(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, LAYOUT)
    assert fulfil(stack, "returns", "policy", "acme", "--window-days", "30", "--time-zone", "Europe/Brussels",
                  "--restocking-fee-pct", "10").returncode == 0
    port = free_port()
    stack.start_worker("warehouse")
    stack.start_worker("returns", FULFIL_HTTP_PORT=str(port))
    stack.wait_for_assignments("warehouse.scans", 2)

    # o-1 takes every unit in stock; o-2 then waits for a red one.
    stack.send("orders.events", [order_accepted("o-1", [("SKU-RED", 2), ("SKU-BLUE", 1)])])
    first = stack.read("warehouse.events", lambda r: bool(payloads(r, "stock.reserved", order_id="o-1")))
    shipment = payloads(first, "stock.reserved", order_id="o-1")[0]["shipment_id"]
    stack.send("orders.events", [order_accepted("o-2", [("SKU-RED", 1)])])
    stack.read("warehouse.events", lambda r: bool(payloads(r, "order.backordered", order_id="o-2")))

    # Asking before delivery is refused; after delivery, a return of everything is authorised.
    wait_for(stack, "SELECT 1 FROM returns.shipments WHERE order_id = 'o-1'")
    wait_for(stack, "SELECT 1 FROM returns.orders WHERE order_id = 'o-1'")
    now = datetime.now(UTC)
    stack.send("shop.returns", [requested("R-0", "o-1", [("1", "SKU-RED", 1, "changed_mind", False)], now)])
    stack.read("returns.events", lambda r: bool(payloads(r, "return.rejected", return_id="R-0")))
    delivery = now - timedelta(days=35)  # so that day 31 after it is in the past: no event may be dated ahead
    stack.send("tracking.events", [delivered("o-1", shipment, delivery)], key="o-1")
    wait_for(stack, "SELECT 1 FROM returns.shipments WHERE delivered_at IS NOT NULL")
    asked = requested("R-1", "o-1", [("1", "SKU-RED", 2, "changed_mind", True), ("2", "SKU-BLUE", 1, "damaged", False)],
                      delivery + timedelta(days=2))
    too_late = requested("R-2", "o-1", [("1", "SKU-RED", 1, "changed_mind", False)], delivery + timedelta(days=31))
    stack.send("shop.returns", [asked, {**asked, "event_id": str(uuid.uuid4())}, too_late])  # a repeat: no change
    records = stack.read("returns.events", lambda r: bool(payloads(r, "return.rejected", return_id="R-2")))
    rejected = {p["return_id"]: p["reasons"] for p in payloads(records, "return.rejected")}
    assert rejected["R-0"] == ["the order has not been delivered yet"]
    assert "the 30-day return window closed: this is day 31 after delivery" in rejected["R-2"]
    assert "line '1': 1 asked, 0 of 2 delivered can still be returned" in rejected["R-2"]
    authorised = payloads(records, "return.authorised", return_id="R-1")
    assert len(authorised) == 1
    rma = authorised[0]["rma"]

    # Received, then inspected: the blue unit needs a second look, so no refund yet.
    stack.send("warehouse.scans", [scan("return.received", "W-1", rma=rma, lines=[
        {"line_id": "1", "sku": "SKU-RED", "quantity": 2}, {"line_id": "2", "sku": "SKU-BLUE", "quantity": 1}])],
        key="W-1")
    stack.send("warehouse.scans", [inspected(rma, [("1", "SKU-RED", 2, "restock"), ("2", "SKU-BLUE", 1, "needs_processing")])],
               key="W-1")
    # The restocked red units go back on the shelf through Kafka, and o-2's backorder is filled with one.
    filled = stack.read("warehouse.events", lambda r: bool(payloads(r, "stock.reserved", order_id="o-2")))
    assert payloads(filled, "stock.reserved", order_id="o-2")[0]["lines"][0]["quantity"] == 1
    assert stack.sql("SELECT reason, delta, reference FROM warehouse.stock_ledger WHERE reason = 'returned'") == [
        ("returned", 2, rma)]
    # (o-1's own units are still reserved here: this test skips picking and packing it.)
    assert stack.sql("SELECT on_hand, reserved FROM warehouse.stock WHERE warehouse_id = 'W-1' AND sku = 'SKU-RED'") \
        == [(2 + 2, 2 + 1)]
    assert stack.sql(f"SELECT status FROM returns.returns WHERE rma = '{rma}'") == [("awaiting_processing",)]

    # The final look: written off. The same scan twice (same event id) and once more (a new id) pays once.
    final = inspected(rma, [("2", "SKU-BLUE", 1, "write_off")])
    again = {**final, "event_id": str(uuid.uuid4())}
    stack.send("warehouse.scans", [final, final, again], key="W-1")
    records = stack.read("returns.events", lambda r: bool(payloads(r, "refund.issued")), settle_s=3)
    refunds = payloads(records, "refund.issued")
    assert len(refunds) == 1
    refund = refunds[0]
    # Paid: 2 x 10.00 + 10.00 - 5.00 discount + 4.95 shipping. The red line paid 16.67 after its share of the
    # discount, less 10% restocking (opened, changed mind); the blue 8.33; shipping comes back with the whole order.
    assert refund["lines"] == [{"line_id": "1", "quantity": 2, "amount": "15.00", "restocking_fee": "1.67"},
                               {"line_id": "2", "quantity": 1, "amount": "8.33", "restocking_fee": "0.00"}]
    assert (refund["shipping"], refund["restocking_fee"], refund["amount"]) == ("4.95", "1.67", "28.28")
    assert refund["explanation"][-1] == "total 28.28"
    dead = stack.read("warehouse.scans.dlq", lambda r: len(r) >= 1, settle_s=1)
    assert len(dead) == 1 and "its refund was issued" in json.dumps(dead[0]["headers"])
    assert stack.sql("SELECT count(*) FROM returns.refunds") == [(1,)]

    # The customer's and the agent's views.
    view = get(port, f"/returns/{rma}").json()
    assert view["status"] == "refunded" and view["refund"]["amount"] == "28.28"
    assert [(line["restocked"], line["written_off"]) for line in view["lines"]] == [(2, 0), (0, 1)]
    assert get(port, "/returns/RMA-0000000000000").status_code == 404
    assert get(port, "/returns/R-1").status_code == 404  # return ids are not public
    shown = fulfil(stack, "returns", "show", rma)
    assert shown.returncode == 0 and "refund RF-" in shown.stdout and "total 28.28" in shown.stdout
    assert "shipping 4.95 refunded: the whole order came back" in shown.stdout
    shown = fulfil(stack, "returns", "show", "R-0", "--shop", "acme")  # a rejected return has no RMA
    assert shown.stdout.count("rejected: the order has not been delivered yet") == 1, shown.stderr
    assert fulfil(stack, "returns", "show", "R-0", "--shop", "globex").returncode == 2  # acme's, not globex's
    missing = fulfil(stack, "returns", "show", "RMA-NOPE")
    assert missing.returncode == 2 and "no return has RMA 'RMA-NOPE'" in missing.stderr
    assert stock_violations(stack) == {}

    # The operators' figures, from the services' own records.
    kpis = fulfil(stack, "kpis", "--json")
    assert kpis.returncode == 0, kpis.stderr
    figures = json.loads(kpis.stdout)
    assert (figures["refund_totals"], figures["fill_rate_pct"], figures["return_rate_pct"]) == (
        {"EUR": "28.28"}, 100.0, 100.0)
    assert figures["events_processed"] > 10 and figures["dead_letters"] == 1
    assert all(isinstance(figures[k], int) for k in ("deliveries", "events_processed", "dead_letters"))
    assert all(re.fullmatch(r"[a-z_]+", key) for key in figures)
