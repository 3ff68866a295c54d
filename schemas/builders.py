"""Every event of the contract built from its payload model, with valid defaults and dated by the caller: the one set
of builders `fulfil example`, the demo and the tests share, so a change to the contract is made here once.

A builder returns the typed payload; `document()` wraps one in its envelope as a shop, a device, a carrier or a
service would send it (JSON-ready, at the schema version Fulfil reads now). Lines are given as plain tuples:
(sku, quantity) for what a customer orders or a parcel holds, (line_id, sku, quantity) for what a service
reserves or a return carries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas import carrier
from schemas.base import Payload
from schemas.envelope import make_event
from schemas.orders import (
    Address,
    Customer,
    OrderAccepted,
    OrderCancellationRequested,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
)
from schemas.registry import correlation_of
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

BERLIN = Address(line1="Unter den Linden 1", city="Berlin", postcode="10117", country="DE", latitude=52.5170,
                 longitude=13.3889)
"""A customer near the sample layout's Berlin North warehouse."""
CUSTOMER = Customer(name="Ann Example", email="ann@example.com", phone="+49 30 000000")
Item = tuple[str, int]
"""(sku, quantity)"""
Line = tuple[str, str, int]
"""(line_id, sku, quantity)"""


def document(payload: Payload, *, source: str, at: datetime, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The envelope as it goes on the wire, as a JSON-ready dict: `source` is who sends it (shop:acme,
    device:handheld-1, carrier:own-fleet, service:warehouse)."""
    event = make_event(payload, source=source, correlation_id=correlation_of(payload), occurred_at=at,
                       event_id=event_id or uuid.uuid4())
    return dict(json.loads(event.to_json()))


def order_placed(order_id: str = "A-1", shop_id: str = "acme", *, at: datetime,
                 items: Sequence[Item] = (("SKU-MUG", 2),), prices: Mapping[str, Decimal | str] | None = None,
                 lines: Sequence[Mapping[str, Any]] | None = None, address: Address = BERLIN,
                 customer: Customer = CUSTOMER, window_start: datetime | None = None,
                 discount: Decimal = Decimal("0"), shipping: Decimal = Decimal("4.95"), **overrides: Any
                 ) -> OrderPlaced:
    """Delivered the next day 10:00-12:00 (UTC) unless `window_start` says when; `items` numbered as lines 1, 2, ...
    at 9.99 a unit unless `prices` says otherwise, or `lines` given whole; the total adds up. `overrides` replace
    fields as given (an order the orders service rejects is built so too)."""
    order_lines = [OrderLine.model_validate(line) for line in lines] if lines is not None else [
        OrderLine(line_id=str(n), sku=sku, quantity=quantity, unit_price=Decimal(str((prices or {}).get(sku, "9.99"))))
        for n, (sku, quantity) in enumerate(items, 1)]
    start = window_start or (at + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    fields: dict[str, Any] = {
        "order_id": order_id, "shop_id": shop_id, "placed_at": at, "currency": "EUR", "customer": customer,
        "delivery_address": address, "delivery_window": {"start": start, "end": start + timedelta(hours=2)},
        "lines": order_lines, "discount_total": discount, "shipping_total": shipping,
        "total": sum((x.unit_price * x.quantity for x in order_lines), Decimal(0)) - discount + shipping}
    return OrderPlaced.model_validate({**fields, **overrides})


def order_accepted(placed: OrderPlaced, *, at: datetime) -> OrderAccepted:
    """What the orders service publishes for a valid order."""
    return OrderAccepted.model_validate({**placed.model_dump(), "accepted_at": at})


def cancellation_requested(order_id: str = "A-1", shop_id: str = "acme", *, at: datetime,
                           reason: str = "the customer changed their mind") -> OrderCancellationRequested:
    return OrderCancellationRequested(order_id=order_id, shop_id=shop_id, requested_at=at, reason=reason)


def order_cancelled(order_id: str = "A-1", shop_id: str = "acme", *, at: datetime,
                    previous_status: str = "allocated") -> OrderCancelled:
    return OrderCancelled(order_id=order_id, shop_id=shop_id, cancelled_at=at, previous_status=previous_status,
                          reason="the customer changed their mind")


def _lines(lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [{"line_id": line_id, "sku": sku, "quantity": quantity} for line_id, sku, quantity in lines]


def stock_reserved(order_id: str = "A-1", shop_id: str = "acme", *, shipment_id: str = "SH-1",
                   warehouse_id: str = "WH-1", lines: Sequence[Line] = (("1", "SKU-RED", 2),), at: datetime
                   ) -> StockReserved:
    return StockReserved.model_validate({
        "shop_id": shop_id, "order_id": order_id, "shipment_id": shipment_id, "warehouse_id": warehouse_id,
        "lines": _lines(lines), "rule": "single_warehouse", "explanation": "the only one", "reserved_at": at})


def order_backordered(order_id: str = "A-1", shop_id: str = "acme", *, lines: Sequence[Line] = (("1", "SKU-RED", 2),),
                      at: datetime) -> OrderBackordered:
    return OrderBackordered.model_validate({"shop_id": shop_id, "order_id": order_id, "reason": "no stock",
                                            "backordered_at": at, "lines": _lines(lines)})


def picklist_issued(orders: Sequence[tuple[str, str]], *, warehouse_id: str = "WH-1", picklist_id: str = "PL-1",
                    sku: str = "SKU-RED", bin_id: str = "A-01-01-1", units: int = 1, at: datetime) -> PicklistIssued:
    """One line: `units` of `sku` from one bin for each of the (shop_id, order_id) `orders`, a tote each."""
    return PicklistIssued.model_validate({
        "picklist_id": picklist_id, "warehouse_id": warehouse_id, "wave_id": "WV-1", "issued_at": at,
        "orders": [{"shop_id": shop, "order_id": order} for shop, order in orders],
        "lines": [{"sequence": 1, "zone": "A", "aisle": 1, "bay": 1, "level": 1, "bin": bin_id, "sku": sku,
                   "quantity": units * len(orders),
                   "totes": [{"shop_id": shop, "order_id": order, "tote": f"T{n:02d}", "quantity": units}
                             for n, (shop, order) in enumerate(orders, 1)]}]})


def shipment_packed(order_id: str = "A-1", shop_id: str = "acme", *, shipment_id: str = "SH-1",
                    tracking_number: str = "FL0000000001", warehouse_id: str = "WH-1", address: Address = BERLIN,
                    window_start: datetime | None = None, at: datetime) -> ShipmentPacked:
    start = window_start or (at + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return ShipmentPacked.model_validate({
        "shipment_id": shipment_id, "shop_id": shop_id, "order_id": order_id, "warehouse_id": warehouse_id,
        "tracking_number": tracking_number, "parcel_id": f"P-{shipment_id}", "weight_kg": "1.200",
        "volume_m3": "0.0100", "delivery_address": address,
        "delivery_window": {"start": start, "end": start + timedelta(hours=2)}, "packed_at": at})


def carrier_scan(kind: type[carrier.Scan], tracking_number: str, *, at: datetime, **extra: Any) -> carrier.Scan:
    """A carrier's scan of a parcel (`extra`: a failure's reason, a location)."""
    return kind.model_validate({"tracking_number": tracking_number, "scanned_at": at, **extra})


def shipment_status_changed(order_id: str, shipment_id: str, status: str, shop_id: str = "acme", *,
                            tracking_number: str = "FL0000000001", at: datetime) -> ShipmentStatusChanged:
    return ShipmentStatusChanged(tracking_number=tracking_number, shipment_id=shipment_id, shop_id=shop_id,
                                 order_id=order_id, status=status, previous_status=None, changed_at=at)


def stock_received(warehouse_id: str, sku: str, quantity: int, *, bin_id: str | None = None,
                   reference: str | None = None, at: datetime) -> StockReceived:
    return StockReceived(warehouse_id=warehouse_id, sku=sku, quantity=quantity, bin=bin_id, reference=reference,
                         received_at=at)


def stock_counted(warehouse_id: str, sku: str, counted: int, *, at: datetime) -> StockCounted:
    return StockCounted(warehouse_id=warehouse_id, sku=sku, counted_quantity=counted, counted_at=at)


def pick_confirmed(picklist_id: str, order_id: str, sku: str, bin_id: str, quantity: int, *, shop_id: str = "acme",
                   warehouse_id: str = "WH-1", at: datetime) -> PickConfirmed:
    return PickConfirmed(warehouse_id=warehouse_id, picklist_id=picklist_id, shop_id=shop_id, order_id=order_id,
                         sku=sku, bin=bin_id, quantity=quantity, picked_at=at)


def pick_short(picklist_id: str, order_id: str, sku: str, bin_id: str, requested: int, found: int, *,
               shop_id: str = "acme", warehouse_id: str = "WH-1", at: datetime) -> PickShort:
    return PickShort(warehouse_id=warehouse_id, picklist_id=picklist_id, shop_id=shop_id, order_id=order_id, sku=sku,
                     bin=bin_id, requested_quantity=requested, picked_quantity=found, reported_at=at)


def parcel_packed(order_id: str, items: Sequence[Item], *, shop_id: str = "acme", warehouse_id: str = "WH-1",
                  parcel_id: str | None = None, weight_kg: Decimal | str = "1.000", volume_m3: Decimal | str = "0.0100",
                  at: datetime) -> ParcelPacked:
    return ParcelPacked.model_validate({
        "warehouse_id": warehouse_id, "shop_id": shop_id, "order_id": order_id,
        "parcel_id": parcel_id or f"P-{order_id}",
        "weight_kg": weight_kg, "volume_m3": volume_m3, "packed_at": at,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in items]})


def return_requested(return_id: str, order_id: str, lines: Sequence[Line], *, shop_id: str = "acme",
                     reason: str = "changed_mind", opened: bool = False, at: datetime) -> ReturnRequested:
    return ReturnRequested.model_validate({
        "return_id": return_id, "order_id": order_id, "shop_id": shop_id, "requested_at": at,
        "lines": [{**line, "reason": reason, "opened": opened} for line in _lines(lines)]})


def return_received(rma: str, lines: Sequence[Line], *, warehouse_id: str = "WH-1", at: datetime
                    ) -> ReturnParcelReceived:
    return ReturnParcelReceived.model_validate({"rma": rma, "warehouse_id": warehouse_id, "received_at": at,
                                                "lines": _lines(lines)})


def return_inspected(rma: str, lines: Sequence[tuple[str, str, int, str]], *, warehouse_id: str = "WH-1",
                     at: datetime) -> ReturnParcelInspected:
    """`lines`: (line_id, sku, quantity, disposition)."""
    return ReturnParcelInspected.model_validate({
        "rma": rma, "warehouse_id": warehouse_id, "inspected_at": at,
        "lines": [{"line_id": line_id, "sku": sku, "quantity": quantity, "disposition": disposition}
                  for line_id, sku, quantity, disposition in lines]})
