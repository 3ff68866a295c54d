"""What each consumed event says about shipments and orders. Topics are read independently, so any of these
may arrive before the events that caused it: each handler copes with what it finds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeGuard

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schemas import carrier
from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderCancelled
from schemas.registry import decode
from schemas.routing import DeliveryMethodChosen, RoutePlanned, StopUnassigned
from schemas.warehouse import OrderBackordered, PicklistIssued, ShipmentPacked, StockReserved
from services.common.db import UnitOfWork
from services.common.handling import Context, Emit, Emitter, Handlers
from services.common.logging import get_logger
from services.tracking import tables
from services.tracking.domain.status import Observation, Status, Window, delay, moved_window
from services.tracking.settings import TrackingSettings
from services.tracking.store import Where, announce, change, later_stops, locked, observe, window

log = get_logger(__name__)
handlers = Handlers()


def _order(session: Session, shop_id: str, order_id: str, now: datetime, **values: Any) -> None:
    """Upsert the order row; warehouse events may come before order.accepted."""
    o = tables.orders
    row = {"shop_id": shop_id, "order_id": order_id, "status": "accepted", "accepted_at": now, "updated_at": now,
           **values}
    session.execute(pg_insert(o).values(row).on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_={k: v for k, v in row.items() if k in values or k == "updated_at"}))


@handlers.on
def order_accepted(uow: UnitOfWork, event: Event[OrderAccepted], ctx: Context[TrackingSettings]) -> list[Emit]:
    order = event.payload
    _order(uow.session, order.shop_id, order.order_id, ctx.now, accepted_at=order.accepted_at)
    return []


@handlers.on
def order_cancelled(uow: UnitOfWork, event: Event[OrderCancelled], ctx: Context[TrackingSettings]) -> list[Emit]:
    cancel = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    _order(session, cancel.shop_id, cancel.order_id, ctx.now, status="cancelled")
    s = tables.shipments
    for shipment_id in session.execute(select(s.c.shipment_id).where(s.c.shop_id == cancel.shop_id,
                                                                     s.c.order_id == cancel.order_id)
                                       .order_by(s.c.shipment_id)).scalars():
        observe(session, emitter, shipment_id, Observation(Status.CANCELLED, cancel.cancelled_at),
                event.event_id)
    return emitter.emits


@handlers.on
def stock_reserved(uow: UnitOfWork, event: Event[StockReserved], ctx: Context[TrackingSettings]) -> list[Emit]:
    reserved = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    order_status = _count_waiting(session, reserved.shop_id, reserved.order_id, ctx.now,
                                  {line.line_id: -line.quantity for line in reserved.lines})
    observe(session, emitter, reserved.shipment_id, Observation(Status.ALLOCATED, reserved.reserved_at),
            event.event_id, Where(reserved.warehouse_id),
            identity={"shop_id": reserved.shop_id, "order_id": reserved.order_id,
                      "warehouse_id": reserved.warehouse_id})
    if order_status == "cancelled":  # order.cancelled (another topic) overtook this reservation
        observe(session, emitter, reserved.shipment_id, Observation(Status.CANCELLED, ctx.now), event.event_id,
                Where(reserved.warehouse_id))
    return emitter.emits


@handlers.on
def order_backordered(uow: UnitOfWork, event: Event[OrderBackordered], ctx: Context[TrackingSettings]) -> list[Emit]:
    backordered = event.payload
    _count_waiting(uow.session, backordered.shop_id, backordered.order_id, ctx.now,
                   {line.line_id: line.quantity for line in backordered.lines})
    return []


def _count_waiting(session: Session, shop_id: str, order_id: str, now: datetime, change: dict[str, int]) -> str:
    """Units waiting for stock, per line: a backorder adds, a reservation (of a backorder or not) takes off.
    Returns the order's status, read with them."""
    o = tables.orders
    _order(session, shop_id, order_id, now)
    where = (o.c.shop_id == shop_id) & (o.c.order_id == order_id)
    waiting, status = session.execute(select(o.c.waiting, o.c.status).where(where).with_for_update()).one()
    after = {line: n for line in waiting.keys() | change.keys() if (n := waiting.get(line, 0) + change.get(line, 0)) > 0}
    if after != waiting:
        session.execute(update(o).where(where).values(waiting=after))
    return str(status)


