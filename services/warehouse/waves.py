"""Closing pick waves: a timer gathers each warehouse's waiting reservations into waves (every N seconds,
or as soon as M orders wait) and issues one pick list per wave. Safe with many workers: shipments are
claimed with SKIP LOCKED, so no reservation lands on two lists."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from schemas.warehouse import PicklistIssued, PicklistLine, ToteAssignment
from services.common.db import UnitOfWork
from services.common.emitter import Emitter
from services.common.logging import get_logger
from services.common.processor import Context, Emit
from services.warehouse import tables
from services.warehouse.domain.pick_path import Location
from services.warehouse.domain.picklists import WaveLine, build_pick_lines, tote_labels

log = get_logger(__name__)
SOURCE = "service:warehouse"
PICKLIST_EVENTS = uuid.UUID("0f7d3a0e-5b1e-4d57-9a55-6f0c2b8e9d13")


def close_waves(uow: UnitOfWork, ctx: Context) -> list[Emit]:
    """Every warehouse whose oldest waiting reservation is older than the wave interval, or that has a full
    wave waiting, gets pick lists for up to M orders each."""
    settings = ctx.settings
    size, interval = settings.warehouse_wave_max_orders, timedelta(seconds=settings.warehouse_wave_interval_s)
    emits: list[Emit] = []
    for warehouse_id in _waiting_warehouses(uow.session):
        while True:
            count, oldest = _waiting(uow.session, warehouse_id)
            if count == 0 or (count < size and oldest > ctx.now - interval):
                break
            if _issue(uow.session, warehouse_id, size, ctx.now, emits) == 0:
                break  # what is left is being claimed by another worker's timer
    return emits


def _waiting_warehouses(session: Session) -> list[str]:
    s = tables.shipments
    return list(session.execute(select(s.c.warehouse_id).where(s.c.status == "reserved").distinct()
                                .order_by(s.c.warehouse_id)).scalars())


def _waiting(session: Session, warehouse_id: str) -> tuple[int, datetime]:
    s = tables.shipments
    count, oldest = session.execute(select(func.count(), func.min(s.c.reserved_at)).where(
        s.c.warehouse_id == warehouse_id, s.c.status == "reserved")).one()
    return int(count), oldest


def _issue(session: Session, warehouse_id: str, size: int, now: datetime, emits: list[Emit]) -> int:
    s, line, st, b = tables.shipments, tables.shipment_lines, tables.stock, tables.bins
    shipments = session.execute(
        select(s.c.shipment_id, s.c.order_id).where(s.c.warehouse_id == warehouse_id, s.c.status == "reserved")
        .order_by(s.c.reserved_at, s.c.shipment_id).limit(size).with_for_update(skip_locked=True)).all()
    if not shipments:
        return 0
    ids = [r.shipment_id for r in shipments]
    rows: Sequence[Any] = session.execute(
        select(s.c.order_id, s.c.reserved_at, s.c.shipment_id, line.c.sku, line.c.quantity, b.c.zone, b.c.aisle,
               b.c.bay, b.c.level, b.c.bin_id)
        .select_from(line.join(s).join(st, (st.c.warehouse_id == s.c.warehouse_id) & (st.c.sku == line.c.sku))
                     .join(b, (b.c.warehouse_id == st.c.warehouse_id) & (b.c.bin_id == st.c.bin_id)))
        .where(s.c.shipment_id.in_(ids)).order_by(s.c.reserved_at, s.c.shipment_id, line.c.line_id)).all()
    number = session.execute(tables.wave_numbers.next_value()).scalar_one()
    wave_id, picklist_id = f"WV-{number:06d}", f"PL-{number:06d}"
    pick_lines = build_pick_lines([
        WaveLine(r.order_id, r.sku, r.quantity, Location(r.zone, r.aisle, r.bay, r.level, r.bin_id)) for r in rows])
    order_ids = list(dict.fromkeys(r.order_id for r in shipments))
    totes = tote_labels(order_ids)
    payload = PicklistIssued(
        picklist_id=picklist_id, warehouse_id=warehouse_id, wave_id=wave_id, issued_at=now, order_ids=order_ids,
        lines=[PicklistLine(sequence=p.sequence, zone=p.location.zone, aisle=p.location.aisle, bay=p.location.bay,
                            level=p.location.level, bin=p.location.bin, sku=p.sku, quantity=p.quantity,
                            totes=[ToteAssignment(order_id=t.order_id, tote=t.tote, quantity=t.quantity)
                                   for t in p.totes]) for p in pick_lines])
    for shipment_id, order_id in shipments:
        session.execute(update(s).where(s.c.shipment_id == shipment_id)
                        .values(status="picking", picklist_id=picklist_id, tote=totes[order_id]))
    session.execute(insert(tables.picklists).values(
        picklist_id=picklist_id, warehouse_id=warehouse_id, wave_id=wave_id, issued_at=now,
        document=payload.model_dump(mode="json")))
    emitter = Emitter(SOURCE, now, namespace=uuid.uuid5(PICKLIST_EVENTS, picklist_id))
    emitter.add("warehouse.events", warehouse_id, payload, correlation_id=picklist_id)
    emits.extend(emitter.emits)
    log.info("picklist.issued", warehouse_id=warehouse_id, picklist_id=picklist_id, orders=len(order_ids),
             lines=len(pick_lines))
    return len(shipments)
