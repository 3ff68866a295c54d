"""What customers and shops are shown. These models are the whole answer, so nothing personal can slip in:
no name, street, phone, nor the coordinates of a doorstep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.tracking import tables
from services.tracking.domain.status import FINAL, Status, order_status, status_text


class Window(BaseModel):
    start: datetime
    end: datetime


class Checkpoint(BaseModel):
    at: datetime
    status: Status
    text: str = Field(description="The status as a carrier's tracking page words it")
    place: str | None = Field(None, description="Warehouse or depot id where known")


class Tracking(BaseModel):
    tracking_number: str
    status: Status
    text: str
    since: datetime = Field(description="When the current status happened")
    eta_window: Window | None = Field(None, description="When the parcel should arrive; moves if the driver runs late")
    final: bool = Field(description="True once nothing will change any more (delivered, returned, cancelled)")
    checkpoints: list[Checkpoint] = Field(description="Every status the parcel went through, oldest first")


class OrderShipment(BaseModel):
    shipment_id: str
    warehouse_id: str | None
    tracking_number: str | None
    status: Status
    text: str
    eta_window: Window | None
    checkpoints: list[Checkpoint]


class OrderView(BaseModel):
    order_id: str
    status: Status = Field(description="The furthest stage any of its shipments reached (allocated, picking, packed, "
                                       "planned, out_for_delivery, delivered, ...), else accepted or backordered "
                                       "(units wait for stock); or cancelled")
    units_waiting_for_stock: int
    shipments: list[OrderShipment]


def _window(row: Any) -> Window | None:
    return Window(start=row.eta_start, end=row.eta_end) if row.eta_start is not None else None


def _checkpoints(session: Session, shipment_ids: list[str]) -> dict[str, list[Checkpoint]]:
    c = tables.checkpoints
    found: dict[str, list[Checkpoint]] = {i: [] for i in shipment_ids}
    for row in session.execute(select(c.c.shipment_id, c.c.at, c.c.status, c.c.place, c.c.reason)
                               .where(c.c.shipment_id.in_(shipment_ids)).order_by(c.c.shipment_id, c.c.id)):
        status = Status(row.status)
        found[row.shipment_id].append(Checkpoint(at=row.at, status=status, text=status_text(status, row.reason),
                                                 place=row.place))
    return found


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    final: bool


def version(session: Session, tracking_number: str) -> Version | None:
    """Enough to answer 304: one index lookup, no checkpoints read."""
    s = tables.shipments
    row = session.execute(select(s.c.version, s.c.status).where(s.c.tracking_number == tracking_number)).first()
    return Version(row.version, Status(row.status) in FINAL) if row else None


def tracking(session: Session, tracking_number: str) -> tuple[Tracking, int] | None:
    """The customer's answer and its version (the ETag)."""
    s = tables.shipments
    row = session.execute(select(s).where(s.c.tracking_number == tracking_number)).first()
    if row is None:
        return None
    status = Status(row.status)
    return Tracking(tracking_number=tracking_number, status=status, text=status_text(status, row.reason),
                    since=row.status_at, eta_window=_window(row), final=status in FINAL,
                    checkpoints=_checkpoints(session, [row.shipment_id])[row.shipment_id]), row.version


def order(session: Session, shop_id: str, order_id: str) -> OrderView | None:
    """The shop's view of one of its orders; None for an id the shop has no order under (another shop's order
    under the same id is another order), or whose order.accepted is still on its way: one primary-key look-up
    that finds nothing, the same work in each case, so response times tell nothing about other shops' orders."""
    o, s = tables.orders, tables.shipments
    head = session.execute(select(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id)).first()
    if head is None:
        return None
    rows = session.execute(select(s).where(s.c.shop_id == shop_id, s.c.order_id == order_id)
                           .order_by(s.c.shipment_id)).all()
    points = _checkpoints(session, [r.shipment_id for r in rows])
    waiting = sum(head.waiting.values())
    status = order_status(head.status == "cancelled", waiting, [Status(r.status) for r in rows])
    return OrderView(order_id=order_id, status=status, units_waiting_for_stock=waiting, shipments=[
        OrderShipment(shipment_id=r.shipment_id, warehouse_id=r.warehouse_id, tracking_number=r.tracking_number,
                      status=Status(r.status), text=status_text(Status(r.status), r.reason), eta_window=_window(r),
                      checkpoints=points[r.shipment_id]) for r in rows])
