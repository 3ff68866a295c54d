"""The warehouse floor on real Apache Kafka and PostgreSQL: a shop's order becomes a pick list (event, HTTP and
terminal), picks and a short pick, packing into a shipment with a tracking number, and scans that do not add
up going to the dead letters with their reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.embedded import free_port
from tests.factories import order_placed, scan
from tests.integration.conftest import Stack, fulfil, get, load_layout, values

pytestmark = pytest.mark.integration

LAYOUT = {
    "warehouses": [
        {"id": "W-NEAR", "name": "Near", "latitude": 51.06, "longitude": 3.72, "priority": 1,
         "grid": {"zones": ["A"], "aisles": 3, "bays": 6, "levels": 2},
         "stock": [{"sku": "SKU-RED", "bin": "A-02-05-1", "on_hand": 2, "reorder_point": 1},
                   {"sku": "SKU-BLUE", "bin": "A-01-03-2", "on_hand": 5},
                   {"sku": "SKU-GREEN", "bin": "A-03-01-1", "on_hand": 4}]},
        {"id": "W-FAR", "name": "Far", "latitude": 50.85, "longitude": 4.35, "priority": 2,
         "grid": {"zones": ["A"], "aisles": 1, "bays": 2, "levels": 1},
         "stock": [{"sku": "SKU-RED", "bin": "A-01-01-1", "on_hand": 10}]},
    ],
}


def of_type(records: list[dict[str, Any]], event_type: str, **match: Any) -> list[dict[str, Any]]:
    return [e["payload"] for e in values(records, event_type) if all(e["payload"].get(k) == v for k, v in match.items())]


def test_from_a_shops_order_to_a_packed_shipment(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, LAYOUT)
    port = free_port()
    stack.start_worker("orders")
    stack.start_worker("warehouse", FULFIL_HTTP_PORT=str(port))
    lines = [{"line_id": "1", "sku": "SKU-RED", "quantity": 2, "unit_price": "9.99"},
             {"line_id": "2", "sku": "SKU-BLUE", "quantity": 1, "unit_price": "25.00"},
             {"line_id": "3", "sku": "SKU-GREEN", "quantity": 1, "unit_price": "5.00"}]
    stack.send("shop.orders", [order_placed("o-floor", lines=lines)])

    # Reserved whole in the nearest warehouse, then a wave closes (1 s) and a pick list is issued.
    records = stack.read("warehouse.events", lambda rs: bool(of_type(rs, "picklist.issued")))
    (reserved,) = of_type(records, "stock.reserved")
    assert reserved["warehouse_id"] == "W-NEAR" and reserved["rule"] == "single_warehouse"
    (picklist,) = of_type(records, "picklist.issued")
    walk = [(line["bin"], line["sku"], line["quantity"]) for line in picklist["lines"]]
    assert walk == [("A-01-03-2", "SKU-BLUE", 1), ("A-02-05-1", "SKU-RED", 2), ("A-03-01-1", "SKU-GREEN", 1)]
    assert {t["tote"] for line in picklist["lines"] for t in line["totes"]} == {"T01"}
    assert of_type(records, "stock.low", sku="SKU-RED") and not of_type(records, "stock.low", sku="SKU-BLUE")

    # Staff see the same list over HTTP and in the terminal.
    response = get(port, "/warehouses/W-NEAR/picklists")
    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["picklist_id"] == picklist["picklist_id"] and listed["status"] == "open"
    assert (listed["units_picked"], listed["units_total"]) == (0, 4)
    assert get(port, "/warehouses/NOPE/picklists").status_code == 404
    bad_status = get(port, "/warehouses/W-NEAR/picklists?status=later")
    assert bad_status.status_code == 422 and "status" in bad_status.text
    printed = fulfil(stack, "picklists", "W-NEAR")
    assert printed.returncode == 0, printed.stderr
    assert picklist["picklist_id"] in printed.stdout and "A-02-05-1" in printed.stdout and "T01x2" in printed.stdout

    # The order is now being picked in the orders service too.
    stack.until_sql("SELECT status FROM orders.orders WHERE order_id = 'o-floor'", [("picking",)], 30)

    pl = picklist["picklist_id"]
    common = {"picklist_id": pl, "order_id": "o-floor"}
    stack.send("warehouse.scans", [
        scan("pick.confirmed", "W-NEAR", sku="SKU-BLUE", bin="A-01-03-2", quantity=1, **common),
        scan("pick.confirmed", "W-NEAR", sku="SKU-BLUE", bin="A-01-03-2", quantity=5, **common),  # over-pick
        # RED's bin held 1 of 2: the other unit is re-allocated to W-FAR and the bin's stock is corrected.
        scan("pick.short", "W-NEAR", sku="SKU-RED", bin="A-02-05-1", requested_quantity=2, picked_quantity=1,
             **common),
        scan("pick.confirmed", "W-NEAR", sku="SKU-GREEN", bin="A-03-01-1", quantity=1, **common),
    ], key="W-NEAR")
    records = stack.read("warehouse.events", lambda rs: len(of_type(rs, "stock.reserved")) >= 2)
    moved = of_type(records, "stock.reserved", warehouse_id="W-FAR")[0]
    assert moved["lines"] == [{"line_id": "1", "sku": "SKU-RED", "quantity": 1}]
    dead = stack.read("warehouse.scans.dlq", lambda rs: len(rs) >= 1)
    reason = dead[0]["headers"]["fulfil.error"]
    assert "quantity 5 of 'SKU-BLUE'" in reason and "more than the 0 unit(s) left to pick" in reason
    assert stack.sql("SELECT on_hand, reserved FROM warehouse.stock WHERE warehouse_id = 'W-NEAR' AND sku = 'SKU-RED'"
                     ) == [(1, 1)]

    # A parcel that does not match what was picked is refused; the right one ships.
    stack.send("warehouse.scans", [
        scan("parcel.packed", "W-NEAR", order_id="o-floor", parcel_id="P-wrong", weight_kg="1.2", volume_m3="0.01",
             items=[{"sku": "SKU-RED", "quantity": 2}]),
        scan("parcel.packed", "W-NEAR", order_id="o-floor", parcel_id="P-1", weight_kg="1.2", volume_m3="0.01",
             items=[{"sku": "SKU-RED", "quantity": 1}, {"sku": "SKU-BLUE", "quantity": 1},
                    {"sku": "SKU-GREEN", "quantity": 1}]),
    ], key="W-NEAR")
    records = stack.read("warehouse.events", lambda rs: bool(of_type(rs, "shipment.packed")))
    (packed,) = of_type(records, "shipment.packed")
    assert packed["parcel_id"] == "P-1" and packed["tracking_number"].startswith("FL")
    assert len(packed["tracking_number"]) == 19 and packed["delivery_window"]["start"]
    dead = stack.read("warehouse.scans.dlq", lambda rs: len(rs) >= 2)
    assert "matches no fully picked shipment" in dead[1]["headers"]["fulfil.error"]
    assert stack.sql("SELECT sku, on_hand, reserved FROM warehouse.stock WHERE warehouse_id = 'W-NEAR' ORDER BY sku") == [
        ("SKU-BLUE", 4, 0), ("SKU-GREEN", 3, 0), ("SKU-RED", 0, 0)]
    assert stack.sql("SELECT reason, sum(delta) FROM warehouse.stock_ledger WHERE warehouse_id = 'W-NEAR' "
                     "GROUP BY reason ORDER BY reason") == [("opening", 11), ("shipped", -3), ("short_pick", -1)]
    done = get(port, "/warehouses/W-NEAR/picklists?status=done").json()
    assert [(d["picklist_id"], d["units_picked"], d["units_total"]) for d in done] == [(pl, 3, 3)]
    assert json.loads(fulfil(stack, "picklists", "W-NEAR", "--json").stdout) == []


def test_a_recount_below_what_is_promised_moves_the_newest_promises_elsewhere(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, LAYOUT)
    stack.start_worker("warehouse", FULFIL_WAREHOUSE_WAVE_INTERVAL_S="3600")
    from tests.factories import order_accepted
    near = (51.05, 3.72)
    stack.send("orders.events", [order_accepted("older", [("SKU-BLUE", 2)], at=near)])
    stack.read("warehouse.events", lambda rs: len(of_type(rs, "stock.reserved")) >= 1)
    stack.send("orders.events", [order_accepted("newer", [("SKU-BLUE", 2)], at=near)])
    stack.read("warehouse.events", lambda rs: len(of_type(rs, "stock.reserved")) >= 2)
    stack.send("warehouse.scans", [scan("stock.counted", "W-NEAR", sku="SKU-BLUE", bin="A-01-03-2",
                                        counted_quantity=3),
                                   scan("stock.counted", "W-NEAR", sku="SKU-BLUE", bin="A-09-09-9",
                                        counted_quantity=3)], key="W-NEAR")
    records = stack.read("warehouse.events", lambda rs: bool(of_type(rs, "order.backordered")))
    (backordered,) = of_type(records, "order.backordered")
    assert backordered["order_id"] == "newer" and backordered["lines"][0]["quantity"] == 1
    assert stack.sql("SELECT on_hand, reserved FROM warehouse.stock WHERE sku = 'SKU-BLUE'") == [(3, 3)]
    dead = stack.read("warehouse.scans.dlq", lambda rs: len(rs) >= 1)
    assert "lives in bin 'A-01-03-2'" in dead[0]["headers"]["fulfil.error"]
