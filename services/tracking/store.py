"""Applying observations to the shipment rows, in the transaction of the event that brought them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from schemas.base import TimeWindow
from schemas.tracking import ShipmentStatusChanged
from services.common.changes import notify
from services.common.handling import Emitter
from services.common.logging import get_logger
from services.tracking import tables
from services.tracking.domain.status import FINAL, Known, Observation, Status, Window, eta_after, judge

log = get_logger(__name__)
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


def locked(session: Session, *, shipment_id: str | None = None, tracking_number: str | None = None
           ) -> Shipment | None:
    """The shipment with this id or tracking number, its row locked."""
    s = tables.shipments
    where = s.c.shipment_id == shipment_id if shipment_id is not None else s.c.tracking_number == tracking_number
    row = session.execute(select(s).where(where).with_for_update()).first()
    return Shipment.of(row) if row else None


def later_stops(session: Session, stop: Shipment) -> list[Shipment]:
    """The stops after `stop` on its route that are still to be driven to, locked."""
    s = tables.shipments
    return [Shipment.of(row) for row in session.execute(
        select(s).where(s.c.plan_id == stop.plan_id, s.c.vehicle_id == stop.vehicle_id, s.c.sequence > stop.sequence,
                        s.c.status.in_([Status.PLANNED.value, Status.OUT_FOR_DELIVERY.value]))
        .order_by(s.c.sequence).with_for_update())]


def change(session: Session, shipment_id: str, **values: Any) -> Shipment:
    """Write `values` to the shipment, bump its version (the ETag) and return it as it now is."""
    s = tables.shipments
    return Shipment.of(session.execute(update(s).where(s.c.shipment_id == shipment_id)
                                       .values(version=s.c.version + 1, **values).returning(*s.c)).one())


def observe(session: Session, emitter: Emitter, shipment_id: str, seen: Observation, source_event_id: uuid.UUID,
            where: Where = Where(), *, identity: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None) -> bool:
    """Judge `seen` against the shipment's row (creating it when `identity` says who it is) and record what is
    accepted: the row, a checkpoint for a new status, and shipment.status_changed once the parcel has a
    tracking number. `extra` columns (the stop's route position) are written whenever the row is."""
    s = tables.shipments
    row = locked(session, shipment_id=shipment_id)
    if row is None and identity is None:
        log.info("tracking.unknown_shipment", shipment_id=shipment_id, status=seen.status)
        return False
    known = row.known if row is not None else None
    verdict = judge(known, seen)
    fill = {k: v for k, v in (identity or {}).items() if row is None or getattr(row, k) is None}
    if not verdict.accepted:
        # A newer plan that changes no ETA still says where the stop now sits on which route: keep that,
        # so that a late driver moves the right stops.
        position = extra if extra and known and seen.at >= known.at and known.status not in FINAL else {}
        if (fill or position) and row is not None:
            session.execute(update(s).where(s.c.shipment_id == shipment_id).values(**fill, **position))
        log.info("tracking.kept_out", shipment_id=shipment_id, status=seen.status, why=verdict.why)
        return False
    eta = eta_after(known.eta if known else None, verdict, seen)
    values: dict[str, Any] = {**fill, **(extra or {}), "eta_start": eta.start if eta else None,
                              "eta_end": eta.end if eta else None, "updated_at": emitter.now}
    if verdict.status_changes:
        values.update(status=seen.status.value, status_at=seen.at, reason=seen.reason)
    if row is None:
        after = Shipment.of(session.execute(insert(s).values(shipment_id=shipment_id, **values)
                                            .returning(*s.c)).one())
    else:
        after = change(session, shipment_id, **values)
    if after.tracking_number:
        notify(session, CHANGES, after.tracking_number)  # wakes the long polls of this parcel at commit
    if verdict.status_changes:
        session.execute(insert(tables.checkpoints).values(
            shipment_id=shipment_id, at=seen.at, status=seen.status.value, place=where.place,
            latitude=where.latitude, longitude=where.longitude, reason=seen.reason,
            eta_start=values["eta_start"], eta_end=values["eta_end"], source_event_id=source_event_id))
    announce(emitter, after, previous=known.status if known else None)
    return True


def announce(emitter: Emitter, row: Shipment, previous: Status | None) -> None:
    if row.tracking_number is None:
        return  # not packed yet: nothing a customer can look up
    eta = window(row.eta_start, row.eta_end)
    emitter.emit(ShipmentStatusChanged(
        tracking_number=row.tracking_number, shipment_id=row.shipment_id, shop_id=row.shop_id, order_id=row.order_id,
        status=row.status, previous_status=previous.value if previous else None, changed_at=row.status_at,
        eta_window=TimeWindow(start=eta.start, end=eta.end) if eta else None, reason=row.reason))
