"""Who may return what: the window counts in whole days from delivery, in the shop's own time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.returns.domain.refunds import ReturnedUnits


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    window_days: int | None = 30  # None: no time limit
    time_zone: str = "UTC"
    final_sale_skus: frozenset[str] = frozenset()
    restocking_fee_pct: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderedLine:
    sku: str
    delivered: int


@dataclass(frozen=True, slots=True)
class ReturnCase:
    requested_at: datetime
    delivered_at: datetime | None
    lines: Mapping[str, OrderedLine]
    already: Mapping[str, int] = field(default_factory=dict)  # units returned or pending, per line


def day_of_window(delivered_at: datetime, requested_at: datetime, time_zone: str) -> int:
    """Day 0 is the delivery date, in the shop's zone: a parcel delivered at 23:30 local on the 1st and
    returned at 00:10 on the 31st is on day 30."""
    zone = ZoneInfo(time_zone)
    return (requested_at.astimezone(zone).date() - delivered_at.astimezone(zone).date()).days


def refusals(case: ReturnCase, asked: Sequence[ReturnedUnits], policy: ReturnPolicy) -> list[str]:
    """Every reason to refuse, each a sentence; none means authorised."""
    reasons: list[str] = []
    if case.delivered_at is None:
        return ["the order has not been delivered yet"]
    if policy.window_days is not None:
        day = day_of_window(case.delivered_at, case.requested_at, policy.time_zone)
        if day > policy.window_days:
            reasons.append(f"the {policy.window_days}-day return window closed: this is day {day} after delivery")
    counted: dict[str, int] = {}
    for item in asked:
        line = case.lines.get(item.line_id)
        if line is None:
            reasons.append(f"line {item.line_id!r} is not in the order")
            continue
        if line.sku in policy.final_sale_skus:
            reasons.append(f"line {item.line_id!r} ({line.sku}) was a final sale")
        counted[item.line_id] = counted.get(item.line_id, 0) + item.quantity
        left = line.delivered - case.already.get(item.line_id, 0)
        if counted[item.line_id] > left:
            reasons.append(f"line {item.line_id!r}: {counted[item.line_id]} asked, {left} of {line.delivered} "
                           f"delivered can still be returned")
    return reasons