@handlers.on
def picklist_issued(uow: UnitOfWork, event: Event[PicklistIssued], ctx: Context[TrackingSettings]) -> list[Emit]:
    issued = event.payload
    session, emitter, s = uow.session, ctx.emitter(event), tables.shipments
    for shipment_id in session.execute(
            select(s.c.shipment_id).where(tuple_(s.c.shop_id, s.c.order_id).in_(
                [(o.shop_id, o.order_id) for o in issued.orders]), s.c.warehouse_id == issued.warehouse_id)
            .order_by(s.c.shipment_id)).scalars():
        observe(session, emitter, shipment_id, Observation(Status.PICKING, issued.issued_at), event.event_id,
                Where(issued.warehouse_id))
    return emitter.emits


@handlers.on
def shipment_packed(uow: UnitOfWork, event: Event[ShipmentPacked], ctx: Context[TrackingSettings]) -> list[Emit]:
    """The parcel gets its tracking number; scans that came before it are applied now, oldest first."""
    packed = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    _order(session, packed.shop_id, packed.order_id, ctx.now)
    identity = {"shop_id": packed.shop_id, "order_id": packed.order_id, "warehouse_id": packed.warehouse_id,
                "tracking_number": packed.tracking_number}
    observe(session, emitter, packed.shipment_id, Observation(Status.PACKED, packed.packed_at), event.event_id,
            Where(packed.warehouse_id), identity=identity)  # records the tracking number even if PACKED is stale
    e = tables.early_scans
    early = session.execute(select(e.c.id, e.c.event).where(e.c.tracking_number == packed.tracking_number)
                            .order_by(e.c.id)).all()
    decoded = [decode("carrier.scans", _bytes(row.event)) for row in early]
    scans = sorted((scan for scan in decoded if _is_scan(scan)), key=lambda scan: scan.payload.scanned_at)
    for scan in scans:
        _apply_scan(session, emitter, scan, packed.shipment_id)
    if early:
        session.execute(e.delete().where(e.c.id.in_([row.id for row in early])))
    return emitter.emits


def _is_scan(event: Event[Payload]) -> TypeGuard[Event[carrier.AnyScan]]:
    return isinstance(event.payload, carrier.Scan)


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


@handlers.on
def route_planned(uow: UnitOfWork, event: Event[RoutePlanned], ctx: Context[TrackingSettings]) -> list[Emit]:
    """Each stop becomes planned with its ETA window; a re-plan moves the ETAs of stops already planned."""
    plan = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    for route in plan.routes:
        for stop in route.stops:
            eta = Window(stop.eta_window.start, stop.eta_window.end)
            position = {"plan_id": plan.plan_id, "vehicle_id": route.vehicle_id, "sequence": stop.sequence,
                        "planned_arrival": stop.arrival, "promised_start": eta.start, "promised_end": eta.end}
            observe(session, emitter, stop.shipment_id, Observation(Status.PLANNED, plan.planned_at, eta),
                    event.event_id, Where(plan.depot_id),
                    identity={"shop_id": stop.shop_id, "order_id": stop.order_id, "warehouse_id": plan.depot_id,
                              "tracking_number": stop.tracking_number}, extra=position)
    return emitter.emits


