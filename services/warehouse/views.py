"""Read models for people: pick lists with their progress, as the API and `fulfil picklists` show them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import case, func, select
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


def picklists(session: Session, warehouse_id: str, status: Status = "open", limit: int = 50) -> list[PicklistView]:
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
