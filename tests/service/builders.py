"""The service-layer tests' shorthand for schemas.builders (the one set of builders), dated on the harness's fixed
clock: positional items, a few minutes after NOW where the order of events matters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from schemas import builders, carrier
from schemas.orders import OrderAccepted, OrderCancellationRequested, OrderCancelled, OrderPlaced
from schemas.returns import ReturnParcelInspected, ReturnParcelReceived, ReturnRequested
from schemas.tracking import ShipmentStatusChanged
from schemas.warehouse import (
    OrderBackordered,
    ParcelPacked,
    PickConfirmed,
    PicklistIssued,
    PickShort,
    ShipmentPacked,
    StockCounted,
    StockReceived,
    StockReserved,
)
from tests.factories import CUSTOMER, GENT, LINES
from tests.service.conftest import NOW

Berlin = tuple[float, float]


def at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def _order(order_id: str, shop: str, items: tuple[tuple[str, int], ...], where: Berlin | None,
           **overrides: Any) -> OrderPlaced:
    """Items at 10.00 a unit (the tests' default two lines without any), delivered to Gent or to `where`."""
    address = GENT if where is None else GENT.model_copy(update={"latitude": where[0], "longitude": where[1]})
    lines = None if items else LINES
    return builders.order_placed(order_id, shop, at=NOW, items=items, lines=lines,
                                 prices=dict.fromkeys((sku for sku, _ in items), "10.00"), address=address,
                                 customer=CUSTOMER, discount=Decimal("5.00"), **overrides)


def placed(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, int], **overrides: Any) -> OrderPlaced:
    return _order(order_id, shop, items, None, **overrides)


def accepted(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, int],
             where: Berlin = (52.52, 13.40), **overrides: Any) -> OrderAccepted:
    return builders.order_accepted(_order(order_id, shop, items or (("SKU-RED", 2),), where, **overrides), at=NOW)


def cancel_request(order_id: str = "A-1", shop: str = "acme") -> OrderCancellationRequested:
    return builders.cancellation_requested(order_id, shop, at=NOW, reason="changed mind")


def cancelled(order_id: str = "A-1", shop: str = "acme") -> OrderCancelled:
    return builders.order_cancelled(order_id, shop, at=NOW)


def reserved(order_id: str = "A-1", shop: str = "acme", shipment: str = "SH-1", warehouse: str = "WH-1",
             *items: tuple[str, str, int]) -> StockReserved:
    return builders.stock_reserved(order_id, shop, shipment_id=shipment, warehouse_id=warehouse,
                                   lines=items or (("1", "SKU-RED", 2),), at=NOW)


def backordered(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, str, int]) -> OrderBackordered:
    return builders.order_backordered(order_id, shop, lines=items or (("1", "SKU-RED", 2),), at=NOW)


def picklist(*orders: tuple[str, str], warehouse: str = "WH-1", picklist_id: str = "PL-1") -> PicklistIssued:
    return builders.picklist_issued(orders, warehouse_id=warehouse, picklist_id=picklist_id,
                                    at=NOW + timedelta(minutes=1))


def shipment_packed(order_id: str = "A-1", shop: str = "acme", shipment: str = "SH-1", number: str = "FL0000000001",
                    warehouse: str = "WH-1", where: Berlin = (52.53, 13.41)) -> ShipmentPacked:
    return builders.shipment_packed(order_id, shop, shipment_id=shipment, tracking_number=number,
                                    warehouse_id=warehouse,
                                    address=GENT.model_copy(update={"latitude": where[0], "longitude": where[1]}),
                                    window_start=(NOW + timedelta(days=1)).replace(hour=10, minute=0),
                                    at=NOW + timedelta(minutes=30))


def scan(kind: type[carrier.Scan], number: str, minute: float, **extra: Any) -> carrier.Scan:
    return builders.carrier_scan(kind, number, at=NOW + timedelta(minutes=minute), **extra)


def status_changed(order_id: str, shipment: str, status: str, shop: str = "acme") -> ShipmentStatusChanged:
    return builders.shipment_status_changed(order_id, shipment, status, shop, at=NOW + timedelta(hours=5))


def stock_received(warehouse: str, sku: str, quantity: int, bin_id: str | None = None) -> StockReceived:
    return builders.stock_received(warehouse, sku, quantity, bin_id=bin_id, at=NOW)


def stock_counted(warehouse: str, sku: str, counted: int) -> StockCounted:
    return builders.stock_counted(warehouse, sku, counted, at=NOW)


def pick(picklist_id: str, order_id: str, sku: str, bin_id: str, quantity: int, shop: str = "acme",
         warehouse: str = "WH-1") -> PickConfirmed:
    return builders.pick_confirmed(picklist_id, order_id, sku, bin_id, quantity, shop_id=shop, warehouse_id=warehouse,
                                   at=NOW)


def short(picklist_id: str, order_id: str, sku: str, bin_id: str, requested: int, got: int, shop: str = "acme",
          warehouse: str = "WH-1") -> PickShort:
    return builders.pick_short(picklist_id, order_id, sku, bin_id, requested, got, shop_id=shop,
                               warehouse_id=warehouse, at=NOW)


def parcel(order_id: str, *items: tuple[str, int], shop: str = "acme", warehouse: str = "WH-1") -> ParcelPacked:
    return builders.parcel_packed(order_id, items, shop_id=shop, warehouse_id=warehouse, at=NOW)


def return_requested(return_id: str, order_id: str, *items: tuple[str, str, int], shop: str = "acme",
                     days_after: float = 2) -> ReturnRequested:
    return builders.return_requested(return_id, order_id, items, shop_id=shop, at=NOW + timedelta(days=days_after))


def return_received(rma: str, *items: tuple[str, str, int], warehouse: str = "WH-1") -> ReturnParcelReceived:
    return builders.return_received(rma, items, warehouse_id=warehouse, at=NOW)


def return_inspected(rma: str, *items: tuple[str, str, int, str], warehouse: str = "WH-1") -> ReturnParcelInspected:
    return builders.return_inspected(rma, items, warehouse_id=warehouse, at=NOW)
