"""Refund maths, in whole cents so that no rounding ever creates or loses one.

What a customer paid for a line is its price times quantity less its share of the order-level discount
(spread over lines in proportion to their value, leftover cents by largest remainder). Each unit of a line
owns a fixed share of that, so partial returns add up exactly to the line's payment and can never exceed
it. Shipping comes back once: when the whole order has come back, or when the seller was at fault. A
restocking fee applies to opened units returned because the customer changed their mind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SELLER_FAULT = frozenset({"damaged", "wrong_item", "not_as_described"})


class RefundError(ValueError):
    """A return that cannot be refunded as asked (more units than remain, an unknown line)."""


def cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(ROUND_HALF_UP))


def money(amount_cents: int) -> Decimal:
    return (Decimal(amount_cents) * CENT).quantize(CENT)


@dataclass(frozen=True, slots=True)
class PaidLine:
    line_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class PaidOrder:
    lines: tuple[PaidLine, ...]
    discount: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    def paid_cents(self) -> int:
        return sum(line_payments(self).values()) + cents(self.shipping)


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights`, in whole units that sum to `total` exactly; leftover
    units go to the largest remainders, ties to the earlier weight."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[:total - sum(shares)]:
        shares[i] += 1
    return shares


def line_payments(order: PaidOrder) -> dict[str, int]:
    """Cents actually paid per line once the order-level discount is spread over the lines."""
    gross = [cents(line.unit_price * line.quantity) for line in order.lines]
    discount = min(cents(order.discount), sum(gross))
    return {line.line_id: g - d for line, g, d in zip(order.lines, gross, largest_remainder(discount, gross), strict=True)}


def unit_shares(paid: int, quantity: int) -> list[int]:
    """What each unit of a line is worth, in cents; the first units carry the odd cents."""
    return largest_remainder(paid, [1] * quantity)


@dataclass(frozen=True, slots=True)
class ReturnedUnits:
    line_id: str
    quantity: int
    reason: str
    opened: bool = False


@dataclass(frozen=True, slots=True)
class History:
    """What earlier refunds of the same order already paid back."""

    units_refunded: Mapping[str, int] = field(default_factory=dict)
    shipping_refunded: bool = False
    refunded_cents: int = 0


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: str
    quantity: int
    gross_cents: int
    fee_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.fee_cents


@dataclass(frozen=True, slots=True)
class Refund:
    lines: tuple[RefundLine, ...]
    shipping_cents: int
    total_cents: int
    explanation: tuple[str, ...]

    @property
    def fee_cents(self) -> int:
        return sum(line.fee_cents for line in self.lines)


def refund(order: PaidOrder, history: History, returned: Sequence[ReturnedUnits],
           restocking_fee_pct: Decimal = Decimal(0)) -> Refund:
    paid = line_payments(order)
    by_id = {line.line_id: line for line in order.lines}
    taken: dict[str, int] = dict(history.units_refunded)
    lines, said = [], []
    for item in returned:
        line = by_id.get(item.line_id)
        if line is None:
            raise RefundError(f"line {item.line_id!r} is not in the order")
        before = taken.get(item.line_id, 0)
        if item.quantity <= 0 or before + item.quantity > line.quantity:
            raise RefundError(f"line {item.line_id!r}: {item.quantity} more units asked, "
                              f"{line.quantity - before} of {line.quantity} left to return")
        gross = sum(unit_shares(paid[item.line_id], line.quantity)[before:before + item.quantity])
        taken[item.line_id] = before + item.quantity
        fee = 0
        if item.reason == "changed_mind" and item.opened and restocking_fee_pct:
            fee = cents(money(gross) * restocking_fee_pct / 100)
        lines.append(RefundLine(item.line_id, item.quantity, gross, fee))
        text = f"line {item.line_id}: {item.quantity} x, {money(gross)} paid after discount"
        said.append(text + (f", less a {restocking_fee_pct}% restocking fee of {money(fee)} (opened, changed mind)"
                            if fee else ""))
    whole_order_back = all(taken.get(line.line_id, 0) == line.quantity for line in order.lines)
    seller_fault = any(item.reason in SELLER_FAULT for item in returned)
    shipping = 0
    if not history.shipping_refunded and (whole_order_back or seller_fault):
        shipping = cents(order.shipping)
        if shipping:
            said.append(f"shipping {money(shipping)} refunded: "
                        + ("the whole order came back" if whole_order_back else "the seller was at fault"))
    total = sum(line.net_cents for line in lines) + shipping
    room = order.paid_cents() - history.refunded_cents
    if total > room:  # cannot happen by construction; the cap stands guard over the maths anyway
        said.append(f"capped at {money(room)}: never more than was paid")
        total = room
    said.append(f"total {money(total)}")
    return Refund(tuple(lines), shipping, total, tuple(said))
