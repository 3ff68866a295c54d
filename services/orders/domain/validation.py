"""Business rules an order must meet, each answered with a reason that names the field and the value.

The schema already guarantees types and shapes; these rules decide order.accepted vs order.rejected,
and every broken rule is reported, not just the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.orders import OrderPlaced, RejectionReason

MAX_QUANTITY = 10_000
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class OrderRules:
    """Per-deployment limits. `catalogue` None means any SKU is accepted."""

    catalogue: frozenset[str] | None = None
    max_window_days: int = 90
    min_lead: timedelta = timedelta(0)
    price_tolerance: Decimal = Decimal("0.01")


def _reason(field: str, code: str, message: str) -> RejectionReason:
    return RejectionReason(field=field, code=code, message=message)


def subtotal(order: OrderPlaced) -> Decimal:
    return sum((line.unit_price * line.quantity for line in order.lines), Decimal(0))


def _line_reasons(order: OrderPlaced, rules: OrderRules) -> Iterator[RejectionReason]:
    if not order.lines:
        yield _reason("lines", "no_lines", "lines must hold at least one line, got none")
    repeated = {line_id for line_id, n in Counter(line.line_id for line in order.lines).items() if n > 1}
    for i, line in enumerate(order.lines):
        where = f"lines[{i}]"
        if line.line_id in repeated:
            yield _reason(f"{where}.line_id", "duplicate_line_id",
                          f"{where}.line_id {line.line_id!r} appears more than once")
        if line.quantity <= 0:
            yield _reason(f"{where}.quantity", "quantity_not_positive",
                          f"{where}.quantity must be a positive integer, got {line.quantity}")
        elif line.quantity > MAX_QUANTITY:
            yield _reason(f"{where}.quantity", "quantity_too_large",
                          f"{where}.quantity must be at most {MAX_QUANTITY}, got {line.quantity}")
        if line.unit_price < 0:
            yield _reason(f"{where}.unit_price", "price_negative",
                          f"{where}.unit_price must not be negative, got {line.unit_price}")
        if rules.catalogue is not None and line.sku not in rules.catalogue:
            yield _reason(f"{where}.sku", "unknown_sku", f"{where}.sku {line.sku!r} is not in the catalogue")


def _money_reasons(order: OrderPlaced, rules: OrderRules) -> Iterator[RejectionReason]:
    if order.discount_total < 0:
        yield _reason("discount_total", "discount_negative",
                      f"discount_total must not be negative, got {order.discount_total}")
    if order.shipping_total < 0:
        yield _reason("shipping_total", "shipping_negative",
                      f"shipping_total must not be negative, got {order.shipping_total}")
    lines_total = subtotal(order)
    if order.discount_total > max(lines_total, Decimal(0)):
        yield _reason("discount_total", "discount_exceeds_subtotal",
                      f"discount_total {order.discount_total} exceeds the lines' subtotal {lines_total}")
    expected = lines_total - order.discount_total + order.shipping_total
    if abs(expected - order.total) > rules.price_tolerance:
        yield _reason("total", "total_mismatch",
                      f"total {order.total} does not match lines {lines_total} - discount {order.discount_total}"
                      f" + shipping {order.shipping_total} = {expected}")


def _address_reasons(order: OrderPlaced) -> Iterator[RejectionReason]:
    address = order.delivery_address
    for name, value, limit in (("latitude", address.latitude, 90), ("longitude", address.longitude, 180)):
        where = f"delivery_address.{name}"
        if value is None:
            yield _reason(where, "coordinates_missing", f"{where} is required for delivery routing, got none")
        elif not -limit <= value <= limit:
            yield _reason(where, "coordinates_out_of_range", f"{where} must be within ±{limit}, got {value}")


def _method_reasons(order: OrderPlaced) -> Iterator[RejectionReason]:
    if order.delivery_method == "collect" and order.collect_at is None:
        yield _reason("collect_at", "collect_point_missing",
                      "collect_at must name the warehouse or pickup point when delivery_method is collect")


def _time_reasons(order: OrderPlaced, rules: OrderRules, now: datetime) -> Iterator[RejectionReason]:
    window = order.delivery_window
    if order.placed_at > now + MAX_CLOCK_SKEW:
        yield _reason("placed_at", "placed_in_future", f"placed_at {order.placed_at.isoformat()} is in the future")
    if window.end <= window.start:
        yield _reason("delivery_window", "window_inverted",
                      f"delivery_window.end {window.end.isoformat()} must be after start {window.start.isoformat()}")
    earliest = now + rules.min_lead
    if window.start < earliest:
        yield _reason("delivery_window.start", "window_in_past",
                      f"delivery_window.start {window.start.isoformat()} must be at or after {earliest.isoformat()}")
    latest = now + timedelta(days=rules.max_window_days)
    if window.start > latest:
        yield _reason("delivery_window.start", "window_too_far",
                      f"delivery_window.start {window.start.isoformat()} is more than {rules.max_window_days}"
                      " days ahead")


def validate_order(order: OrderPlaced, rules: OrderRules, now: datetime) -> list[RejectionReason]:
    """Every reason the order cannot be accepted; empty when it can."""
    return [
        *_line_reasons(order, rules),
        *_money_reasons(order, rules),
        *_address_reasons(order),
        *_method_reasons(order),
        *_time_reasons(order, rules, now),
    ]
