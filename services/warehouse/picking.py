"""Pick confirmations and short picks from the floor, and the stock corrections they imply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from schemas.envelope import Event
from schemas.warehouse import PickConfirmed, PickShort
from services.common.handling import Emitter
from services.common.logging import get_logger
from services.warehouse import allocating, store, tables
from services.warehouse.domain.allocation import Line
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import Promise, releases_for

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OnList:
    """A shipment on a pick list, as a scan names it."""

    shipment_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    shipment_id: str
    line_id: str
    quantity: int
    picked: int


def _shipment_on_list(session: Session, scan: PickConfirmed | PickShort) -> OnList:
    s = tables.shipments
    shipment = session.execute(
        select(s.c.shipment_id, s.c.status)
        .where(s.c.picklist_id == scan.picklist_id, s.c.shop_id == scan.shop_id, s.c.order_id == scan.order_id,
               s.c.warehouse_id == scan.warehouse_id).with_for_update()).first()
    if shipment is None:
        raise ScanRejected(f"order {scan.order_id!r} of shop {scan.shop_id!r} is not on pick list "
                           f"{scan.picklist_id!r} of warehouse {scan.warehouse_id!r}")
    return OnList(shipment.shipment_id, shipment.status)


def _lines(session: Session, shipment_id: str, sku: str) -> list[ShipmentLine]:
    line = tables.shipment_lines
    return [ShipmentLine(r.shipment_id, r.line_id, r.quantity, r.picked) for r in session.execute(
        select(line.c.shipment_id, line.c.line_id, line.c.quantity, line.c.picked)
        .where(line.c.shipment_id == shipment_id, line.c.sku == sku).order_by(line.c.line_id).with_for_update())]


def _add_picked(session: Session, lines: list[ShipmentLine], quantity: int) -> None:
    """Spread picked units over the shipment's lines of that SKU, first line first."""
    line = tables.shipment_lines
    for row in lines:
        take = min(quantity, row.quantity - row.picked)
        if take:
            session.execute(update(line).where(line.c.shipment_id == row.shipment_id, line.c.line_id == row.line_id)
                            .values(picked=line.c.picked + take))
            quantity -= take


def _settle_status(session: Session, shipment_id: str) -> str:
    """picked once every line is; cancelled when short picks emptied it; else still picking."""
    s, line = tables.shipments, tables.shipment_lines
    rows = session.execute(select(line.c.quantity, line.c.picked).where(line.c.shipment_id == shipment_id)).all()
    status = "cancelled" if not rows else "picked" if all(q == p for q, p in rows) else None
    if status:
        session.execute(update(s).where(s.c.shipment_id == shipment_id, s.c.status.in_(("picking", "reserved")))
                        .values(status=status))
    return status or "picking"


def _record_picked(session: Session, scan: PickConfirmed | PickShort, field: str, picked: int) -> OnList | None:
    """Add picked units to the scanned order's lines of the SKU; the shipment, or None for a cancelled order
    (the units go back to the bin). Refuses a SKU not on the list and more units than are left to pick."""
    shipment = _shipment_on_list(session, scan)
    if shipment.status == "cancelled":
        log.warning("pick.for_cancelled_order", shop_id=scan.shop_id, order_id=scan.order_id, picklist_id=scan.picklist_id,
                    note="the order was cancelled after the list was issued; return the units to the bin")
        return None
    lines = _lines(session, shipment.shipment_id, scan.sku)
    if not lines:
        raise ScanRejected(f"sku {scan.sku!r} is not on pick list {scan.picklist_id!r} for order {scan.order_id!r}")
    unpicked = sum(r.quantity - r.picked for r in lines)
    if picked > unpicked:
        raise ScanRejected(f"{field} {picked} of {scan.sku!r} for order {scan.order_id!r} is more than the "
                           f"{unpicked} unit(s) left to pick")
    _add_picked(session, lines, picked)
    return shipment


def confirm(session: Session, scan: PickConfirmed) -> None:
    shipment = _record_picked(session, scan, "quantity", scan.quantity)
    if shipment is not None:
        _settle_status(session, shipment.shipment_id)


