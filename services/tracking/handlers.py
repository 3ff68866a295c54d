"""What each consumed event says about shipments and orders. Topics are read independently, so any of these
may arrive before the events that caused it: each handler copes with what it finds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TypeGuard

from schemas import carrier
from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderCancelled
from schemas.registry import decode
from schemas.routing import DeliveryMethodChosen, RoutePlanned, StopUnassigned
from schemas.warehouse import OrderBackordered, PicklistIssued, ShipmentPacked, StockReserved
from services.common.handling import Context, Handlers
from services.common.logging import get_logger
from services.tracking.domain.status import Observation, Status, Window, delay, moved_window
from services.tracking.observing import announce, observe
from services.tracking.settings import TrackingSettings
from services.tracking.store import Where, Work, window

log = get_logger(__name__)
handlers = Handlers()


@handlers.on
def order_accepted(uow: Work, event: Event[OrderAccepted], ctx: Context[TrackingSettings]) -> None:
    order = event.payload
    uow.store.save_order(order.shop_id, order.order_id, uow.now, accepted_at=order.accepted_at)


@handlers.on
def order_cancelled(uow: Work, event: Event[OrderCancelled], ctx: Context[TrackingSettings]) -> None:
    cancel = event.payload
    uow.store.save_order(cancel.shop_id, cancel.order_id, uow.now, status="cancelled")
    for shipment_id in uow.store.of_order(cancel.shop_id, cancel.order_id):
        observe(uow, event, shipment_id, Observation(Status.CANCELLED, cancel.cancelled_at))


@handlers.on
def stock_reserved(uow: Work, event: Event[StockReserved], ctx: Context[TrackingSettings]) -> None:
    reserved = event.payload
    order_status = _count_waiting(uow, reserved.shop_id, reserved.order_id,
                                  {line.line_id: -line.quantity for line in reserved.lines})
    observe(uow, event, reserved.shipment_id, Observation(Status.ALLOCATED, reserved.reserved_at),
            Where(reserved.warehouse_id),
            identity={"shop_id": reserved.shop_id, "order_id": reserved.order_id,
                      "warehouse_id": reserved.warehouse_id})
    if order_status == "cancelled":  # order.cancelled (another topic) overtook this reservation
        observe(uow, event, reserved.shipment_id, Observation(Status.CANCELLED, uow.now),
                Where(reserved.warehouse_id))


@handlers.on
def order_backordered(uow: Work, event: Event[OrderBackordered], ctx: Context[TrackingSettings]) -> None:
    backordered = event.payload
    _count_waiting(uow, backordered.shop_id, backordered.order_id,
                   {line.line_id: line.quantity for line in backordered.lines})


def _count_waiting(uow: Work, shop_id: str, order_id: str, change: dict[str, int]) -> str:
    """Units waiting for stock, per line: a backorder adds, a reservation (of a backorder or not) takes off.
    Returns the order's status, read with them."""
    uow.store.save_order(shop_id, order_id, uow.now)
    waiting, status = uow.store.locked_waiting(shop_id, order_id)
    after = {line: n for line in waiting.keys() | change.keys() if (n := waiting.get(line, 0) + change.get(line, 0)) > 0}
    if after != waiting:
        uow.store.set_waiting(shop_id, order_id, after)
    return status


@handlers.on
def picklist_issued(uow: Work, event: Event[PicklistIssued], ctx: Context[TrackingSettings]) -> None:
    issued = event.payload
    for shipment_id in uow.store.of_orders_in([(o.shop_id, o.order_id) for o in issued.orders], issued.warehouse_id):
        observe(uow, event, shipment_id, Observation(Status.PICKING, issued.issued_at), Where(issued.warehouse_id))


@handlers.on
def shipment_packed(uow: Work, event: Event[ShipmentPacked], ctx: Context[TrackingSettings]) -> None:
    """The parcel gets its tracking number; scans that came before it are applied now, oldest first."""
    packed = event.payload
    uow.store.save_order(packed.shop_id, packed.order_id, uow.now)
    identity = {"shop_id": packed.shop_id, "order_id": packed.order_id, "warehouse_id": packed.warehouse_id,
                "tracking_number": packed.tracking_number}
    observe(uow, event, packed.shipment_id, Observation(Status.PACKED, packed.packed_at), Where(packed.warehouse_id),
            identity=identity)  # records the tracking number even if PACKED is stale
    decoded = [decode("carrier.scans", _bytes(document)) for document in uow.store.take_parked(packed.tracking_number)]
    for scan in sorted((scan for scan in decoded if _is_scan(scan)), key=lambda scan: scan.payload.scanned_at):
        _apply_scan(uow, scan, packed.shipment_id)


def _is_scan(event: Event[Payload]) -> TypeGuard[Event[carrier.AnyScan]]:
    return isinstance(event.payload, carrier.Scan)


