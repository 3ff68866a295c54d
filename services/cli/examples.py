"""`fulfil example ...`: every event a shop, a scanner or a carrier sends, ready to pipe into `fulfil send`, dated
now, with the SKUs and places of the sample layout. Scans that answer the system (picks, parcels, carrier scans,
returned parcels) are written from what the running system holds for the order, so the README's walk-through
runs as written on any day. Each is built from its payload model, so it carries every required field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer
from sqlalchemy import text

from schemas import builders
from schemas.base import Payload
from schemas.carrier import (
    Scan,
    ShipmentDelivered,
    ShipmentDeliveryFailed,
    ShipmentOutForDelivery,
    ShipmentPickedUp,
    ShipmentReturnedToSender,
)
from schemas.orders import Customer, OrderPlaced
from services.common.commands import fail, session

example_app = typer.Typer(help="Events to send as they are, dated now: `fulfil example order A-1001 | fulfil send "
                               "shop.orders - --sign acme.pem`.", no_args_is_help=True)
SCANNER, CARRIER = "device:handheld-1", "carrier:example"
Shop = Annotated[str, typer.Option("--shop", help="The shop")]
Order = Annotated[str, typer.Argument(help="The shop's order id")]
CARRIER_SCANS: dict[str, type[Scan]] = {
    "picked_up": ShipmentPickedUp, "out_for_delivery": ShipmentOutForDelivery, "delivered": ShipmentDelivered,
    "delivery_failed": ShipmentDeliveryFailed, "returned_to_sender": ShipmentReturnedToSender}


def _print(source: str, payloads: Sequence[Payload], now: datetime) -> None:
    for payload in payloads:
        typer.echo(json.dumps(builders.document(payload, source=source, at=now)))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def order_placed(order_id: str, shop_id: str, now: datetime) -> OrderPlaced:
    """Two mugs for a customer in Berlin (Berlin North has them), delivered tomorrow between 10:00 and 12:00 UTC."""
    return builders.order_placed(order_id, shop_id, at=now, customer=Customer(name="Ann Example"))


@example_app.command("order")
def order(order_id: Order = "A-1001", shop: Shop = "acme") -> None:
    """order.placed for shop.orders: two mugs to Berlin, delivered tomorrow 10:00-12:00 UTC."""
    now = _now()
    _print(f"shop:{shop}", [order_placed(order_id, shop, now)], now)


@example_app.command("cancel")
def cancel(order_id: Order, shop: Shop = "acme") -> None:
    """order.cancelled for shop.orders: the shop asks to cancel (possible until picking starts)."""
    now = _now()
    _print(f"shop:{shop}", [builders.cancellation_requested(order_id, shop, at=now)], now)


@example_app.command("stock-received")
def stock_received(warehouse: Annotated[str, typer.Argument(help="Warehouse id")],
                   sku: Annotated[str, typer.Argument(help="SKU")],
                   quantity: Annotated[int, typer.Argument(min=1, help="Units received")]) -> None:
    """stock.received for warehouse.scans: units into the SKU's bin (fills backorders)."""
    now = _now()
    _print(SCANNER, [builders.stock_received(warehouse, sku, quantity, reference="PO-EXAMPLE", at=now)], now)


@example_app.command("stock-counted")
def stock_counted(warehouse: Annotated[str, typer.Argument(help="Warehouse id")],
                  sku: Annotated[str, typer.Argument(help="SKU")],
                  counted: Annotated[int, typer.Argument(min=0, help="Units counted in its bin")]) -> None:
    """stock.counted for warehouse.scans: the bin's count becomes the truth."""
    now = _now()
    _print(SCANNER, [builders.stock_counted(warehouse, sku, counted, at=now)], now)