@handlers.on
def stop_unassigned(uow: UnitOfWork, event: Event[StopUnassigned], ctx: Context[TrackingSettings]) -> list[Emit]:
    """Dropped from this wave: an ETA from an earlier plan no longer holds; the status stays."""
    dropped, session, emitter = event.payload, uow.session, ctx.emitter(event)
    row = locked(session, shipment_id=dropped.shipment_id)
    if row is None or row.eta_start is None or Status(row.status) is not Status.PLANNED:
        return []
    after = change(session, row.shipment_id, eta_start=None, eta_end=None, plan_id=None, vehicle_id=None,
                   sequence=None, planned_arrival=None, updated_at=ctx.now)
    announce(emitter, after, Status(row.status))
    return emitter.emits


@handlers.on
def method_chosen(uow: UnitOfWork, event: Event[DeliveryMethodChosen], ctx: Context[TrackingSettings]) -> list[Emit]:
    """A parcel for collection is ready where the customer collects it; one handed to a carrier is followed
    by that carrier's scans."""
    chosen = event.payload
    if chosen.method != "collect":
        return []
    emitter = ctx.emitter(event)
    observe(uow.session, emitter, chosen.shipment_id, Observation(Status.READY_FOR_PICKUP, chosen.chosen_at),
            event.event_id, Where(chosen.collect_at or chosen.depot_id),
            identity={"shop_id": chosen.shop_id, "order_id": chosen.order_id, "warehouse_id": chosen.depot_id,
                      "tracking_number": chosen.tracking_number})
    return emitter.emits


SCAN_STATUS: dict[type[carrier.Scan], Status] = {
    carrier.ShipmentPickedUp: Status.HANDED_TO_CARRIER,
    carrier.ShipmentOutForDelivery: Status.OUT_FOR_DELIVERY,
    carrier.ShipmentDelivered: Status.DELIVERED,
    carrier.ShipmentDeliveryFailed: Status.DELIVERY_FAILED,
    carrier.ShipmentReturnedToSender: Status.RETURNED_TO_SENDER,
}


@handlers.on
def carrier_scan(uow: UnitOfWork, event: Event[carrier.AnyScan], ctx: Context[TrackingSettings]) -> list[Emit]:
    scan = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    row = locked(session, tracking_number=scan.tracking_number)
    if row is None:  # the scan overtook shipment.packed (another topic): keep it until the parcel is known
        session.execute(tables.early_scans.insert().values(
            tracking_number=scan.tracking_number, event=event.envelope.model_dump(mode="json"), received_at=ctx.now))
        log.info("tracking.scan_parked", tracking_number=scan.tracking_number, event_type=event.envelope.event_type)
        return []
    _apply_scan(session, emitter, event, row.shipment_id)
    return emitter.emits


def _apply_scan(session: Session, emitter: Emitter, event: Event[carrier.AnyScan], shipment_id: str) -> None:
    scan = event.payload
    status = SCAN_STATUS[type(scan)]
    where = Where(None, scan.location.latitude, scan.location.longitude) if scan.location else Where()
    reason = getattr(scan, "reason", None)
    if observe(session, emitter, shipment_id, Observation(status, scan.scanned_at, reason=reason),
               event.event_id, where) and status in (Status.DELIVERED, Status.DELIVERY_FAILED):
        _move_later_stops(session, emitter, shipment_id, scan.scanned_at)


def _move_later_stops(session: Session, emitter: Emitter, shipment_id: str, at: datetime) -> None:
    """The driver reached this stop at `at`: the later stops of the route move by how late that is."""
    stop = locked(session, shipment_id=shipment_id)
    if stop is None or stop.plan_id is None or stop.planned_arrival is None:
        return
    late_by = delay(stop.planned_arrival, at)
    for row in later_stops(session, stop):
        promised = window(row.promised_start, row.promised_end)
        if promised is None:
            continue
        moved = moved_window(promised, late_by)
        if moved == window(row.eta_start, row.eta_end):
            continue
        after = change(session, row.shipment_id, eta_start=moved.start, eta_end=moved.end, updated_at=emitter.now)
        announce(emitter, after, Status(row.status))
