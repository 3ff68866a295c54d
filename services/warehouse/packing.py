"""A packed parcel becomes a shipment with a tracking number; shipping consumes the stock in the same
transaction as the shipment.packed event."""

from __future__ import annotations

import secrets

from schemas.base import TimeWindow
from schemas.envelope import Event
from schemas.orders import Address
from schemas.warehouse import ParcelPacked, ShipmentPacked
from services.common.logging import get_logger
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import tracking_number
from services.warehouse.store import Work

log = get_logger(__name__)


def pack(uow: Work, event: Event[ParcelPacked]) -> None:
    """The parcel is the order's first fully picked shipment in the warehouse whose picked units it holds."""
    parcel, store = event.payload, uow.store
    order = (parcel.shop_id, parcel.order_id)
    ready = store.locked_picked(order, parcel.warehouse_id)
    declared: dict[str, int] = {}
    for item in parcel.items:
        declared[item.sku] = declared.get(item.sku, 0) + item.quantity
    contents = store.picked_contents(ready)
    match = next((sid for sid in ready if contents.get(sid) == declared), None)
    if match is None:
        described = "; ".join(f"{sid}: {contents.get(sid)}" for sid in ready) or "none"
        raise ScanRejected(f"parcel {parcel.parcel_id!r} holds {declared}, which matches no fully picked shipment "
                           f"of order {parcel.order_id!r} of shop {parcel.shop_id!r} in {parcel.warehouse_id!r} "
                           f"(picked shipments: {described})")
    number = tracking_number(secrets.token_bytes(10))
    store.mark_packed(match, parcel_id=parcel.parcel_id, tracking_number=number, weight_kg=parcel.weight_kg,
                      volume_m3=parcel.volume_m3, packed_at=parcel.packed_at)
    consumed = {(parcel.warehouse_id, sku): (-units, -units) for sku, units in declared.items()}
    store.lock(consumed)
    store.change_on_hand(consumed, "shipped", uow.now, event.event_id, reference=match)
    delivery = store.order_delivery(order)
    uow.events(event).emit(ShipmentPacked(
        shipment_id=match, shop_id=parcel.shop_id, order_id=parcel.order_id, warehouse_id=parcel.warehouse_id,
        tracking_number=number, parcel_id=parcel.parcel_id, weight_kg=parcel.weight_kg, volume_m3=parcel.volume_m3,
        delivery_address=Address.model_validate(delivery["address"]),
        delivery_window=TimeWindow.model_validate(delivery["window"]), packed_at=parcel.packed_at))
    log.info("shipment.packed", shop_id=parcel.shop_id, order_id=parcel.order_id, shipment_id=match,
             tracking_number=number, event_id=str(event.event_id))