def _picks_due(shop: str, order_id: str) -> list[dict[str, Any]]:
    """The order's lines on open pick lists, per bin, less what is already picked."""
    query = text("""
SELECT p.warehouse_id, p.picklist_id, line.value->>'bin' AS bin, line.value->>'sku' AS sku,
       (tote.value->>'quantity')::int - COALESCE((SELECT sum(l.picked) FROM warehouse.shipment_lines l
                                   WHERE l.shipment_id = s.shipment_id AND l.sku = line.value->>'sku'), 0) AS due
  FROM warehouse.shipments s JOIN warehouse.picklists p USING (picklist_id)
       CROSS JOIN LATERAL jsonb_array_elements(p.document->'lines') AS line(value)
       CROSS JOIN LATERAL jsonb_array_elements(line.value->'totes') AS tote(value)
 WHERE s.shop_id = :shop AND s.order_id = :order AND s.status = 'picking'
   AND tote.value->>'shop_id' = :shop AND tote.value->>'order_id' = :order
 ORDER BY p.picklist_id, (line.value->>'sequence')::int""")
    with session(service="warehouse") as opened:
        rows = [dict(r._mapping) for r in opened.execute(query, {"shop": shop, "order": order_id})]
    due = [r for r in rows if r["due"] > 0]
    if not due:
        raise fail(f"{shop}'s order {order_id} has nothing left to pick on an open pick list (not accepted yet, "
                   "waiting for its wave, or picked): see `fulfil orders show`")
    return due


@example_app.command("picks")
def picks(shop: Annotated[str, typer.Argument(help="The shop")], order_id: Order) -> None:
    """pick.confirmed for warehouse.scans, one per bin of the order's tote on its open pick list, as the
    handheld sends them when each line is picked in full."""
    now = _now()
    _print(SCANNER, [builders.pick_confirmed(r["picklist_id"], order_id, r["sku"], r["bin"], r["due"], shop_id=shop,
                                             warehouse_id=r["warehouse_id"], at=now)
                     for r in _picks_due(shop, order_id)], now)


@example_app.command("pick-short")
def pick_short(shop: Annotated[str, typer.Argument(help="The shop")], order_id: Order,
               found: Annotated[int, typer.Option(min=0, help="Units found in the bin")] = 0) -> None:
    """pick.short for warehouse.scans: the order's first line still to pick, with fewer units in its bin than
    the list says (the rest is re-allocated or backordered)."""
    now = _now()
    r = _picks_due(shop, order_id)[0]
    if found >= r["due"]:
        raise fail(f"--found {found} is not short of the {r['due']} unit(s) due from {r['bin']}")
    _print(SCANNER, [builders.pick_short(r["picklist_id"], order_id, r["sku"], r["bin"], r["due"], found, shop_id=shop,
                                         warehouse_id=r["warehouse_id"], at=now)], now)


@example_app.command("parcel")
def parcel(shop: Annotated[str, typer.Argument(help="The shop")], order_id: Order) -> None:
    """parcel.packed for warehouse.scans, one per picked shipment of the order: its picked units, 1.2 kg and
    0.01 m3 (what the scale and the box say)."""
    query = text("""
SELECT s.shipment_id, s.warehouse_id, l.sku, sum(l.picked)::int AS picked
  FROM warehouse.shipments s JOIN warehouse.shipment_lines l USING (shipment_id)
 WHERE s.shop_id = :shop AND s.order_id = :order AND s.status = 'picked' AND l.picked > 0
 GROUP BY s.shipment_id, s.warehouse_id, l.sku ORDER BY s.shipment_id, l.sku""")
    with session(service="warehouse") as opened:
        rows = opened.execute(query, {"shop": shop, "order": order_id}).all()
    if not rows:
        raise fail(f"{shop}'s order {order_id} has no shipment picked and waiting to be packed")
    shipments: dict[str, list[Any]] = {}
    for row in rows:
        shipments.setdefault(row.shipment_id, []).append(row)
    now = _now()
    _print(SCANNER, [builders.parcel_packed(order_id, [(r.sku, r.picked) for r in items], shop_id=shop,
                                            warehouse_id=items[0].warehouse_id, parcel_id=f"P-{shipment_id}"[:64],
                                            weight_kg="1.2", volume_m3="0.01", at=now)
                     for shipment_id, items in shipments.items()], now)


