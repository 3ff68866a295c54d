"""One trustworthy status per shipment.

Events reach tracking from four topics with no order between them, and carriers resend and delay scans.
So a status never moves backwards: each observation is judged against what is already known, by how far
along the delivery it is (its stage) and by when it happened. The one way back is a new attempt after a
failed delivery, and only with newer news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    # order-side, before anything is packed
    ACCEPTED = "accepted"
    BACKORDERED = "backordered"
    ALLOCATED = "allocated"
    PICKING = "picking"
    # the parcel
    PENDING = "pending"
    PACKED = "packed"
    PLANNED = "planned"
    READY_FOR_PICKUP = "ready_for_pickup"
    HANDED_TO_CARRIER = "handed_to_carrier"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"


STAGE: dict[Status, int] = {
    Status.ACCEPTED: 0, Status.BACKORDERED: 1, Status.ALLOCATED: 1, Status.PENDING: 1, Status.PICKING: 2,
    Status.PACKED: 3, Status.PLANNED: 4, Status.READY_FOR_PICKUP: 4, Status.HANDED_TO_CARRIER: 4,
    Status.OUT_FOR_DELIVERY: 5, Status.DELIVERY_FAILED: 6,
    Status.DELIVERED: 7, Status.RETURNED_TO_SENDER: 7, Status.CANCELLED: 7,
}
FINAL = frozenset({Status.DELIVERED, Status.RETURNED_TO_SENDER, Status.CANCELLED})
RETRY_AFTER_FAILURE = frozenset({Status.PLANNED, Status.HANDED_TO_CARRIER, Status.OUT_FOR_DELIVERY})

FAILURE_TEXT = {
    "no_one_home": "no one was home",
    "address_problem": "there is a problem with the address",
    "refused": "the parcel was refused",
    "other": "the driver could not deliver it",
}

TEXT: dict[Status, str] = {
    Status.ACCEPTED: "Order received",
    Status.BACKORDERED: "Waiting for stock",
    Status.ALLOCATED: "Reserved in the warehouse",
    Status.PICKING: "Being picked in the warehouse",
    Status.PENDING: "Label created",
    Status.PACKED: "Packed, waiting for dispatch",
    Status.PLANNED: "Scheduled for delivery",
    Status.READY_FOR_PICKUP: "Ready for pickup",
    Status.HANDED_TO_CARRIER: "Handed to the carrier",
    Status.OUT_FOR_DELIVERY: "Out for delivery",
    Status.DELIVERY_FAILED: "Delivery attempt failed",
    Status.DELIVERED: "Delivered",
    Status.RETURNED_TO_SENDER: "Returned to sender",
    Status.CANCELLED: "Cancelled",
}


def order_status(cancelled: bool, units_waiting: int, shipments: list[Status]) -> Status:
    """An order's status is the furthest stage any of its live shipments reached: a parcel out for delivery makes
    the order out for delivery, whatever the order's own record says. Without a live shipment, it waits for stock
    (backordered) or is accepted; a cancelled order is cancelled."""
    if cancelled:
        return Status.CANCELLED
    live = [s for s in shipments if s is not Status.CANCELLED]
    if live:
        return max(live, key=lambda s: (STAGE[s], s is Status.DELIVERED))
    return Status.BACKORDERED if units_waiting else Status.ACCEPTED


def status_text(status: Status, reason: str | None = None) -> str:
    """What a carrier's tracking page would say."""
    text = TEXT[status]
    if status is Status.DELIVERY_FAILED and reason:
        return f"{text}: {FAILURE_TEXT.get(reason, reason)}"
    return text


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime

    def shifted(self, by: timedelta) -> Window:
        return Window(self.start + by, self.end + by)


@dataclass(frozen=True, slots=True)
class Known:
    """What tracking holds for a shipment now."""

    status: Status
    at: datetime
    eta: Window | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """Something an event says about a shipment: a status at a time, perhaps with an ETA."""

    status: Status
    at: datetime
    eta: Window | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """`status_changes`: record a checkpoint with the new status; `eta_changes`: only the ETA moves; neither:
    the observation is kept out, and `why` says why (for the log)."""

    status_changes: bool
    eta_changes: bool
    why: str

    @property
    def accepted(self) -> bool:
        return self.status_changes or self.eta_changes


def judge(known: Known | None, seen: Observation) -> Verdict:
    if known is None:
        return Verdict(True, False, "first news of this shipment")
    if known.status in FINAL:
        return Verdict(False, False, f"{known.status} is final")
    if seen.status is Status.CANCELLED:
        if STAGE[known.status] < STAGE[Status.PACKED]:
            return Verdict(True, False, "cancelled before packing")
        return Verdict(False, False, f"too late to cancel: already {known.status}")
    if seen.status is known.status:
        if seen.eta is not None and seen.eta != known.eta and seen.at >= known.at:
            return Verdict(False, True, "new ETA")
        return Verdict(False, False, "nothing new")
    if (seen.status is Status.PLANNED and known.status is Status.OUT_FOR_DELIVERY and seen.eta is not None
            and seen.eta != known.eta and seen.at >= known.at):
        return Verdict(False, True, "re-planned while out for delivery: the stop stays, its ETA moves")
    if seen.at < known.at and seen.status not in FINAL:
        return Verdict(False, False, f"older than the {known.status} of {known.at.isoformat()}")
    if known.status is Status.DELIVERY_FAILED and seen.status in RETRY_AFTER_FAILURE:
        return Verdict(True, False, "another delivery attempt")
    if STAGE[seen.status] >= STAGE[known.status]:
        return Verdict(True, False, "moves forward")
    return Verdict(False, False, f"{seen.status} would move {known.status} backwards")


def eta_after(known_eta: Window | None, verdict: Verdict, seen: Observation) -> Window | None:
    """The ETA once `seen` is taken in: a new one when it brings one; none once the parcel is no longer on
    its way to the customer (delivered, failed, returned, cancelled, back at the warehouse)."""
    if seen.eta is not None and verdict.accepted:
        return seen.eta
    if verdict.status_changes and seen.status in FINAL | {Status.DELIVERY_FAILED, Status.PACKED, Status.PICKING}:
        return None
    return known_eta


def delay(planned_arrival: datetime, scanned_at: datetime) -> timedelta:
    """How late the driver runs at a stop; running early never brings a promise forward (the customer may
    not be home before the window they were given)."""
    return max(scanned_at - planned_arrival, timedelta(0))


def moved_window(promised: Window, late_by: timedelta) -> Window:
    """The ETA of a later stop on the same route once the driver runs `late_by` behind the plan."""
    return promised.shifted(late_by)
