"""Closing pick waves: a timer gathers each warehouse's waiting reservations into waves (every N seconds,
or as soon as M orders wait) and issues one pick list per wave. Safe with many workers: shipments are
claimed with SKIP LOCKED, so no reservation lands on two lists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from schemas.warehouse import PicklistIssued
from services.common.db import Rows, UnitOfWork
from services.common.handling import Context, Emit
from services.common.logging import get_logger
from services.warehouse import tables
from services.warehouse.domain.pick_path import Location
from services.warehouse.domain.picklists import WaveLine, build_pick_lines, tote_labels
from services.warehouse.settings import WarehouseSettings

log = get_logger(__name__)
PICKLIST_EVENTS = uuid.UUID("0f7d3a0e-5b1e-4d57-9a55-6f0c2b8e9d13")


def close_waves(uow: UnitOfWork, ctx: Context[WarehouseSettings]) -> list[Emit]:
    """Every warehouse gets pick lists for each full wave of M waiting orders, plus one for the rest once the
    oldest of them has waited the wave interval."""
    settings = ctx.settings
    size, interval = settings.warehouse_wave_max_orders, timedelta(seconds=settings.warehouse_wave_interval_s)
    emits: list[Emit] = []
    for warehouse_id, count, oldest in _waiting(uow.session):
        due = count // size + (1 if count < size and oldest <= ctx.now - interval else 0)
        if due:
            waves = _claim_waves(uow.session, warehouse_id, size, min(due, MAX_WAVES_PER_TICK),
                                 partial=count < size)
            if waves:
                _issue(uow.session, warehouse_id, waves, ctx, emits)
    return emits


MAX_WAVES_PER_TICK = 50


@dataclass(frozen=True, slots=True)
class Reservation:
    """A shipment waiting for a wave."""

    shipment_id: str
    shop_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class LineAt:
    """A reserved line and the bin its SKU is picked from."""

    sku: str
    quantity: int
    location: Location


def _waiting(session: Session) -> list[tuple[str, int, datetime]]:
    """(warehouse_id, shipments waiting, oldest reservation), read without locks from the partial index: most
    ticks find nothing due and lock nothing."""
    s = tables.shipments
    return [(w, n, oldest) for w, n, oldest in session.execute(
        select(s.c.warehouse_id, func.count(), func.min(s.c.reserved_at)).where(s.c.status == "reserved")
        .group_by(s.c.warehouse_id).order_by(s.c.warehouse_id))]


def _claim_waves(session: Session, warehouse_id: str, size: int, waves: int, partial: bool
                 ) -> list[list[Reservation]]:
    """The oldest waiting shipments for `waves` waves, locked (SKIP LOCKED: another worker's timer may hold
    some) and cut into waves; a chunk short of a wave goes only if a partial wave was found due."""
    s = tables.shipments
    waiting = [Reservation(r.shipment_id, r.shop_id, r.order_id) for r in session.execute(
        select(s.c.shipment_id, s.c.shop_id, s.c.order_id)
        .where(s.c.warehouse_id == warehouse_id, s.c.status == "reserved")
        .order_by(s.c.reserved_at, s.c.shipment_id).limit(size * waves)
        .with_for_update(skip_locked=True))]
    chunks = [list(waiting[i:i + size]) for i in range(0, len(waiting), size)]
    if chunks and len(chunks[-1]) < size and not partial:
        chunks.pop()
    return chunks


_START_PICKING = text("""
    UPDATE warehouse.shipments AS s SET status = 'picking', picklist_id = v.picklist_id, tote = v.tote
      FROM unnest(CAST(:ids AS text[]), CAST(:picklists AS text[]), CAST(:totes AS text[]))
           AS v(shipment_id, picklist_id, tote)
     WHERE s.shipment_id = v.shipment_id
