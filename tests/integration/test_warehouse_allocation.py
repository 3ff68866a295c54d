"""Allocation on real Apache Kafka and PostgreSQL: races between workers, splits, policies, backorders and
cancellations. Every test ends with the stock invariants checked (see `warehouse_stack`)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from tests.factories import order_accepted, order_cancelled, scan
from tests.integration.conftest import Stack, load_layout, log_records, values

pytestmark = pytest.mark.integration


def backordered_at_least(n: int, records: list[dict[str, Any]]) -> bool:
    return len(values(records, "order.backordered")) >= n

CUSTOMER = (52.52, 13.40)  # Berlin


def site(warehouse_id: str, lat: float, lon: float, stock: dict[str, int], priority: int = 100) -> dict[str, Any]:
    return {"id": warehouse_id, "name": warehouse_id, "latitude": lat, "longitude": lon, "priority": priority,
            "grid": {"zones": ["A"], "aisles": 2, "bays": 5, "levels": 2},
            "stock": [{"sku": sku, "bin": f"A-01-{i:02d}-1", "on_hand": units} for i, (sku, units) in
                      enumerate(sorted(stock.items()), 1)]}


def reserved_by_order(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in values(records, "stock.reserved"):
        found.setdefault(event["payload"]["order_id"], []).append(event["payload"])
    return found


def test_two_workers_racing_for_the_last_unit_never_oversell(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, {"warehouses": [site("W1", 52.5, 13.4, {"LAST": 1, "MANY": 10})]})
    stack.start_worker("warehouse")
    stack.start_worker("warehouse")
    stack.wait_for_assignments("orders.events", workers=2)
    # Two orders for the last unit, keyed to partitions that different workers own, sent in one go.
    owners = _partition_owners(stack, "orders.events")
    first = _order_id_on(owners, worker=0, prefix="race-a")
    second = _order_id_on(owners, worker=1, prefix="race-b")
    # And 24 orders for 10 units of another SKU, spread over every partition.
    crowd = [f"crowd-{i}" for i in range(24)]
    stack.send("orders.events", [order_accepted(first, [("LAST", 1)]), order_accepted(second, [("LAST", 1)])]
               + [order_accepted(o, [("MANY", 1)]) for o in crowd])
    records = stack.read("warehouse.events", lambda rs: len(values(rs, "stock.reserved")) + len(
        values(rs, "order.backordered")) >= 26, settle_s=2)
    reserved = reserved_by_order(records)
    backordered = {e["payload"]["order_id"] for e in values(records, "order.backordered")}
    assert len({first, second} & set(reserved)) == 1 and len({first, second} & backordered) == 1
    assert len(set(crowd) & set(reserved)) == 10 and len(set(crowd) & backordered) == 14
    assert stack.sql("SELECT sku, on_hand, reserved FROM warehouse.stock ORDER BY sku") == [("LAST", 1, 1), ("MANY", 10, 10)]
    processed_by = [sum(r["processed"] for r in log_records(p.read_text(), "batch.done"))
                    for p in sorted(stack.logs.glob("warehouse-*.log"))]
    assert all(count > 0 for count in processed_by), f"both workers must have allocated: {processed_by}"


def _partition_owners(stack: Stack, topic: str) -> list[list[int]]:
    owners = []
    for path in sorted(stack.logs.glob("*.log")):
        assigned = log_records(path.read_text(), "partitions.assigned")
        owners.append(assigned[-1]["partitions"][topic])
    return owners


def _order_id_on(owners: list[list[int]], worker: int, prefix: str) -> str:
    partitions = sum(len(p) for p in owners)
    choose = DefaultPartitioner()
    for i in range(1000):
        candidate = f"{prefix}-{i}"
        if choose(candidate.encode(), list(range(partitions)), list(range(partitions))) in owners[worker]:
            return candidate
    raise AssertionError("no key found for the partition")


def test_a_three_line_order_is_split_only_when_no_single_warehouse_can_serve_it(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, {"warehouses": [
        site("W-NEAR", 52.50, 13.40, {"A": 5, "B": 5}, priority=1),
        site("W-FAR", 51.34, 12.37, {"A": 5, "B": 5, "C": 1}, priority=2),
        site("W-MID", 52.40, 13.06, {"C": 5}, priority=3),
    ]})
    stack.start_worker("warehouse")
    # The same order twice (two event ids, as a buggy upstream might send it): allocated once.
    whole_order = [("A", 1), ("B", 1), ("C", 1)]
    stack.send("orders.events", [order_accepted("whole", whole_order, at=CUSTOMER),
                                 order_accepted("whole", whole_order, at=CUSTOMER)])
    records = stack.read("warehouse.events", lambda rs: len(values(rs, "stock.reserved")) >= 1, settle_s=1)
    (whole,) = reserved_by_order(records)["whole"]
    assert whole["warehouse_id"] == "W-FAR" and whole["rule"] == "single_warehouse"
    assert "W-FAR can ship the whole order" in whole["explanation"]
    # W-FAR's only C is gone: now no warehouse has all three; the fewest shipments is two, nearest pair first.
    stack.send("orders.events", [order_accepted("split", [("A", 1), ("B", 2), ("C", 1)], at=CUSTOMER)])
    records = stack.read("warehouse.events", lambda rs: len(reserved_by_order(rs).get("split", [])) >= 2, settle_s=1)
    split = reserved_by_order(records)["split"]
    assert sorted(s["warehouse_id"] for s in split) == ["W-MID", "W-NEAR"]
    assert {s["rule"] for s in split} == {"shortest_distance"}
    assert "2 shipments, the fewest possible" in split[0]["explanation"]
    assert {line["sku"] for s in split if s["warehouse_id"] == "W-NEAR" for line in s["lines"]} == {"A", "B"}
    assert not values(records, "order.backordered")


def test_backorders_are_filled_oldest_first_when_stock_arrives(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, {"warehouses": [site("W1", 52.5, 13.4, {"RARE": 0, "OTHER": 5})],
                        "shops": {"strict": "ship_complete"}})
    stack.start_worker("warehouse")
    for n, order_id in enumerate(["old", "middle", "young"], 1):  # one at a time: their age is their order
        stack.send("orders.events", [order_accepted(order_id, [("RARE", 1)])])
        stack.read("warehouse.events", partial(backordered_at_least, n))
    # A ship-complete order waits whole although OTHER is in stock.
    stack.send("orders.events", [order_accepted("complete", [("OTHER", 2), ("RARE", 1)], shop_id="strict")])
    records = stack.read("warehouse.events", lambda rs: len(values(rs, "order.backordered")) >= 4)
    held = next(e["payload"] for e in values(records, "order.backordered") if e["payload"]["order_id"] == "complete")
    assert {line["sku"] for line in held["lines"]} == {"OTHER", "RARE"} and "held" in held["reason"]
    assert not reserved_by_order(records)

    stack.send("warehouse.scans", [scan("stock.received", "W1", sku="RARE", quantity=2, reference="PO-1")], key="W1")
    records = stack.read("warehouse.events", lambda rs: len(reserved_by_order(rs)) >= 2, settle_s=2)
    assert sorted(reserved_by_order(records)) == ["middle", "old"]
    assert stack.sql("SELECT order_id FROM warehouse.backorders ORDER BY id") == [
        ("young",), ("complete",), ("complete",)]

    stack.send("warehouse.scans", [scan("stock.received", "W1", sku="RARE", quantity=2)], key="W1")
    records = stack.read("warehouse.events", lambda rs: len(reserved_by_order(rs)) >= 4, settle_s=1)
    complete = reserved_by_order(records)["complete"]
    assert len(complete) == 1 and {(x["sku"], x["quantity"]) for x in complete[0]["lines"]} == {("OTHER", 2), ("RARE", 1)}
    assert stack.sql("SELECT count(*) FROM warehouse.backorders") == [(0,)]


def test_a_cancelled_order_gives_its_stock_back_to_the_next_in_line(warehouse_stack: Stack) -> None:
    stack = warehouse_stack
    load_layout(stack, {"warehouses": [site("W1", 52.5, 13.4, {"GIFT": 3})]})
    stack.start_worker("warehouse", FULFIL_WAREHOUSE_WAVE_INTERVAL_S="3600")  # keep it before picking
    stack.send("orders.events", [order_accepted("first", [("GIFT", 3)])])
    stack.read("warehouse.events", lambda rs: len(values(rs, "stock.reserved")) >= 1)
    stack.send("orders.events", [order_accepted("waiting", [("GIFT", 2)])])
    stack.read("warehouse.events", lambda rs: len(values(rs, "order.backordered")) >= 1)
    assert stack.sql("SELECT on_hand, reserved FROM warehouse.stock") == [(3, 3)]

    stack.send("orders.events", [order_cancelled("first")])
    records = stack.read("warehouse.events", lambda rs: "waiting" in reserved_by_order(rs))
    assert reserved_by_order(records)["waiting"][0]["lines"][0]["quantity"] == 2
    assert stack.sql("SELECT on_hand, reserved FROM warehouse.stock") == [(3, 2)]
    assert stack.sql("SELECT status FROM warehouse.shipments WHERE order_id = 'first'") == [("cancelled",)]
