"""Applying observations to the shipment rows, in the transaction of the event that brought them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
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


def known_of(row: Any) -> Known:
    return Known(Status(row.status), row.status_at, window(row.eta_start, row.eta_end))


def locked(session: Session, **key: str) -> Any:
    s = tables.shipments
    column, value = next(iter(key.items()))
    return session.execute(select(s).where(s.c[column] == value).with_for_update()).first()


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
    known = known_of(row) if row is not None else None
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
        after = session.execute(insert(s).values(shipment_id=shipment_id, **values).returning(*s.c)).one()
    else:
        after = session.execute(update(s).where(s.c.shipment_id == shipment_id)
                                .values(version=s.c.version + 1, **values).returning(*s.c)).one()
    if after.tracking_number:
        notify(session, CHANGES, after.tracking_number)  # wakes the long polls of this parcel at commit
    if verdict.status_changes:
        session.execute(insert(tables.checkpoints).values(
            shipment_id=shipment_id, at=seen.at, status=seen.status.value, place=where.place,
            latitude=where.latitude, longitude=where.longitude, reason=seen.reason,
            eta_start=values["eta_start"], eta_end=values["eta_end"], source_event_id=source_event_id))
    announce(emitter, after, previous=known.status if known else None)
    return True


def announce(emitter: Emitter, row: Any, previous: Status | None) -> None:
    if row.tracking_number is None:
        return  # not packed yet: nothing a customer can look up
    eta = window(row.eta_start, row.eta_end)
    emitter.emit(ShipmentStatusChanged(
        tracking_number=row.tracking_number, shipment_id=row.shipment_id, shop_id=row.shop_id, order_id=row.order_id,
        status=row.status, previous_status=previous.value if previous else None, changed_at=row.status_at,
        eta_window=TimeWindow(start=eta.start, end=eta.end) if eta else None, reason=row.reason))
