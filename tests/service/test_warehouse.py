"""The warehouse service's handlers and its wave job on PostgreSQL: allocation, release, stock in and counted,
picks and short picks, packing, restocked returns and pick lists, with the stock ledger kept right."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.returns import InspectedLine, ReturnInspected
from schemas.warehouse import OrderBackordered, PicklistIssued, ShipmentPacked, StockLow, StockReserved
from services.warehouse import layout
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.waves import close_waves
from tests.service.builders import accepted, cancelled, parcel, pick, short, stock_counted, stock_received
from tests.service.conftest import NOW, of

pytestmark = pytest.mark.service

LAYOUT = {"warehouses": [
    {"id": "WH-1", "name": "Near", "latitude": 52.52, "longitude": 13.40, "priority": 1,
     "grid": {"zones": ["A"], "aisles": 2, "bays": 4, "levels": 1},
     "stock": [{"sku": "SKU-RED", "bin": "A-01-01-1", "on_hand": 3, "reorder_point": 2},
               {"sku": "SKU-BLUE", "bin": "A-02-03-1", "on_hand": 5}]},
    {"id": "WH-2", "name": "Far", "latitude": 50.85, "longitude": 4.35, "priority": 2,
     "grid": {"zones": ["A"], "aisles": 1, "bays": 2, "levels": 1},
     "stock": [{"sku": "SKU-RED", "bin": "A-01-01-1", "on_hand": 10}]},
]}


@pytest.fixture
def h(harness: Any) -> Any:
    wh = harness("warehouse", warehouse_wave_max_orders=2, warehouse_wave_interval_s=60)
    with wh.session() as session:
        layout.apply(session, layout.Layout.model_validate(LAYOUT), NOW)
    return wh


def stock(h: Any, warehouse: str, sku: str) -> tuple[int, int]:
    (row,) = h.rows("SELECT on_hand, reserved FROM warehouse.stock WHERE warehouse_id = :w AND sku = :s",
                    w=warehouse, s=sku)
    return row


def ledger_agrees(h: Any) -> bool:
    return h.rows("""SELECT s.warehouse_id FROM warehouse.stock s LEFT JOIN warehouse.stock_ledger l
                     USING (warehouse_id, sku) GROUP BY s.warehouse_id, s.sku, s.on_hand
                     HAVING s.on_hand <> coalesce(sum(l.delta), 0)""") == []


def test_orders_are_allocated_nearest_first_and_what_no_warehouse_has_is_backordered(h: Any) -> None:
    out = h.handle(accepted("A-1", "acme", ("SKU-RED", 2)), accepted("A-1", "globex", ("SKU-RED", 2), ("SKU-GREY", 1)))
    reserved = of(out, StockReserved)
    assert [(r.shop_id, r.warehouse_id, r.lines[0].quantity) for r in reserved] == [
        ("acme", "WH-1", 2), ("globex", "WH-2", 2)]
    (held,) = of(out, OrderBackordered)
    assert (held.shop_id, held.lines[0].sku) == ("globex", "SKU-GREY")
    assert [e.key for e in h.emitted if isinstance(e.event.payload, StockReserved)] == ["acme/A-1", "globex/A-1"]
    assert stock(h, "WH-1", "SKU-RED") == (3, 2)
    assert of(out, StockLow) and ledger_agrees(h)


def test_the_same_order_again_is_not_allocated_twice(h: Any) -> None:
    h.handle(accepted("A-1"))
    assert h.handle(accepted("A-1")) == []
    assert stock(h, "WH-1", "SKU-RED") == (3, 2)


def test_a_cancellation_gives_back_stock_that_the_oldest_backorder_then_takes(h: Any) -> None:
    h.handle(accepted("A-1", "acme", ("SKU-BLUE", 5)), accepted("B-1", "globex", ("SKU-BLUE", 2)))
    out = h.handle(cancelled("A-1"))
    (filled,) = of(out, StockReserved)
    assert (filled.shop_id, filled.order_id, filled.lines[0].quantity) == ("globex", "B-1", 2)
    assert h.rows("SELECT shop_id, status FROM warehouse.orders ORDER BY shop_id") == [("acme", "cancelled"),
                                                                                        ("globex", "open")]
    assert stock(h, "WH-1", "SKU-BLUE") == (5, 2)


def test_stock_received_fills_backorders_and_a_count_takes_back_what_is_not_there(h: Any) -> None:
    h.handle(accepted("A-1", "acme", ("SKU-BLUE", 6)))
    (filled,) = of(h.handle(stock_received("WH-1", "SKU-BLUE", 1)), StockReserved)
    assert filled.lines[0].quantity == 1
    assert stock(h, "WH-1", "SKU-BLUE") == (6, 6)
    out = h.handle(stock_counted("WH-1", "SKU-BLUE", 4))
    assert stock(h, "WH-1", "SKU-BLUE") == (4, 4) and of(out, OrderBackordered)
    with pytest.raises(ScanRejected, match="has no bin in warehouse"):
        h.handle(stock_received("WH-2", "SKU-BLUE", 1))
    assert ledger_agrees(h)


def test_a_wave_becomes_a_pick_list_picks_and_a_short_pick_move_stock_and_the_parcel_ships(h: Any) -> None:
    h.handle(accepted("A-1", "acme", ("SKU-RED", 2)), accepted("A-1", "globex", ("SKU-BLUE", 1)))
    (issued,) = of(h.run(close_waves), PicklistIssued)
    assert sorted((o.shop_id, o.order_id) for o in issued.orders) == [("acme", "A-1"), ("globex", "A-1")]
    assert [line.bin for line in issued.lines] == ["A-01-01-1", "A-02-03-1"]  # walking order
    pl = issued.picklist_id
    h.handle(pick(pl, "A-1", "SKU-BLUE", "A-02-03-1", 1, shop="globex"))
    with pytest.raises(ScanRejected, match="not on pick list"):
        h.handle(pick(pl, "A-1", "SKU-BLUE", "A-02-03-1", 1))  # acme's A-1 has no BLUE
    moved = h.handle(short(pl, "A-1", "SKU-RED", "A-01-01-1", 2, 1))
    (elsewhere,) = of(moved, StockReserved)
    assert (elsewhere.warehouse_id, elsewhere.lines[0].quantity) == ("WH-2", 1)
    assert stock(h, "WH-1", "SKU-RED") == (1, 1)
    with pytest.raises(ScanRejected, match="matches no fully picked shipment"):
        h.handle(parcel("A-1", ("SKU-RED", 2)))
    (shipped,) = of(h.handle(parcel("A-1", ("SKU-RED", 1))), ShipmentPacked)
    assert shipped.shop_id == "acme" and shipped.tracking_number.startswith("FL")
    assert stock(h, "WH-1", "SKU-RED") == (0, 0) and ledger_agrees(h)


def test_two_shipments_of_an_order_in_one_tote_are_picked_by_one_scan_short_picked_and_packed_apart(h: Any) -> None:
    """A backorder filled in the same warehouse before the wave closed: one tote, two shipments. A scan of the
    tote's units spreads over both (oldest first), a short pick trims both, and each becomes a parcel of its own."""
    h.handle(accepted("A-1", "acme", ("SKU-BLUE", 7)))  # only WH-1 has BLUE, 5 of it: 2 backordered
    h.handle(stock_received("WH-1", "SKU-BLUE", 4))  # the backorder is filled in WH-1: a second shipment
    (issued,) = of(h.run(close_waves), PicklistIssued)
    assert [(t.tote, t.quantity) for t in issued.lines[0].totes] == [("T01", 7)]
    pl = issued.picklist_id
    h.handle(pick(pl, "A-1", "SKU-BLUE", "A-02-03-1", 6))
    lines = "SELECT l.quantity, l.picked FROM warehouse.shipment_lines l JOIN warehouse.shipments s USING " \
            "(shipment_id) ORDER BY s.reserved_at, s.shipment_id"
    (a_quantity, a_picked), (b_quantity, b_picked) = h.rows(lines)
    assert a_picked == a_quantity and b_picked == b_quantity - 1, "the oldest shipment first, then the next"
    with pytest.raises(ScanRejected, match="more than the 1 unit"):
        h.handle(pick(pl, "A-1", "SKU-BLUE", "A-02-03-1", 2))
    h.handle(short(pl, "A-1", "SKU-BLUE", "A-02-03-1", 1, 0))
    assert [q == p for q, p in h.rows(lines)] == [True, True] and sum(p for _, p in h.rows(lines)) == 6
    assert h.rows("SELECT status FROM warehouse.shipments ORDER BY reserved_at, shipment_id") == [
        ("picked",), ("picked",)]
    (big, _), (small, _) = sorted(h.rows(lines), reverse=True)
    first = of(h.handle(parcel("A-1", ("SKU-BLUE", big))), ShipmentPacked)
    second = of(h.handle(parcel("A-1", ("SKU-BLUE", small))), ShipmentPacked)
    assert len(first) == len(second) == 1 and first[0].shipment_id != second[0].shipment_id and ledger_agrees(h)


def test_inspected_returns_fit_for_sale_go_back_on_the_shelf(h: Any) -> None:
    inspected = ReturnInspected(
        shop_id="acme", return_id="R-1", order_id="A-1", rma="RMA-0000000001", warehouse_id="WH-1",
        inspected_at=NOW, lines=[InspectedLine(line_id="1", sku="SKU-RED", quantity=2, disposition="restock"),
                                 InspectedLine(line_id="2", sku="SKU-BLUE", quantity=1, disposition="write_off")])
    h.handle(inspected)
    assert stock(h, "WH-1", "SKU-RED") == (5, 0) and stock(h, "WH-1", "SKU-BLUE") == (5, 0)
    assert ledger_agrees(h)
