"""Read models for people: pick lists with their progress, as the API and `fulfil picklists` show them, and what the
staff pages draw: a list's steps in walking order with where each stands, a tote's parcels, a parcel's label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from schemas.warehouse import OrderRef, PicklistLine
from services.warehouse import tables

Status = Literal["open", "done", "all"]


class PicklistView(BaseModel):
    picklist_id: str
    warehouse_id: str
    wave_id: str
    issued_at: datetime
    status: Literal["open", "done"]
    units_picked: int
    units_total: int
    orders: list[OrderRef]
    cancelled_orders: list[OrderRef]
    lines: list[PicklistLine]


def warehouse_exists(session: Session, warehouse_id: str) -> bool:
    w = tables.warehouses
    return session.execute(select(w.c.warehouse_id).where(w.c.warehouse_id == warehouse_id)).first() is not None


def picklists(session: Session, warehouse_id: str, status: Status = "open", limit: int = 50,
              picklist_id: str | None = None) -> list[PicklistView]:
    """Newest first. A list is open while any of its orders is still being picked."""
    p, s, line = tables.picklists, tables.shipments, tables.shipment_lines
    progress = (
        select(s.c.picklist_id,
               func.count(case((s.c.status == "picking", 1))).label("picking"),
               func.array_agg(case((s.c.status == "cancelled", s.c.shop_id))).label("cancelled_shops"),
               func.array_agg(case((s.c.status == "cancelled", s.c.order_id))).label("cancelled"),
               func.coalesce(func.sum(line.c.picked), 0).label("picked"),
               func.coalesce(func.sum(line.c.quantity), 0).label("total"))
        .select_from(s.outerjoin(line)).where(s.c.warehouse_id == warehouse_id, s.c.picklist_id.is_not(None))
        .group_by(s.c.picklist_id).subquery())
    query = (select(p, progress.c.picking, progress.c.cancelled_shops, progress.c.cancelled, progress.c.picked,
                    progress.c.total)
             .join(progress, progress.c.picklist_id == p.c.picklist_id)
             .where(p.c.warehouse_id == warehouse_id).order_by(p.c.issued_at.desc(), p.c.picklist_id.desc()))
    if picklist_id is not None:
        query = query.where(p.c.picklist_id == picklist_id)
    if status == "open":
        query = query.where(progress.c.picking > 0)
    elif status == "done":
        query = query.where(progress.c.picking == 0)
    views = []
    for row in session.execute(query.limit(limit)):
        document = row.document
        views.append(PicklistView(
            picklist_id=row.picklist_id, warehouse_id=row.warehouse_id, wave_id=row.wave_id, issued_at=row.issued_at,
            status="open" if row.picking else "done", units_picked=row.picked, units_total=row.total,
            orders=document["orders"],
            cancelled_orders=[OrderRef(shop_id=shop, order_id=order) for shop, order in
                              sorted({pair for pair in zip(row.cancelled_shops, row.cancelled, strict=True) if pair[1]})],
            lines=[PicklistLine.model_validate(x) for x in document["lines"]]))
    return views


StepState = Literal["to_pick", "picked", "waiting", "cancelled", "moved"]
"""to_pick: units are due; picked: nothing is due; waiting: a tap on a page is not processed yet; cancelled: the
order was cancelled since the list was issued; moved: the order's units of this SKU left the list (a short pick or a
recount re-allocated them)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a pick list for one tote: what a picker does at one bin for one order."""

    number: int
    sequence: int
    bin: str
    zone: str
    aisle: int
    bay: int
    level: int
    sku: str
    description: str | None
    tote: str
    shop_id: str
    order_id: str
    listed: int
    due: int
    state: StepState
    shipment_ids: tuple[str, ...]
    """The order's open shipments on the list, oldest first."""


def _pending(session: Session, shipment_ids: Sequence[str]) -> set[tuple[str, str | None]]:
    """(shipment, sku) with a tap on a page whose scan is not processed yet (its event is not in the inbox)."""
    t, inbox = tables.staff_scans, tables.messaging.inbox
    return {(r.shipment_id, r.sku) for r in session.execute(
        select(t.c.shipment_id, t.c.sku).where(t.c.shipment_id.in_(shipment_ids),
                                               ~exists().where(inbox.c.event_id == t.c.event_id)))}


