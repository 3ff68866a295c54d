"""The tracking service's rows and all its SQL: shipments (a parcel's status, ETA and place on its route), their
checkpoints, its copy of each order, and carrier scans that came before their parcel was known. Takes and returns
values; judging an observation is observing.py's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.changes import notify
from services.common.unit_of_work import UnitOfWork
from services.tracking import tables
from services.tracking.domain.status import Known, Status, Window

CHANGES = "tracking_changed"
"""The NOTIFY channel a shipment's tracking number is announced on when its answer changes."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where a checkpoint happened: a place a customer may see, and coordinates only operators see."""

    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def window(start: datetime | None, end: datetime | None) -> Window | None:
    return Window(start, end) if start is not None and end is not None else None


@dataclass(frozen=True, slots=True)
class Shipment:
    """A row of tracking.shipments: one parcel's status, ETA and place on its route."""

    shipment_id: str
    shop_id: str
    order_id: str
    warehouse_id: str | None
    tracking_number: str | None
    status: str
    status_at: datetime
    reason: str | None
    eta_start: datetime | None
    eta_end: datetime | None
    promised_start: datetime | None
    promised_end: datetime | None
    plan_id: str | None
    vehicle_id: str | None
    sequence: int | None
    planned_arrival: datetime | None
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, row: Row[Any]) -> Shipment:
        return cls(**row._mapping)

    @property
    def known(self) -> Known:
        return Known(Status(self.status), self.status_at, window(self.eta_start, self.eta_end))


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- shipments ---------------------------------------------------------------------------------------------
    def locked(self, *, shipment_id: str | None = None, tracking_number: str | None = None) -> Shipment | None:
        """The shipment with this id or tracking number, its row locked."""
        s = tables.shipments
        where = s.c.shipment_id == shipment_id if shipment_id is not None else s.c.tracking_number == tracking_number
        row = self.session.execute(select(s).where(where).with_for_update()).first()
        return Shipment.of(row) if row else None

    def later_stops(self, stop: Shipment) -> list[Shipment]:
        """The stops after `stop` on its route that are still to be driven to, locked."""
        s = tables.shipments
        return [Shipment.of(row) for row in self.session.execute(
            select(s).where(s.c.plan_id == stop.plan_id, s.c.vehicle_id == stop.vehicle_id,
                            s.c.sequence > stop.sequence,
                            s.c.status.in_([Status.PLANNED.value, Status.OUT_FOR_DELIVERY.value]))
            .order_by(s.c.sequence).with_for_update())]

    def of_order(self, shop_id: str, order_id: str) -> list[str]:
        """The order's shipment ids, in id order."""
        s = tables.shipments
        return list(self.session.execute(select(s.c.shipment_id).where(s.c.shop_id == shop_id, s.c.order_id == order_id)
                                         .order_by(s.c.shipment_id)).scalars())

    def of_orders_in(self, orders: list[tuple[str, str]], warehouse_id: str) -> list[str]:
        """The shipment ids of these orders from this warehouse, in id order."""
        s = tables.shipments
        return list(self.session.execute(
            select(s.c.shipment_id).where(tuple_(s.c.shop_id, s.c.order_id).in_(orders),
                                          s.c.warehouse_id == warehouse_id)
            .order_by(s.c.shipment_id)).scalars())

    def add(self, shipment_id: str, **values: Any) -> Shipment:
        s = tables.shipments
        return Shipment.of(self.session.execute(insert(s).values(shipment_id=shipment_id, **values)
                                                .returning(*s.c)).one())

    def change(self, shipment_id: str, **values: Any) -> Shipment:
        """Write `values` to the shipment, bump its version (the ETag) and return it as it now is."""
        s = tables.shipments
        return Shipment.of(self.session.execute(update(s).where(s.c.shipment_id == shipment_id)
                                                .values(version=s.c.version + 1, **values).returning(*s.c)).one())

    def note(self, shipment_id: str, **values: Any) -> None:
        """Write `values` that change no answer a customer sees (who the parcel is, where it sits on a route):
        the version stays."""
        s = tables.shipments
        self.session.execute(update(s).where(s.c.shipment_id == shipment_id).values(**values))

    def add_checkpoint(self, shipment_id: str, status: Status, at: datetime, where: Where, reason: str | None,
                       eta: Window | None, source_event_id: uuid.UUID) -> None:
        self.session.execute(insert(tables.checkpoints).values(
            shipment_id=shipment_id, at=at, status=status.value, place=where.place, latitude=where.latitude,
            longitude=where.longitude, reason=reason, eta_start=eta.start if eta else None,
            eta_end=eta.end if eta else None, source_event_id=source_event_id))

    def wake_watchers(self, tracking_number: str) -> None:
        """The long polls of this parcel wake at commit."""
        notify(self.session, CHANGES, tracking_number)

    # -- scans that came before their parcel -------------------------------------------------------------------
    def park_scan(self, tracking_number: str, event: dict[str, Any], now: datetime) -> None:
        self.session.execute(tables.early_scans.insert().values(tracking_number=tracking_number, event=event,
                                                                received_at=now))

    def take_parked(self, tracking_number: str) -> list[dict[str, Any]]:
        """The scans parked for this parcel, oldest first, gone from the table."""
        e = tables.early_scans
        rows = self.session.execute(select(e.c.id, e.c.event).where(e.c.tracking_number == tracking_number)
                                    .order_by(e.c.id)).all()
        if rows:
            self.session.execute(e.delete().where(e.c.id.in_([row.id for row in rows])))
        return [row.event for row in rows]

    # -- orders ------------------------------------------------------------------------------------------------
    def save_order(self, shop_id: str, order_id: str, now: datetime, **values: Any) -> None:
        """Upsert the order row (warehouse events may come before order.accepted); `values` overwrite."""
        o = tables.orders
        row = {"shop_id": shop_id, "order_id": order_id, "status": "accepted", "accepted_at": now, "updated_at": now,
               **values}
        self.session.execute(pg_insert(o).values(row).on_conflict_do_update(
            index_elements=["shop_id", "order_id"],
            set_={k: v for k, v in row.items() if k in values or k == "updated_at"}))

    def locked_waiting(self, shop_id: str, order_id: str) -> tuple[dict[str, int], str]:
        """The order's units waiting for stock per line, and its status; its row locked."""
        o = tables.orders
        waiting, status = self.session.execute(select(o.c.waiting, o.c.status).where(
            o.c.shop_id == shop_id, o.c.order_id == order_id).with_for_update()).one()
        return dict(waiting), str(status)

    def set_waiting(self, shop_id: str, order_id: str, waiting: dict[str, int]) -> None:
        o = tables.orders
        self.session.execute(update(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id)
                             .values(waiting=waiting))


Work = UnitOfWork[Store]
"""The tracking service's unit of work: what its handlers are given."""
