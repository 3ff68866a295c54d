"""What a tap on a staff page does: the same scan a handheld sends (pick.confirmed, pick.short, parcel.packed),
published through the outbox with the device named in its source, once per form however often it is sent. A step
that is already picked, waiting for an earlier tap, cancelled or moved off the list is refused with the reason,
and so is a parcel that is not ready to pack."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from schemas import builders
from schemas.base import Payload
from services.warehouse.store import Work
from services.warehouse.views import Parcel, Step

SCANS = uuid.UUID("3c0e5b7a-94d1-4f6e-8a2b-5d7c9e1f0a64")

REFUSED = {
    "picked": "already picked: nothing is due here",
    "waiting": "already tapped: the warehouse is recording it",
    "cancelled": "the order was cancelled after the list was issued: put the units back in the bin",
    "moved": "no longer on this list: its units were re-allocated (a short pick or a recount)",
}


class Refused(ValueError):
    """A tap the page does not turn into a scan, with what to tell the person who tapped."""


def _publish(uow: Work, scan_id: uuid.UUID, payload: Payload, warehouse_id: str, device: str,
             picklist_id: str | None, shipment_id: str, sku: str | None, quantity: int) -> bool:
    """Publish the tap's scan and keep the tap; False, publishing nothing, if this form was sent before (a double
    tap, a resubmitted form). The scan's event id comes from the form's id, so it is the same however often."""
    events = uow.events(namespace=uuid.uuid5(SCANS, str(scan_id)))
    events.emit(payload)
    if uow.store.add_staff_scan(scan_id=scan_id, event_id=events.emits[-1].event.event_id, warehouse_id=warehouse_id,
                                device=device, kind=payload.EVENT_TYPE, picklist_id=picklist_id,
                                shipment_id=shipment_id, sku=sku, quantity=quantity):
        return True
    uow.collect_new_events()  # dropped: the first time this form came, its scan went out
    return False


def pick(uow: Work, step: Step, warehouse_id: str, picklist_id: str, device: str, scan_id: uuid.UUID,
         found: int | None) -> str:
    """Confirm the step's units (`found` None) or report the bin short with `found` units in it; what to say."""
    if step.state != "to_pick" or not step.shipment_ids:
        raise Refused(REFUSED.get(step.state, step.state))
    if found is not None and not 0 <= found < step.due:
        raise Refused(f"a short pick finds fewer than the {step.due} unit(s) due: enter 0 to {step.due - 1}")
    scan: Payload = builders.pick_confirmed(
        picklist_id, step.order_id, step.sku, step.bin, step.due, shop_id=step.shop_id, warehouse_id=warehouse_id,
        at=uow.now) if found is None else builders.pick_short(
        picklist_id, step.order_id, step.sku, step.bin, step.due, found, shop_id=step.shop_id,
        warehouse_id=warehouse_id, at=uow.now)
    if not _publish(uow, scan_id, scan, warehouse_id, device, picklist_id, step.shipment_ids[0], step.sku,
                    step.due if found is None else found):
        return "already recorded"
    if found is None:
        return f"{step.due} x {step.sku} into tote {step.tote}"
    return f"short: {found} of {step.due} x {step.sku} into tote {step.tote}; the rest is re-allocated"


def measure(text: str, what: str, places: int, most: Decimal) -> Decimal:
    """A weight or volume as typed on a page: a positive number with at most `places` decimals."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise Refused(f"{what} must be a number, like 1.25; got {text.strip()[:20]!r}") from None
    if not value.is_finite() or value <= 0 or value > most or value != round(value, places):
        raise Refused(f"{what} must be above 0 and at most {most}, with at most {places} decimals")
    return value


def pack(uow: Work, parcel: Parcel, warehouse_id: str, device: str, scan_id: uuid.UUID, weight_kg: Decimal,
         volume_m3: Decimal) -> str:
    """The shipment's picked units, packed as one parcel; what to say."""
    if parcel.waiting:
        raise Refused("already tapped: the warehouse is recording it")
    if parcel.status != "picked" or not parcel.items:
        raise Refused({"packed": "already packed", "cancelled": "the order was cancelled: put the units back"}.get(
            parcel.status, "not picked in full yet: finish its pick list first"))
    packed = builders.parcel_packed(parcel.order_id, parcel.items, shop_id=parcel.shop_id, warehouse_id=warehouse_id,
                                    parcel_id=f"P-{parcel.shipment_id}"[:64], weight_kg=weight_kg,
                                    volume_m3=volume_m3, at=uow.now)
    if not _publish(uow, scan_id, packed, warehouse_id, device, None, parcel.shipment_id, None,
                    sum(n for _, n in parcel.items)):
        return "already recorded"
    return f"packed {parcel.shipment_id}: print its label"