def short(session: Session, scan: PickShort, event: Event, emitter: Emitter, now: datetime) -> None:
    """The bin held less than the list asked for: the picker took what there was, so the bin is empty.
    The shortfall is re-allocated (elsewhere, or backordered); on_hand drops to what is already in totes;
    other promises of that SKU the bin can no longer keep are re-allocated too."""
    shipment = _record_picked(session, scan, "picked_quantity", scan.picked_quantity)
    if shipment is None:
        return
    key = (scan.warehouse_id, scan.sku)
    missing = _trim_unpicked(session, shipment.shipment_id, scan.sku)
    store.change_reserved(session, {key: -sum(q for _, q in missing)}, now)
    releases = [((scan.shop_id, scan.order_id), Line(line_id, scan.sku, q)) for line_id, q in missing]
    row = store.locked_row(session, *key)
    assert row is not None  # the shipment reserved from it
    in_totes = store.picked_not_packed(session, *key)
    releases += correct_on_hand(session, key, row.on_hand, row.reserved, in_totes, "short_pick", event, emitter, now,
                                reallocate=False)
    _settle_status(session, shipment.shipment_id)
    log.info("pick.short", shop_id=scan.shop_id, order_id=scan.order_id, sku=scan.sku, missing=sum(q for _, q in missing),
             written_off=row.on_hand - in_totes, event_id=str(event.event_id))
    allocating.reallocate(session, releases, emitter, now)
    store.check_low(session, [key], emitter)


def _trim_unpicked(session: Session, shipment_id: str, sku: str) -> list[tuple[str, int]]:
    """Cut the shipment's lines of `sku` down to what was picked; returns (line_id, units cut)."""
    line = tables.shipment_lines
    cut = []
    for row in _lines(session, shipment_id, sku):
        if row.quantity == row.picked:
            continue
        cut.append((row.line_id, row.quantity - row.picked))
        where = (line.c.shipment_id == shipment_id) & (line.c.line_id == row.line_id)
        if row.picked:
            session.execute(update(line).where(where).values(quantity=row.picked))
        else:
            session.execute(delete(line).where(where))
    return cut


def correct_on_hand(session: Session, key: store.Key, on_hand: int, reserved: int, new_on_hand: int,
                    reason: str, event: Event, emitter: Emitter, now: datetime,
                    reallocate: bool = True) -> list[tuple[allocating.OrderId, Line]]:
    """Set on_hand to what is really there. If promises now exceed it, take back the ones no picker holds
    yet (newest first) and allocate them again. Returns the releases when `reallocate` is False."""
    excess = reserved - new_on_hand
    releases = _take_back(session, key, excess, now) if excess > 0 else []
    store.change_on_hand(session, {key: (new_on_hand - on_hand, 0)}, reason, now, event.event_id)
    if reallocate:
        allocating.reallocate(session, releases, emitter, now)
        return []
    return releases


def _take_back(session: Session, key: store.Key, excess: int, now: datetime
               ) -> list[tuple[allocating.OrderId, Line]]:
    s, line = tables.shipments, tables.shipment_lines
    rows = session.execute(
        select(s.c.shipment_id, s.c.shop_id, s.c.order_id, s.c.picklist_id, s.c.reserved_at, line.c.line_id, line.c.quantity,
               line.c.picked).select_from(line.join(s))
        .where(s.c.warehouse_id == key[0], line.c.sku == key[1], s.c.status.in_(store.OPEN_SHIPMENT),
               line.c.quantity > line.c.picked)
        .order_by(s.c.shipment_id, line.c.line_id).with_for_update()).all()
    by_line = {(r.shipment_id, r.line_id): r for r in rows}
    promises = [Promise(r.shipment_id, r.line_id, r.quantity - r.picked, r.picklist_id is not None, r.reserved_at)
                for r in rows]
    releases = releases_for(excess, promises)
    for release in releases:
        row = by_line[(release.shipment_id, release.line_id)]
        where = (line.c.shipment_id == release.shipment_id) & (line.c.line_id == release.line_id)
        if row.quantity - release.quantity == 0:
            session.execute(delete(line).where(where))
        else:
            session.execute(update(line).where(where).values(quantity=row.quantity - release.quantity))
    store.change_reserved(session, {key: -sum(r.quantity for r in releases)}, now)
    for shipment in sorted({r.shipment_id for r in releases}):
        _settle_status(session, shipment)
    log.warning("stock.promises_taken_back", warehouse_id=key[0], sku=key[1], units=excess,
                shipments=sorted({r.shipment_id for r in releases}))
    taken = [by_line[(r.shipment_id, r.line_id)] for r in releases]
    return [((row.shop_id, row.order_id), Line(r.line_id, key[1], r.quantity)) for row, r in zip(taken, releases, strict=True)]