def steps(session: Session, warehouse_id: str, view: PicklistView) -> list[Step]:
    """The list's lines tote by tote in walking order, each with where it stands now. A tote holds all of an
    order's shipments on the list (two, when a backorder was filled before the wave closed): a step counts them
    all."""
    s, line, st = tables.shipments, tables.shipment_lines, tables.stock
    shipments: dict[tuple[str, str], list[Any]] = {}
    for r in session.execute(select(s.c.shipment_id, s.c.shop_id, s.c.order_id, s.c.status)
                             .where(s.c.picklist_id == view.picklist_id, s.c.warehouse_id == warehouse_id)
                             .order_by(s.c.reserved_at, s.c.shipment_id)):
        shipments.setdefault((r.shop_id, r.order_id), []).append(r)
    ids = [r.shipment_id for rows in shipments.values() for r in rows]
    units: dict[tuple[str, str], tuple[int, int]] = {}
    for r in session.execute(select(line.c.shipment_id, line.c.sku, func.sum(line.c.quantity), func.sum(line.c.picked))
                             .where(line.c.shipment_id.in_(ids)).group_by(line.c.shipment_id, line.c.sku)):
        units[(r[0], r[1])] = (int(r[2]), int(r[3]))
    described = dict(session.execute(select(st.c.sku, st.c.description).where(
        st.c.warehouse_id == warehouse_id, st.c.sku.in_({x.sku for x in view.lines}))).all())
    pending = _pending(session, ids)
    found: list[Step] = []
    for x in view.lines:
        for tote in x.totes:
            rows = shipments.get((tote.shop_id, tote.order_id), [])
            live = [r.shipment_id for r in rows if r.status != "cancelled"]
            quantity = sum(units.get((sid, x.sku), (0, 0))[0] for sid in live)
            picked = sum(units.get((sid, x.sku), (0, 0))[1] for sid in live)
            state: StepState
            if rows and not live:
                state, due = "cancelled", 0
            elif quantity == 0:
                state, due = "moved", 0
            elif any((sid, x.sku) in pending for sid in live):
                state, due = "waiting", 0
            else:
                due = quantity - picked
                state = "to_pick" if due > 0 else "picked"
            found.append(Step(len(found) + 1, x.sequence, x.bin, x.zone, x.aisle, x.bay, x.level, x.sku,
                              described.get(x.sku), tote.tote, tote.shop_id, tote.order_id, tote.quantity, due, state,
                              tuple(live)))
    return found


@dataclass(frozen=True, slots=True)
class Parcel:
    """One shipment in a tote: the parcel it becomes, with the units that go into it."""

    shipment_id: str
    shop_id: str
    order_id: str
    status: str
    items: list[tuple[str, int]]
    """(sku, units picked) to put in this parcel"""
    waiting: bool
    """A Packed tap on a page is not processed yet."""
    parcel_id: str | None
    tracking_number: str | None


def tote(session: Session, warehouse_id: str, picklist_id: str, tote_label: str) -> list[Parcel]:
    """The shipments of one tote, oldest first: each is a parcel of its own."""
    s, line = tables.shipments, tables.shipment_lines
    rows = session.execute(select(s).where(s.c.warehouse_id == warehouse_id, s.c.picklist_id == picklist_id,
                                          s.c.tote == tote_label).order_by(s.c.reserved_at, s.c.shipment_id)).all()
    ids = [r.shipment_id for r in rows]
    items: dict[str, list[tuple[str, int]]] = {}
    for r in session.execute(select(line.c.shipment_id, line.c.sku, func.sum(line.c.picked))
                             .where(line.c.shipment_id.in_(ids)).group_by(line.c.shipment_id, line.c.sku)
                             .order_by(line.c.shipment_id, line.c.sku)):
        if r[2]:
            items.setdefault(r[0], []).append((r[1], int(r[2])))
    pending = {sid for sid, _ in _pending(session, ids)}
    return [Parcel(r.shipment_id, r.shop_id, r.order_id, r.status, items.get(r.shipment_id, []),
                   r.shipment_id in pending, r.parcel_id, r.tracking_number) for r in rows]


@dataclass(frozen=True, slots=True)
class Label:
    """What the parcel's label says: where it goes and its tracking number once the warehouse gave it one."""

    shipment_id: str
    picklist_id: str | None
    tote: str | None
    shop_id: str
    order_id: str
    parcel_id: str | None
    tracking_number: str | None
    weight_kg: str | None
    address: list[str]
    window: str


def label(session: Session, warehouse_id: str, shipment_id: str) -> Label | None:
    s, o = tables.shipments, tables.orders
    row = session.execute(select(s, o.c.delivery).join(o, (o.c.shop_id == s.c.shop_id) & (o.c.order_id == s.c.order_id))
                          .where(s.c.warehouse_id == warehouse_id, s.c.shipment_id == shipment_id)).first()
    if row is None:
        return None
    address, window = row.delivery["address"], row.delivery["window"]
    lines = [address.get("line1"), address.get("line2"), f"{address.get('postcode', '')} {address.get('city', '')}",
             address.get("country")]
    return Label(row.shipment_id, row.picklist_id, row.tote, row.shop_id, row.order_id, row.parcel_id,
                 row.tracking_number, None if row.weight_kg is None else f"{row.weight_kg:.3f}",
                 [x for x in lines if x and x.strip()], f"{window['start']} - {window['end']}")
