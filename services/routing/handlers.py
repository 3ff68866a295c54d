"""What routing learns from events: each order's delivery method, each packed shipment (waiting for a wave,
or ready for collection), and what drivers report, which decides what a re-plan may still move."""

from __future__ import annotations

from schemas import carrier
from schemas.envelope import Event
from schemas.orders import OrderAccepted
from schemas.routing import DeliveryMethodChosen
from schemas.warehouse import ShipmentPacked
from services.common.handling import Context, Handlers
from services.routing.settings import RoutingSettings
from services.routing.store import Work

handlers = Handlers()
Scanned = carrier.ShipmentOutForDelivery | carrier.ShipmentDelivered | carrier.ShipmentDeliveryFailed
SCANNED: dict[type[carrier.Scan], str] = {carrier.ShipmentOutForDelivery: "out_for_delivery",
                                          carrier.ShipmentDelivered: "delivered",
                                          carrier.ShipmentDeliveryFailed: "failed"}


@handlers.on
def order_accepted(uow: Work, event: Event[OrderAccepted], ctx: Context[RoutingSettings]) -> None:
    uow.store.save_order(event.payload)


@handlers.on
def shipment_packed(uow: Work, event: Event[ShipmentPacked], ctx: Context[RoutingSettings]) -> None:
    """A parcel waits for its depot's next wave, or, for collection, is announced ready at once."""
    packed = event.payload
    method = uow.store.delivery_method(packed.shop_id, packed.order_id)
    collect = method is not None and method.method == "collect"
    if not uow.store.add_shipment(packed, "collect" if collect else "waiting") or not collect:
        return
    assert method is not None
    emitter = uow.events(event)
    emitter.emit(DeliveryMethodChosen(
        depot_id=packed.warehouse_id, shipment_id=packed.shipment_id, tracking_number=packed.tracking_number,
        shop_id=packed.shop_id, order_id=packed.order_id, method="collect", collect_at=method.collect_at,
        reason=f"the customer collects it at {method.collect_at}", chosen_at=ctx.now))


@handlers.on
def carrier_scan(uow: Work, event: Event[Scanned], ctx: Context[RoutingSettings]) -> None:
    uow.store.driver_reported(event.payload.tracking_number, SCANNED[type(event.payload)])
