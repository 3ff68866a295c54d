"""The order's life, with guarded transitions: late or reordered events never move an order backwards."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.orders.domain.errors import IllegalTransition


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALLOCATED = "allocated"
    BACKORDERED = "backordered"
    PICKING = "picking"
    PACKED = "packed"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    ALLOCATE = "allocate"  # stock.reserved
    BACKORDER = "backorder"  # order.backordered
    START_PICKING = "start_picking"  # picklist.issued
    PACK = "pack"  # shipment.packed
    CANCEL = "cancel"  # a shop's cancellation, when allowed


S = OrderStatus
TRANSITIONS: dict[Trigger, dict[OrderStatus, OrderStatus]] = {
    Trigger.ALLOCATE: {S.ACCEPTED: S.ALLOCATED, S.BACKORDERED: S.ALLOCATED, S.ALLOCATED: S.ALLOCATED},
    Trigger.BACKORDER: {S.ACCEPTED: S.BACKORDERED, S.ALLOCATED: S.BACKORDERED, S.BACKORDERED: S.BACKORDERED},
    Trigger.START_PICKING: {S.ACCEPTED: S.PICKING, S.ALLOCATED: S.PICKING, S.BACKORDERED: S.PICKING,
                           S.PICKING: S.PICKING},
    Trigger.PACK: {S.PICKING: S.PACKED, S.PACKED: S.PACKED},
    Trigger.CANCEL: {S.ACCEPTED: S.CANCELLED, S.ALLOCATED: S.CANCELLED, S.BACKORDERED: S.CANCELLED},
}

CANCELLABLE = frozenset(TRANSITIONS[Trigger.CANCEL])
TERMINAL = frozenset({S.REJECTED, S.CANCELLED})


def next_status(current: OrderStatus, trigger: Trigger) -> OrderStatus:
    """The status after `trigger`, or IllegalTransition naming both."""
    allowed = TRANSITIONS[trigger]
    if current not in allowed:
        raise IllegalTransition(
            f"cannot {trigger.value} an order that is {current.value}; allowed from {sorted(s.value for s in allowed)}")
    return allowed[current]


@dataclass(frozen=True)
class CancellationDecision:
    """Either the order is cancelled, or it is refused with a code and a sentence; `ignore` for repeats."""

    cancel: bool
    code: str = ""
    message: str = ""
    ignore: bool = False


def decide_cancellation(status: OrderStatus | None) -> CancellationDecision:
    """`status` is that of the requesting shop's own order by that id (None: the shop has none; another shop's
    order under the same id is a different order and is never looked at)."""
    if status is None:
        return CancellationDecision(False, "unknown_order", "this shop has placed no order with this id")
    if status == S.CANCELLED:
        return CancellationDecision(False, ignore=True)
    if status in CANCELLABLE:
        return CancellationDecision(True)
    if status in (S.PICKING, S.PACKED):
        return CancellationDecision(False, "picking_started",
                                    f"the order is {status.value}: picking has started, so it can no longer be cancelled")
    return CancellationDecision(False, "not_cancellable", f"the order is {status.value} and cannot be cancelled")