def _bytes(document: object) -> bytes:
    return json.dumps(document).encode()


@handlers.on
def route_planned(uow: Work, event: Event[RoutePlanned], ctx: Context[TrackingSettings]) -> None:
    """Each stop becomes planned with its ETA window; a re-plan moves the ETAs of stops already planned."""
    plan = event.payload
    for route in plan.routes:
        for stop in route.stops:
            eta = Window(stop.eta_window.start, stop.eta_window.end)
            position = {"plan_id": plan.plan_id, "vehicle_id": route.vehicle_id, "sequence": stop.sequence,
                        "planned_arrival": stop.arrival, "promised_start": eta.start, "promised_end": eta.end}
            observe(uow, event, stop.shipment_id, Observation(Status.PLANNED, plan.planned_at, eta),
                    Where(plan.depot_id),
                    identity={"shop_id": stop.shop_id, "order_id": stop.order_id, "warehouse_id": plan.depot_id,
                              "tracking_number": stop.tracking_number}, extra=position)


@handlers.on
def stop_unassigned(uow: Work, event: Event[StopUnassigned], ctx: Context[TrackingSettings]) -> None:
    """Dropped from this wave: an ETA from an earlier plan no longer holds; the status stays."""
    row = uow.store.locked(shipment_id=event.payload.shipment_id)
    if row is None or row.eta_start is None or Status(row.status) is not Status.PLANNED:
        return
    after = uow.store.change(row.shipment_id, eta_start=None, eta_end=None, plan_id=None, vehicle_id=None,
                             sequence=None, planned_arrival=None, updated_at=uow.now)
    announce(uow, event, after, Status(row.status))


@handlers.on
def method_chosen(uow: Work, event: Event[DeliveryMethodChosen], ctx: Context[TrackingSettings]) -> None:
    """A parcel for collection is ready where the customer collects it; one handed to a carrier is followed
    by that carrier's scans."""
    chosen = event.payload
    if chosen.method != "collect":
        return
    observe(uow, event, chosen.shipment_id, Observation(Status.READY_FOR_PICKUP, chosen.chosen_at),
            Where(chosen.collect_at or chosen.depot_id),
            identity={"shop_id": chosen.shop_id, "order_id": chosen.order_id, "warehouse_id": chosen.depot_id,
                      "tracking_number": chosen.tracking_number})


SCAN_STATUS: dict[type[carrier.Scan], Status] = {
    carrier.ShipmentPickedUp: Status.HANDED_TO_CARRIER,
    carrier.ShipmentOutForDelivery: Status.OUT_FOR_DELIVERY,
    carrier.ShipmentDelivered: Status.DELIVERED,
    carrier.ShipmentDeliveryFailed: Status.DELIVERY_FAILED,
    carrier.ShipmentReturnedToSender: Status.RETURNED_TO_SENDER,
}


@handlers.on
def carrier_scan(uow: Work, event: Event[carrier.AnyScan], ctx: Context[TrackingSettings]) -> None:
    scan = event.payload
    row = uow.store.locked(tracking_number=scan.tracking_number)
    if row is None:  # the scan overtook shipment.packed (another topic): keep it until the parcel is known
        uow.store.park_scan(scan.tracking_number, event.envelope.model_dump(mode="json"), uow.now)
        log.info("tracking.scan_parked", tracking_number=scan.tracking_number, event_type=event.envelope.event_type)
        return
    _apply_scan(uow, event, row.shipment_id)


def _apply_scan(uow: Work, event: Event[carrier.AnyScan], shipment_id: str) -> None:
    scan = event.payload
    status = SCAN_STATUS[type(scan)]
    where = Where(None, scan.location.latitude, scan.location.longitude) if scan.location else Where()
    reason = getattr(scan, "reason", None)
    if observe(uow, event, shipment_id, Observation(status, scan.scanned_at, reason=reason), where) and \
            status in (Status.DELIVERED, Status.DELIVERY_FAILED):
        _move_later_stops(uow, event, shipment_id, scan.scanned_at)


def _move_later_stops(uow: Work, event: Event[carrier.AnyScan], shipment_id: str, at: datetime) -> None:
    """The driver reached this stop at `at`: the later stops of the route move by how late that is."""
    stop = uow.store.locked(shipment_id=shipment_id)
    if stop is None or stop.plan_id is None or stop.planned_arrival is None:
        return
    late_by = delay(stop.planned_arrival, at)
    for row in uow.store.later_stops(stop):
        promised = window(row.promised_start, row.promised_end)
        if promised is None:
            continue
        moved = moved_window(promised, late_by)
        if moved == window(row.eta_start, row.eta_end):
            continue
        after = uow.store.change(row.shipment_id, eta_start=moved.start, eta_end=moved.end, updated_at=uow.now)
        announce(uow, event, after, Status(row.status))
