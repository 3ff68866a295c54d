"""What routing learns from events: each order's delivery method, each packed shipment (waiting for a wave,
or ready for collection), and what drivers report, which decides what a re-plan may still move."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from schemas import carrier
from schemas.envelope import Event
from schemas.orders import OrderAccepted
from schemas.routing import DeliveryMethodChosen
from schemas.warehouse import ShipmentPacked
from services.common.db import UnitOfWork
from services.common.handling import Context, Emit, Handlers
from services.routing import tables
from services.routing.settings import RoutingSettings

handlers = Handlers()
Scanned = carrier.ShipmentOutForDelivery | carrier.ShipmentDelivered | carrier.ShipmentDeliveryFailed
SCANNED: dict[type[carrier.Scan], str] = {carrier.ShipmentOutForDelivery: "out_for_delivery",
                                          carrier.ShipmentDelivered: "delivered",
                                          carrier.ShipmentDeliveryFailed: "failed"}


@handlers.on
def order_accepted(uow: UnitOfWork, event: Event[OrderAccepted], ctx: Context[RoutingSettings]) -> list[Emit]:
    order = event.payload
    uow.session.execute(insert(tables.orders).values(
        shop_id=order.shop_id, order_id=order.order_id, delivery_method=order.delivery_method,
        collect_at=order.collect_at).on_conflict_do_nothing())
    return []


@handlers.on
def shipment_packed(uow: UnitOfWork, event: Event[ShipmentPacked], ctx: Context[RoutingSettings]) -> list[Emit]:
    packed = event.payload
    session = uow.session
    o = tables.orders
    method = session.execute(o.select().where(o.c.shop_id == packed.shop_id, o.c.order_id == packed.order_id)).first()
    collect = method is not None and method.delivery_method == "collect"
    address = packed.delivery_address
    inserted = session.execute(insert(tables.shipments).values(
        shipment_id=packed.shipment_id, shop_id=packed.shop_id, order_id=packed.order_id,
        tracking_number=packed.tracking_number, depot_id=packed.warehouse_id, latitude=address.latitude,
        longitude=address.longitude, window_start=packed.delivery_window.start, window_end=packed.delivery_window.end,
        weight_kg=float(packed.weight_kg), volume_m3=float(packed.volume_m3),
        status="collect" if collect else "waiting", priority=0, packed_at=packed.packed_at)
        .on_conflict_do_nothing().returning(tables.shipments.c.shipment_id)).first()
    if inserted is None or not collect:
        return []
    assert method is not None
    emitter = ctx.emitter(event)
    emitter.emit(DeliveryMethodChosen(
        depot_id=packed.warehouse_id, shipment_id=packed.shipment_id, tracking_number=packed.tracking_number,
        shop_id=packed.shop_id, order_id=packed.order_id, method="collect", collect_at=method.collect_at,
        reason=f"the customer collects it at {method.collect_at}", chosen_at=ctx.now))
    return emitter.emits


@handlers.on
def carrier_scan(uow: UnitOfWork, event: Event[Scanned], ctx: Context[RoutingSettings]) -> list[Emit]:
    s = tables.shipments
    uow.session.execute(update(s).where(s.c.tracking_number == event.payload.tracking_number,
                                        s.c.status.in_(("planned", "out_for_delivery")))
                        .values(status=SCANNED[type(event.payload)]))
    return []