""")


def _issue(session: Session, warehouse_id: str, waves: list[list[Reservation]], ctx: Context[WarehouseSettings],
           emits: list[Emit]) -> None:
    """One pick list per wave; a handful of statements whatever the number of waves. The lines are looked up by
    their own key, in this warehouse's stock by its key: joining the shipments back in let the planner scan
    every shipment ever written, so that each wave cost more as the table grew."""
    line, st, b = tables.shipment_lines, tables.stock, tables.bins
    ids = [r.shipment_id for wave in waves for r in wave]
    lines: dict[str, list[LineAt]] = {}
    for row in session.execute(
            select(line.c.shipment_id, line.c.sku, line.c.quantity, b.c.zone, b.c.aisle, b.c.bay, b.c.level,
                   b.c.bin_id)
            .select_from(line.join(st, (st.c.warehouse_id == warehouse_id) & (st.c.sku == line.c.sku))
                         .join(b, (b.c.warehouse_id == st.c.warehouse_id) & (b.c.bin_id == st.c.bin_id)))
            .where(line.c.shipment_id.in_(ids)).order_by(line.c.line_id)):
        lines.setdefault(row.shipment_id, []).append(
            LineAt(row.sku, row.quantity, Location(row.zone, row.aisle, row.bay, row.level, row.bin_id)))
    numbers = session.execute(select(tables.wave_numbers.next_value())
                              .select_from(func.generate_series(1, len(waves)))).scalars().all()
    updates: dict[str, list[str]] = {"ids": [], "picklists": [], "totes": []}
    documents, issued = [], []
    for wave, number in zip(waves, numbers, strict=True):
        wave_id, picklist_id = f"WV-{number:06d}", f"PL-{number:06d}"
        orders = list(dict.fromkeys((r.shop_id, r.order_id) for r in wave))
        totes = tote_labels(orders)
        in_tote = {totes[order]: order for order in orders}
        pick_lines = build_pick_lines([
            WaveLine((shipment.shop_id, shipment.order_id), at.sku, at.quantity, at.location)
            for shipment in wave for at in lines.get(shipment.shipment_id, [])])
        payload = PicklistIssued.model_validate({  # plain data in, one validation of the whole list
            "picklist_id": picklist_id, "warehouse_id": warehouse_id, "wave_id": wave_id, "issued_at": ctx.now,
            "orders": [{"shop_id": shop_id, "order_id": order_id} for shop_id, order_id in orders],
            "lines": [{"sequence": p.sequence, "zone": p.location.zone, "aisle": p.location.aisle,
                       "bay": p.location.bay, "level": p.location.level, "bin": p.location.bin, "sku": p.sku,
                       "quantity": p.quantity,
                       "totes": [{"shop_id": in_tote[t.tote][0], "order_id": in_tote[t.tote][1], "tote": t.tote,
                                  "quantity": t.quantity} for t in p.totes]}
                      for p in pick_lines]})
        for shipment in wave:
            updates["ids"].append(shipment.shipment_id)
            updates["picklists"].append(picklist_id)
            updates["totes"].append(totes[(shipment.shop_id, shipment.order_id)])
        emitter = ctx.emitter(namespace=uuid.uuid5(PICKLIST_EVENTS, picklist_id))
        emitter.emit(payload)
        emits.extend(emitter.emits)
        documents.append({"picklist_id": picklist_id, "warehouse_id": warehouse_id, "wave_id": wave_id,
                          "issued_at": ctx.now,
                          "document": emitter.emits[-1].event.envelope.payload})  # the event's, not dumped again
        issued.append({"picklist_id": picklist_id, "orders": len(orders), "lines": len(pick_lines)})
    log.info("picklists.issued", warehouse_id=warehouse_id, picklists=issued)
    session.execute(_START_PICKING, updates)
    _PICKLIST_ROWS.write(session, documents)


_PICKLIST_ROWS = Rows(tables.picklists, ("picklist_id", "warehouse_id", "wave_id", "issued_at", "document"))
