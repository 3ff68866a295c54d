"""Order identity is per shop in every service, on real Apache Kafka and PostgreSQL: three shops place an order
under the same id and each goes its own way through orders, warehouse, tracking and returns: reserved and picked
apart, one cancelled and one refused a cancellation without touching the others, each shop's API showing only
its own, return ids of the same name answered for each shop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from schemas.registry import order_key
from services.common.embedded import free_port
from tests.factories import cancellation, envelope, order_placed, scan
from tests.integration.conftest import Stack, fulfil, load_layout, values

pytestmark = pytest.mark.integration

LAYOUT = {
    "warehouses": [
        {"id": "W-ONE", "name": "One", "latitude": 51.06, "longitude": 3.72, "priority": 1,
         "grid": {"zones": ["A"], "aisles": 2, "bays": 4, "levels": 1},
         "stock": [{"sku": "SKU-RED", "bin": "A-01-01-1", "on_hand": 10},
                   {"sku": "SKU-BLUE", "bin": "A-02-03-1", "on_hand": 10}]},
    ],
}
RED = [{"line_id": "1", "sku": "SKU-RED", "quantity": 2, "unit_price": "9.99"}]
BLUE = [{"line_id": "1", "sku": "SKU-BLUE", "quantity": 3, "unit_price": "5.00"}]


def of_shop(records: list[dict[str, Any]], event_type: str, shop_id: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in values(records, event_type) if e["payload"].get("shop_id") == shop_id]


def until(stack: Stack, sql: str, wanted: list[tuple[Any, ...]], timeout_s: float = 60) -> None:
    stack.until_sql(sql, wanted, timeout_s)


def shop_key(stack: Stack, shop: str) -> str:
    added = fulfil(stack, "shop-key", "add", shop)
    assert added.returncode == 0, added.stderr
    return added.stdout.strip().splitlines()[-1]


def test_three_shops_use_one_order_id_and_never_touch_each_other(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, LAYOUT)
    port = free_port()
    for service in ("orders", "returns"):
        stack.start_worker(service)
    stack.start_worker("warehouse", FULFIL_WAREHOUSE_WAVE_INTERVAL_S="5")  # the cancellation lands before the wave
    stack.start_worker("tracking", FULFIL_HTTP_PORT=str(port))
    stack.send("shop.orders", [order_placed("A-301", lines=RED), order_placed("A-301", shop_id="globex", lines=BLUE),
                               order_placed("A-301", shop_id="initech", lines=RED[:1]),
                               cancellation("A-301", shop_id="initech")])

    # All three are accepted and reserved apart; initech's is released; the others are picked from one list,
    # each in its own tote.
    records = stack.read("warehouse.events", lambda rs: bool(values(rs, "picklist.issued")))
    assert [p["lines"][0]["sku"] for p in of_shop(records, "stock.reserved", "acme")] == ["SKU-RED"]
    assert [p["lines"][0]["sku"] for p in of_shop(records, "stock.reserved", "globex")] == ["SKU-BLUE"]
    shipments = {e["payload"]["shop_id"]: e["payload"]["shipment_id"] for e in values(records, "stock.reserved")}
    assert len(set(shipments.values())) == 3
    assert {e["key"] for e in records if e["value"]["event_type"] == "stock.reserved"} == {
        "acme/A-301", "globex/A-301", "initech/A-301"}
    assert stack.sql("SELECT shop_id, status FROM warehouse.orders ORDER BY shop_id") == [
        ("acme", "open"), ("globex", "open"), ("initech", "cancelled")]
    (picklist,) = [e["payload"] for e in values(records, "picklist.issued")]
    assert sorted((o["shop_id"], o["order_id"]) for o in picklist["orders"]) == [("acme", "A-301"),
                                                                                  ("globex", "A-301")]
    totes = {(t["shop_id"], t["order_id"]): t["tote"] for line in picklist["lines"] for t in line["totes"]}
    assert len(set(totes.values())) == 2
    printed = fulfil(stack, "picklists", "W-ONE")
    assert "A-301 of acme" in printed.stdout and "A-301 of globex" in printed.stdout, printed.stderr

    # acme's A-301 is picked and packed; a scan naming acme's A-301 never reaches globex's units; globex's
    # cancellation, once its picking started, is refused for globex alone.
    pl = picklist["picklist_id"]
    stack.send("warehouse.scans", [
        scan("pick.confirmed", "W-ONE", picklist_id=pl, order_id="A-301", sku="SKU-RED", bin="A-01-01-1",
             quantity=2),
        scan("pick.confirmed", "W-ONE", picklist_id=pl, order_id="A-301", sku="SKU-BLUE", bin="A-02-03-1",
             quantity=3),
        scan("parcel.packed", "W-ONE", order_id="A-301", parcel_id="P-acme", weight_kg="1.0", volume_m3="0.01",
             items=[{"sku": "SKU-RED", "quantity": 2}]),
    ], key="W-ONE")
    stack.send("shop.orders", [cancellation("A-301", shop_id="globex")])
    records = stack.read("warehouse.events", lambda rs: bool(values(rs, "shipment.packed")))
    (packed,) = [e["payload"] for e in values(records, "shipment.packed")]
    assert (packed["shop_id"], packed["shipment_id"]) == ("acme", shipments["acme"])
    (dead,) = stack.read("warehouse.scans.dlq", lambda rs: len(rs) >= 1)
    assert "sku 'SKU-BLUE' is not on pick list" in dead["headers"]["fulfil.error"]
    answers = stack.read("orders.events", lambda rs: bool(values(rs, "order.cancellation_refused")))
    (refused,) = [e["payload"] for e in values(answers, "order.cancellation_refused")]
    assert (refused["shop_id"], refused["code"]) == ("globex", "picking_started")
    until(stack, "SELECT shop_id, status FROM orders.orders ORDER BY shop_id",
          [("acme", "packed"), ("globex", "picking"), ("initech", "cancelled")])
    until(stack, "SELECT shop_id, status FROM tracking.shipments ORDER BY shop_id",
          [("acme", "packed"), ("globex", "picking"), ("initech", "cancelled")])

    # Each shop's API shows its own A-301 only.
    keys = {shop: shop_key(stack, shop) for shop in ("acme", "globex", "initech")}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        views = {shop: http.get("/orders/A-301", headers={"Authorization": f"Bearer {key}"}).json()
                 for shop, key in keys.items()}
    assert [views[shop]["status"] for shop in ("acme", "globex", "initech")] == ["packed", "picking", "cancelled"]
    for shop, view in views.items():
        assert [s["shipment_id"] for s in view["shipments"]] == [shipments[shop]], (shop, view)
    assert views["acme"]["shipments"][0]["tracking_number"] == packed["tracking_number"]

    # Return ids are the shops' own too: both R-1 requests are answered, each for its own order.
    stack.send("shop.returns", [return_request("acme", "SKU-RED"), return_request("initech", "SKU-RED")])
    records = stack.read("returns.events", lambda rs: len(values(rs, "return.rejected")) >= 2, settle_s=2)
    answers_by_shop = {e["payload"]["shop_id"]: e["payload"]["reasons"] for e in values(records, "return.rejected")}
    assert set(answers_by_shop) == {"acme", "initech"} and len(values(records)) == 2
    assert answers_by_shop["initech"] == ["the order was cancelled"], answers_by_shop
    assert stack.sql("SELECT shop_id, return_id FROM returns.returns ORDER BY shop_id") == [("acme", "R-1"),
                                                                                         ("initech", "R-1")]

    # The operator reads acme's A-301 story across the services, in time order, and nothing of the others'.
    told = fulfil(stack, "orders", "show", "acme", "A-301", "--json")
    assert told.returncode == 0, told.stderr
    story = json.loads(told.stdout)
    steps = [(step["service"], step["what"]) for step in story["story"]]
    assert [step["at"] for step in story["story"]] == sorted(step["at"] for step in story["story"])
    whats = " | ".join(what for _, what in steps)
    for expected in ("status accepted -> allocated", "reserved in W-ONE (single_warehouse)", "on pick list",
                     "packed as parcel P-acme", "status picking -> packed", "return R-1 rejected"):
        assert expected in whats, whats
    assert {step["shipment_id"] for step in story["story"] if step["shipment_id"]} == {shipments["acme"]}
    assert any(service == "tracking" and what.startswith("packed") for service, what in steps)
    printed = fulfil(stack, "orders", "show", "acme", "A-301")
    assert printed.stdout.startswith("order A-301 of acme: packed") and "reserved in W-ONE" in printed.stdout
    nobody = fulfil(stack, "orders", "show", "umbrella", "A-301")
    assert nobody.returncode == 2 and "shop 'umbrella' has no order 'A-301'" in nobody.stderr


def return_request(shop: str, sku: str) -> dict[str, Any]:
    return envelope("return.requested", {
        "return_id": "R-1", "order_id": "A-301", "shop_id": shop, "requested_at": datetime.now(UTC).isoformat(),
        "lines": [{"line_id": "1", "sku": sku, "quantity": 1, "reason": "changed_mind"}]},
        correlation_id=order_key(shop, "A-301"), source=f"shop:{shop}")
