"""The routing service's named writes and reads for what its handlers learn: each order's delivery method, each
packed shipment waiting for a wave, and what drivers report. Waves (services/routing/waves.py) read and plan
these shipments."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.orders import OrderAccepted
from schemas.warehouse import ShipmentPacked
from services.routing import tables


@dataclass(frozen=True, slots=True)
class DeliveryMethod:
    method: str
    """delivery or collect"""
    collect_at: str | None


def save_order(session: Session, order: OrderAccepted) -> None:
    session.execute(insert(tables.orders).values(
        shop_id=order.shop_id, order_id=order.order_id, delivery_method=order.delivery_method,
        collect_at=order.collect_at).on_conflict_do_nothing())


def delivery_method(session: Session, shop_id: str, order_id: str) -> DeliveryMethod | None:
    o = tables.orders
    row = session.execute(select(o.c.delivery_method, o.c.collect_at)
                          .where(o.c.shop_id == shop_id, o.c.order_id == order_id)).first()
    return DeliveryMethod(row.delivery_method, row.collect_at) if row else None


def add_shipment(session: Session, packed: ShipmentPacked, status: str) -> bool:
    """A packed shipment, waiting for a wave (or for collection); False when it was known already."""
    address = packed.delivery_address
    return session.execute(insert(tables.shipments).values(
        shipment_id=packed.shipment_id, shop_id=packed.shop_id, order_id=packed.order_id,
        tracking_number=packed.tracking_number, depot_id=packed.warehouse_id, latitude=address.latitude,
        longitude=address.longitude, window_start=packed.delivery_window.start, window_end=packed.delivery_window.end,
        weight_kg=float(packed.weight_kg), volume_m3=float(packed.volume_m3), status=status, priority=0,
        packed_at=packed.packed_at).on_conflict_do_nothing().returning(tables.shipments.c.shipment_id)
    ).first() is not None


def driver_reported(session: Session, tracking_number: str, status: str) -> None:
    """A stop on a route is out for delivery, delivered or failed: what a re-plan may still move."""
    s = tables.shipments
    session.execute(update(s).where(s.c.tracking_number == tracking_number,
                                    s.c.status.in_(("planned", "out_for_delivery"))).values(status=status))
