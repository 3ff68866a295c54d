"""Pick confirmations and short picks from the floor, and the stock corrections they imply."""

from __future__ import annotations

from schemas.base import Payload
from schemas.envelope import Event
from schemas.warehouse import PickConfirmed, PickShort
from services.common.logging import get_logger
from services.warehouse import allocating, stock_alerts
from services.warehouse.domain.allocation import Line
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import releases_for
from services.warehouse.store import Key, OnList, OrderId, Work

log = get_logger(__name__)


def _settle_status(uow: Work, shipment_id: str) -> str:
    """picked once every line is; cancelled when short picks emptied it; else still picking."""
    lines = uow.store.line_quantities(shipment_id)
    status = "cancelled" if not lines else "picked" if all(q == p for q, p in lines) else None
    if status:
        uow.store.finish_picking(shipment_id, status)
    return status or "picking"


def _record_picked(uow: Work, scan: PickConfirmed | PickShort, field: str, picked: int) -> list[OnList]:
    """Add picked units to the scanned order's lines of the SKU, oldest shipment and first line first (one tote can
    hold two shipments of the order); the order's open shipments on the list, or none for a cancelled order (the
    units go back to the bin). Refuses a SKU not on the list and more units than are left to pick."""
    on_list = uow.store.locked_on_list(scan.picklist_id, (scan.shop_id, scan.order_id), scan.warehouse_id)
    if not on_list:
        raise ScanRejected(f"order {scan.order_id!r} of shop {scan.shop_id!r} is not on pick list "
                           f"{scan.picklist_id!r} of warehouse {scan.warehouse_id!r}")
    shipments = [s for s in on_list if s.status != "cancelled"]
    if not shipments:
        log.warning("pick.for_cancelled_order", shop_id=scan.shop_id, order_id=scan.order_id,
                    picklist_id=scan.picklist_id,
                    note="the order was cancelled after the list was issued; return the units to the bin")
        return []
    lines = [line for s in shipments for line in uow.store.locked_lines(s.shipment_id, scan.sku)]
    if not lines:
        raise ScanRejected(f"sku {scan.sku!r} is not on pick list {scan.picklist_id!r} for order {scan.order_id!r}")
    unpicked = sum(r.quantity - r.picked for r in lines)
    if picked > unpicked:
        raise ScanRejected(f"{field} {picked} of {scan.sku!r} for order {scan.order_id!r} is more than the "
                           f"{unpicked} unit(s) left to pick")
    for row in lines:
        if take := min(picked, row.quantity - row.picked):
            uow.store.add_picked(row.shipment_id, row.line_id, take)
            picked -= take
    return shipments


def confirm(uow: Work, scan: PickConfirmed) -> None:
    for shipment in _record_picked(uow, scan, "quantity", scan.quantity):
        _settle_status(uow, shipment.shipment_id)


def short(uow: Work, event: Event[PickShort]) -> None:
    """The bin held less than the list asked for: the picker took what there was, so the bin is empty.
    The shortfall is re-allocated (elsewhere, or backordered); on_hand drops to what is already in totes;
    other promises of that SKU the bin can no longer keep are re-allocated too."""
    scan, store = event.payload, uow.store
    shipments = _record_picked(uow, scan, "picked_quantity", scan.picked_quantity)
    if not shipments:
        return
    key = (scan.warehouse_id, scan.sku)
    missing = [cut for s in shipments for cut in _trim_unpicked(uow, s.shipment_id, scan.sku)]
    store.change_reserved({key: -sum(q for _, q in missing)}, uow.now)
    releases = [((scan.shop_id, scan.order_id), Line(line_id, scan.sku, q)) for line_id, q in missing]
    row = store.locked_row(*key)
    assert row is not None  # the shipment reserved from it
    in_totes = store.picked_not_packed(*key)
    releases += correct_on_hand(uow, key, row.on_hand, row.reserved, in_totes, "short_pick", event,
                                reallocate=False)
    for s in shipments:
        _settle_status(uow, s.shipment_id)
    log.info("pick.short", shop_id=scan.shop_id, order_id=scan.order_id, sku=scan.sku,
             missing=sum(q for _, q in missing), written_off=row.on_hand - in_totes, event_id=str(event.event_id))
    allocating.reallocate(uow, releases, event)
    stock_alerts.check_low(uow, [key], event)


def _trim_unpicked(uow: Work, shipment_id: str, sku: str) -> list[tuple[str, int]]:
    """Cut the shipment's lines of `sku` down to what was picked; returns (line_id, units cut)."""
    cut = []
    for row in uow.store.locked_lines(shipment_id, sku):
        if row.quantity != row.picked:
            cut.append((row.line_id, row.quantity - row.picked))
            uow.store.cut_line(shipment_id, row.line_id, row.picked)
    return cut


def correct_on_hand(uow: Work, key: Key, on_hand: int, reserved: int, new_on_hand: int, reason: str,
                    event: Event[Payload], reallocate: bool = True) -> list[tuple[OrderId, Line]]:
    """Set on_hand to what is really there. If promises now exceed it, take back the ones no picker holds
    yet (newest first) and allocate them again. Returns the releases when `reallocate` is False."""
    excess = reserved - new_on_hand
    releases = _take_back(uow, key, excess) if excess > 0 else []
    uow.store.change_on_hand({key: (new_on_hand - on_hand, 0)}, reason, uow.now, event.event_id)
    if reallocate:
        allocating.reallocate(uow, releases, event)
        return []
    return releases


def _take_back(uow: Work, key: Key, excess: int) -> list[tuple[OrderId, Line]]:
    store = uow.store
    open_lines = store.locked_open_promises(key)
    by_line = {(x.promise.shipment_id, x.promise.line_id): x for x in open_lines}
    releases = releases_for(excess, [x.promise for x in open_lines])
    for release in releases:
        line = by_line[(release.shipment_id, release.line_id)]
        store.cut_line(release.shipment_id, release.line_id, line.quantity - release.quantity)
    store.change_reserved({key: -sum(r.quantity for r in releases)}, uow.now)
    for shipment in sorted({r.shipment_id for r in releases}):
        _settle_status(uow, shipment)
    log.warning("stock.promises_taken_back", warehouse_id=key[0], sku=key[1], units=excess,
                shipments=sorted({r.shipment_id for r in releases}))
    taken = [by_line[(r.shipment_id, r.line_id)] for r in releases]
    return [((x.shop_id, x.order_id), Line(r.line_id, key[1], r.quantity)) for x, r in zip(taken, releases, strict=True)]