@example_app.command("carrier-scan")
def carrier_scan(shop: Annotated[str, typer.Argument(help="The shop")], order_id: Order,
                 what: Annotated[Literal["picked_up", "out_for_delivery", "delivered", "delivery_failed",
                                         "returned_to_sender"], typer.Argument(help="What the driver scanned")]
                 ) -> None:
    """shipment.<what> for carrier.scans, one per packed parcel of the order, by its tracking number."""
    query = text("SELECT tracking_number FROM warehouse.shipments WHERE shop_id = :shop AND order_id = :order "
                 "AND tracking_number IS NOT NULL ORDER BY shipment_id")
    with session(service="warehouse") as opened:
        numbers = opened.execute(query, {"shop": shop, "order": order_id}).scalars().all()
    if not numbers:
        raise fail(f"{shop}'s order {order_id} has no packed parcel with a tracking number yet")
    now = _now()
    failed = {"reason": "no_one_home"} if what == "delivery_failed" else {}
    scans: list[Payload] = [builders.carrier_scan(CARRIER_SCANS[what], n, at=now, driver_id="D-1", **failed)
                            for n in numbers]
    _print(CARRIER, scans, now)


@example_app.command("return")
def return_requested(shop: Annotated[str, typer.Argument(help="The shop")], order_id: Order,
                     return_id: Annotated[str, typer.Argument(help="The shop's own return id")] = "R-1",
                     reason: Annotated[Literal["changed_mind", "damaged", "wrong_item", "not_as_described"],
                                       typer.Option(help="Why the customer returns it")] = "changed_mind") -> None:
    """return.requested for shop.returns: every line of the order, one unit each."""
    with session(service="returns") as opened:
        lines = opened.execute(text("SELECT lines FROM returns.orders WHERE shop_id = :shop AND order_id = :order"),
                               {"shop": shop, "order": order_id}).scalar()
    if not lines:
        raise fail(f"the returns service knows no accepted order {order_id} of {shop}")
    now = _now()
    _print(f"shop:{shop}", [builders.return_requested(return_id, order_id, [(x["line_id"], x["sku"], 1) for x in lines],
                                                      shop_id=shop, reason=reason, at=now)], now)


def _authorised(shop: str, return_id: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(RMA, the warehouse that shipped the order, the authorised lines): the return from the returns service's
    database, the warehouse from the warehouse's (each may have its own)."""
    with session(service="returns") as opened:
        row = opened.execute(text("SELECT rma, lines, order_id FROM returns.returns WHERE shop_id = :shop AND "
                                  "return_id = :return"), {"shop": shop, "return": return_id}).first()
    if row is None or row.rma is None:
        raise fail(f"{shop}'s return {return_id} is not authorised (see `fulfil returns show {return_id} "
                   f"--shop {shop}`)")
    with session(service="warehouse") as opened:
        warehouse = opened.execute(text("SELECT warehouse_id FROM warehouse.shipments WHERE shop_id = :shop AND "
                                        "order_id = :order ORDER BY shipment_id LIMIT 1"),
                                   {"shop": shop, "order": row.order_id}).scalar()
    if warehouse is None:
        raise fail(f"{shop}'s order {row.order_id} was shipped from no warehouse this warehouse service knows")
    return row.rma, str(warehouse), row.lines


@example_app.command("return-received")
def return_received(shop: Annotated[str, typer.Argument(help="The shop")],
                    return_id: Annotated[str, typer.Argument(help="The shop's own return id")] = "R-1") -> None:
    """return.received for warehouse.scans: the returned parcel with every authorised unit, scanned in at the
    warehouse that shipped it."""
    rma, warehouse, lines = _authorised(shop, return_id)
    now = _now()
    _print(SCANNER, [builders.return_received(rma, [(x["line_id"], x["sku"], x["quantity"]) for x in lines],
                                              warehouse_id=warehouse, at=now)], now)


@example_app.command("return-inspected")
def return_inspected(shop: Annotated[str, typer.Argument(help="The shop")],
                     return_id: Annotated[str, typer.Argument(help="The shop's own return id")] = "R-1",
                     disposition: Annotated[Literal["restock", "write_off", "needs_processing"], typer.Option(
                         help="What becomes of every unit")] = "restock") -> None:
    """return.inspected for warehouse.scans: every authorised unit with one disposition."""
    rma, warehouse, lines = _authorised(shop, return_id)
    now = _now()
    _print(SCANNER, [builders.return_inspected(rma, [(x["line_id"], x["sku"], x["quantity"], disposition)
                                                     for x in lines], warehouse_id=warehouse, at=now)], now)
