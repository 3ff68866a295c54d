"""A packed parcel becomes a shipment with a tracking number; shipping consumes the stock in the same
transaction as the shipment.packed event."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schemas.base import TimeWindow
from schemas.envelope import Event
from schemas.orders import Address
from schemas.warehouse import ParcelPacked, ShipmentPacked
from services.common.handling import Emitter
from services.common.logging import get_logger
from services.warehouse import store, tables
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import tracking_number

log = get_logger(__name__)


def pack(session: Session, parcel: ParcelPacked, event: Event[ParcelPacked], emitter: Emitter, now: datetime) -> None:
    s, line = tables.shipments, tables.shipment_lines
    ready = session.execute(
        select(s.c.shipment_id).where(s.c.shop_id == parcel.shop_id, s.c.order_id == parcel.order_id,
                                      s.c.warehouse_id == parcel.warehouse_id, s.c.status == "picked").order_by(s.c.reserved_at, s.c.shipment_id)
        .with_for_update()).scalars().all()
    declared: dict[str, int] = {}
    for item in parcel.items:
        declared[item.sku] = declared.get(item.sku, 0) + item.quantity
    contents: dict[str, dict[str, int]] = {}
    for shipment_id, sku, picked in session.execute(
            select(line.c.shipment_id, line.c.sku, line.c.picked).where(line.c.shipment_id.in_(ready))):
        per_sku = contents.setdefault(shipment_id, {})
        per_sku[sku] = per_sku.get(sku, 0) + picked
    match = next((sid for sid in ready if contents.get(sid) == declared), None)
    if match is None:
        described = "; ".join(f"{sid}: {contents.get(sid)}" for sid in ready) or "none"
        raise ScanRejected(f"parcel {parcel.parcel_id!r} holds {declared}, which matches no fully picked shipment of "
                           f"order {parcel.order_id!r} of shop {parcel.shop_id!r} in {parcel.warehouse_id!r} (picked shipments: {described})")
    number = tracking_number(secrets.token_bytes(10))
    session.execute(update(s).where(s.c.shipment_id == match).values(
        status="packed", parcel_id=parcel.parcel_id, tracking_number=number, weight_kg=parcel.weight_kg,
        volume_m3=parcel.volume_m3, packed_at=parcel.packed_at))
    consumed = {(parcel.warehouse_id, sku): (-units, -units) for sku, units in declared.items()}
    store.lock(session, consumed)
    store.change_on_hand(session, consumed, "shipped", now, event.event_id, reference=match)
    o = tables.orders
    order = session.execute(select(o.c.delivery).where(o.c.shop_id == parcel.shop_id,
                                                       o.c.order_id == parcel.order_id)).one()
    emitter.emit(ShipmentPacked(
        shipment_id=match, shop_id=parcel.shop_id, order_id=parcel.order_id, warehouse_id=parcel.warehouse_id, tracking_number=number,
        parcel_id=parcel.parcel_id, weight_kg=parcel.weight_kg, volume_m3=parcel.volume_m3,
        delivery_address=Address.model_validate(order.delivery["address"]),
        delivery_window=TimeWindow.model_validate(order.delivery["window"]), packed_at=parcel.packed_at))
    log.info("shipment.packed", shop_id=parcel.shop_id, order_id=parcel.order_id, shipment_id=match, tracking_number=number,
             event_id=str(event.event_id))
