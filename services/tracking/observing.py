"""Applying what an event says about a shipment: judged by the domain against what is known, saved through the
store, announced as shipment.status_changed once the parcel has a tracking number."""

from __future__ import annotations

from typing import Any

from schemas.base import Payload, TimeWindow
from schemas.envelope import Event
from schemas.tracking import ShipmentStatusChanged
from services.common.logging import get_logger
from services.tracking.domain.status import FINAL, Observation, Status, eta_after, judge
from services.tracking.store import Shipment, Where, Work, window

log = get_logger(__name__)


def observe(uow: Work, cause: Event[Payload], shipment_id: str, seen: Observation, where: Where = Where(), *,
            identity: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> bool:
    """Judge `seen` against the shipment's row (creating it when `identity` says who it is) and record what is
    accepted: the row, a checkpoint for a new status, and shipment.status_changed once the parcel has a
    tracking number. `extra` columns (the stop's route position) are written whenever the row is."""
    store = uow.store
    row = store.locked(shipment_id=shipment_id)
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
            store.note(shipment_id, **fill, **position)
        log.info("tracking.kept_out", shipment_id=shipment_id, status=seen.status, why=verdict.why)
        return False
    eta = eta_after(known.eta if known else None, verdict, seen)
    values: dict[str, Any] = {**fill, **(extra or {}), "eta_start": eta.start if eta else None,
                              "eta_end": eta.end if eta else None, "updated_at": uow.now}
    if verdict.status_changes:
        values.update(status=seen.status.value, status_at=seen.at, reason=seen.reason)
    after = store.add(shipment_id, **values) if row is None else store.change(shipment_id, **values)
    if after.tracking_number:
        store.wake_watchers(after.tracking_number)
    if verdict.status_changes:
        store.add_checkpoint(shipment_id, seen.status, seen.at, where, seen.reason, eta, cause.event_id)
    announce(uow, cause, after, previous=known.status if known else None)
    return True


def announce(uow: Work, cause: Event[Payload], row: Shipment, previous: Status | None) -> None:
    if row.tracking_number is None:
        return  # not packed yet: nothing a customer can look up
    eta = window(row.eta_start, row.eta_end)
    uow.events(cause).emit(ShipmentStatusChanged(
        tracking_number=row.tracking_number, shipment_id=row.shipment_id, shop_id=row.shop_id, order_id=row.order_id,
        status=row.status, previous_status=previous.value if previous else None, changed_at=row.status_at,
        eta_window=TimeWindow(start=eta.start, end=eta.end) if eta else None, reason=row.reason))
