"""Typed payloads for the service-layer tests, dated on the harness's fixed clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas import carrier
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
from tests.factories import order_payload
from tests.service.conftest import NOW


def at(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def lines(*items: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"line_id": str(n), "sku": sku, "quantity": q, "unit_price": "10.00"} for n, (sku, q) in enumerate(items, 1)]


def placed(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, int], **overrides: Any) -> OrderPlaced:
    document = order_payload(order_id, shop_id=shop, now=NOW, lines=lines(*items) if items else None, **overrides)
    return OrderPlaced.model_validate(document)


def accepted(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, int],
             where: tuple[float, float] = (52.52, 13.40), **overrides: Any) -> OrderAccepted:
    document = order_payload(order_id, shop_id=shop, now=NOW, lines=lines(*(items or (("SKU-RED", 2),))),
                             **overrides)
    document["delivery_address"].update(latitude=where[0], longitude=where[1])
    return OrderAccepted.model_validate({**document, "accepted_at": NOW.isoformat()})


def cancel_request(order_id: str = "A-1", shop: str = "acme") -> OrderCancellationRequested:
    return OrderCancellationRequested(order_id=order_id, shop_id=shop, requested_at=NOW, reason="changed mind")


def cancelled(order_id: str = "A-1", shop: str = "acme") -> OrderCancelled:
    return OrderCancelled(order_id=order_id, shop_id=shop, cancelled_at=NOW, previous_status="allocated")


def reserved(order_id: str = "A-1", shop: str = "acme", shipment: str = "SH-1", warehouse: str = "WH-1",
             *items: tuple[str, str, int]) -> StockReserved:
    return StockReserved.model_validate({
        "shop_id": shop, "order_id": order_id, "shipment_id": shipment, "warehouse_id": warehouse,
        "lines": [{"line_id": line, "sku": sku, "quantity": q} for line, sku, q in items or (("1", "SKU-RED", 2),)],
        "rule": "single_warehouse", "explanation": "the only one", "reserved_at": at(0)})


def backordered(order_id: str = "A-1", shop: str = "acme", *items: tuple[str, str, int]) -> OrderBackordered:
    return OrderBackordered.model_validate({
        "shop_id": shop, "order_id": order_id, "reason": "no stock", "backordered_at": at(0),
        "lines": [{"line_id": line, "sku": sku, "quantity": q} for line, sku, q in items or (("1", "SKU-RED", 2),)]})


def picklist(*orders: tuple[str, str], warehouse: str = "WH-1", picklist_id: str = "PL-1") -> PicklistIssued:
    return PicklistIssued.model_validate({
        "picklist_id": picklist_id, "warehouse_id": warehouse, "wave_id": "WV-1", "issued_at": at(1),
        "orders": [{"shop_id": shop, "order_id": order} for shop, order in orders],
        "lines": [{"sequence": 1, "zone": "A", "aisle": 1, "bay": 1, "level": 1, "bin": "A-01-01-1", "sku": "SKU-RED",
                   "quantity": len(orders),
                   "totes": [{"shop_id": shop, "order_id": order, "tote": f"T{n:02d}", "quantity": 1}
                             for n, (shop, order) in enumerate(orders, 1)]}]})


def shipment_packed(order_id: str = "A-1", shop: str = "acme", shipment: str = "SH-1", number: str = "FL0000000001",
                    warehouse: str = "WH-1", where: tuple[float, float] = (52.53, 13.41)) -> ShipmentPacked:
    document = order_payload(order_id, shop_id=shop, now=NOW)
    document["delivery_address"].update(latitude=where[0], longitude=where[1])
    return ShipmentPacked.model_validate({
        "shipment_id": shipment, "shop_id": shop, "order_id": order_id, "warehouse_id": warehouse,
        "tracking_number": number, "parcel_id": f"P-{shipment}", "weight_kg": "1.200", "volume_m3": "0.0100",
        "delivery_address": document["delivery_address"], "delivery_window": document["delivery_window"],
        "packed_at": at(30)})


def scan(kind: type[carrier.Scan], number: str, minute: float, **extra: Any) -> carrier.Scan:
    return kind.model_validate({"tracking_number": number, "scanned_at": at(minute), **extra})


def status_changed(order_id: str, shipment: str, status: str, shop: str = "acme") -> ShipmentStatusChanged:
    return ShipmentStatusChanged(tracking_number="FL0000000001", shipment_id=shipment, shop_id=shop,
                                 order_id=order_id, status=status, previous_status=None,
                                 changed_at=NOW + timedelta(hours=5))


def stock_received(warehouse: str, sku: str, quantity: int, bin_id: str | None = None) -> StockReceived:
    return StockReceived(warehouse_id=warehouse, sku=sku, quantity=quantity, bin=bin_id, received_at=NOW)


def stock_counted(warehouse: str, sku: str, counted: int) -> StockCounted:
    return StockCounted(warehouse_id=warehouse, sku=sku, counted_quantity=counted, counted_at=NOW)


def pick(picklist_id: str, order_id: str, sku: str, bin_id: str, quantity: int, shop: str = "acme",
         warehouse: str = "WH-1") -> PickConfirmed:
    return PickConfirmed(warehouse_id=warehouse, picklist_id=picklist_id, shop_id=shop, order_id=order_id, sku=sku,
                         bin=bin_id, quantity=quantity, picked_at=NOW)


def short(picklist_id: str, order_id: str, sku: str, bin_id: str, requested: int, got: int, shop: str = "acme",
          warehouse: str = "WH-1") -> PickShort:
    return PickShort(warehouse_id=warehouse, picklist_id=picklist_id, shop_id=shop, order_id=order_id, sku=sku,
                     bin=bin_id, requested_quantity=requested, picked_quantity=got, reported_at=NOW)


def parcel(order_id: str, *items: tuple[str, int], shop: str = "acme", warehouse: str = "WH-1") -> ParcelPacked:
    return ParcelPacked.model_validate({
        "warehouse_id": warehouse, "shop_id": shop, "order_id": order_id, "parcel_id": f"P-{order_id}",
        "weight_kg": "1.000", "volume_m3": "0.0100", "packed_at": NOW.isoformat(),
        "items": [{"sku": sku, "quantity": q} for sku, q in items]})


def return_requested(return_id: str, order_id: str, *items: tuple[str, str, int], shop: str = "acme",
                     days_after: float = 2) -> ReturnRequested:
    return ReturnRequested.model_validate({
        "return_id": return_id, "order_id": order_id, "shop_id": shop,
        "requested_at": (NOW + timedelta(days=days_after)).isoformat(),
        "lines": [{"line_id": line, "sku": sku, "quantity": q, "reason": "changed_mind"} for line, sku, q in items]})


def return_received(rma: str, *items: tuple[str, str, int], warehouse: str = "WH-1") -> ReturnParcelReceived:
    return ReturnParcelReceived.model_validate({
        "rma": rma, "warehouse_id": warehouse, "received_at": NOW.isoformat(),
        "lines": [{"line_id": line, "sku": sku, "quantity": q} for line, sku, q in items]})


def return_inspected(rma: str, *items: tuple[str, str, int, str], warehouse: str = "WH-1") -> ReturnParcelInspected:
    return ReturnParcelInspected.model_validate({
        "rma": rma, "warehouse_id": warehouse, "inspected_at": NOW.isoformat(),
        "lines": [{"line_id": line, "sku": sku, "quantity": q, "disposition": d} for line, sku, q, d in items]})

