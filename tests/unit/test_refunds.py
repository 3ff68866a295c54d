"""Refund maths: never more than was paid, across any sequence of partial returns, and not a cent created or
lost by rounding. Window edges in the shop's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.returns.domain.refunds import (
    History,
    PaidLine,
    PaidOrder,
    RefundError,
    ReturnedUnits,
    cents,
    line_payments,
    refund,
)
from services.returns.domain.window import OrderedLine, ReturnCase, ReturnPolicy, day_of_window, refusals

REASONS = ["changed_mind", "damaged", "wrong_item", "not_as_described"]
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)


@st.composite
def orders(draw: st.DrawFn) -> PaidOrder:
    lines = tuple(PaidLine(str(i), draw(st.integers(1, 7)), draw(prices)) for i in range(draw(st.integers(1, 5))))
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    discount = draw(st.decimals(min_value=Decimal(0), max_value=subtotal, places=2))
    shipping = draw(st.decimals(min_value=Decimal(0), max_value=Decimal("30"), places=2))
    return PaidOrder(lines, discount, shipping)


@st.composite
def return_sequences(draw: st.DrawFn, order: PaidOrder) -> list[list[ReturnedUnits]]:
    """Partial returns, each of some remaining units, until perhaps everything is back."""
    left = {line.line_id: line.quantity for line in order.lines}
    sequence = []
    for _ in range(draw(st.integers(1, 6))):
        open_lines = [k for k, v in left.items() if v]
        if not open_lines:
            break
        chosen = draw(st.lists(st.sampled_from(open_lines), min_size=1, max_size=len(open_lines), unique=True))
        batch = []
        for line_id in chosen:
            quantity = draw(st.integers(1, left[line_id]))
            left[line_id] -= quantity
            batch.append(ReturnedUnits(line_id, quantity, draw(st.sampled_from(REASONS)), draw(st.booleans())))
        sequence.append(batch)
    return sequence


def run(order: PaidOrder, sequence: list[list[ReturnedUnits]], fee: Decimal) -> list[int]:
    history = History()
    totals = []
    for batch in sequence:
        done = refund(order, history, batch, fee)
        units = dict(history.units_refunded)
        for item in batch:
            units[item.line_id] = units.get(item.line_id, 0) + item.quantity
        history = History(units, history.shipping_refunded or done.shipping_cents > 0,
                          history.refunded_cents + done.total_cents)
        totals.append(done.total_cents)
    return totals


@given(orders())
def test_discount_spread_loses_no_cent(order: PaidOrder) -> None:
    subtotal = sum(cents(line.unit_price * line.quantity) for line in order.lines)
    payments = line_payments(order)
    assert sum(payments.values()) == subtotal - cents(order.discount)
    assert all(paid >= 0 for paid in payments.values())


@settings(max_examples=300)
@given(st.data())
def test_refunds_never_exceed_what_was_paid(data: st.DataObject) -> None:
    order = data.draw(orders())
    fee = data.draw(st.sampled_from([Decimal(0), Decimal(10), Decimal(15)]))
    totals = run(order, data.draw(return_sequences(order)), fee)
    assert sum(totals) <= order.paid_cents()
    assert all(total >= 0 for total in totals)


@settings(max_examples=300)
@given(st.data())
def test_everything_back_without_fees_refunds_exactly_what_was_paid(data: st.DataObject) -> None:
    order = data.draw(orders())
    left = {line.line_id: line.quantity for line in order.lines}
    sequence = data.draw(return_sequences(order))
    for batch in sequence:
        for item in batch:
            left[item.line_id] -= item.quantity
    rest = [ReturnedUnits(k, v, "changed_mind") for k, v in left.items() if v]
    totals = run(order, sequence + ([rest] if rest else []), Decimal(0))
    assert sum(totals) == order.paid_cents()


ORDER = PaidOrder((PaidLine("1", 3, Decimal("10.00")), PaidLine("2", 1, Decimal("20.00"))),
                  discount=Decimal("5.00"), shipping=Decimal("4.95"))


def test_a_line_refunds_its_share_after_the_discount() -> None:
    # 30.00 and 20.00 share a 5.00 discount 3:2, so line 1 paid 27.00: 9.00 a unit.
    done = refund(ORDER, History(), [ReturnedUnits("1", 1, "changed_mind")])
    assert done.total_cents == 900 and done.shipping_cents == 0


def test_shipping_comes_back_when_the_seller_was_at_fault() -> None:
    done = refund(ORDER, History(), [ReturnedUnits("2", 1, "damaged")])
    assert done.shipping_cents == 495 and done.total_cents == 1800 + 495


def test_restocking_fee_only_for_opened_changed_mind_units() -> None:
    opened = refund(ORDER, History(), [ReturnedUnits("1", 2, "changed_mind", opened=True)], Decimal(10))
    sealed = refund(ORDER, History(), [ReturnedUnits("1", 2, "changed_mind")], Decimal(10))
    faulty = refund(ORDER, History(), [ReturnedUnits("1", 2, "damaged", opened=True)], Decimal(10))
    assert (opened.fee_cents, sealed.fee_cents, faulty.fee_cents) == (180, 0, 0)
    assert any("restocking fee" in line for line in opened.explanation)


def test_more_units_than_remain_is_refused() -> None:
    with pytest.raises(RefundError, match="1 of 3 left"):
        refund(ORDER, History(units_refunded={"1": 2}), [ReturnedUnits("1", 2, "damaged")])


BRUSSELS = ReturnPolicy(window_days=30, time_zone="Europe/Brussels", final_sale_skus=frozenset({"SKU-SALE"}))
LINES = {"1": OrderedLine("SKU-RED", 3), "2": OrderedLine("SKU-SALE", 1)}


def case(requested: datetime, delivered: datetime | None = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)) -> ReturnCase:
    return ReturnCase(requested, delivered, LINES)


def test_day_30_is_in_and_day_31_is_out_in_the_shops_time_zone() -> None:
    # Delivered 22:30 UTC = 23:30 CET on 1 March: day 0 is 1 March in Brussels, whatever UTC says.
    assert day_of_window(datetime(2026, 3, 1, 22, 30, tzinfo=UTC), datetime(2026, 3, 31, 21, 59, tzinfo=UTC),
                         "Europe/Brussels") == 30  # 23:59 CEST on 31 March
    asked = [ReturnedUnits("1", 1, "changed_mind")]
    assert refusals(case(datetime(2026, 3, 31, 21, 59, tzinfo=UTC)), asked, BRUSSELS) == []
    late = refusals(case(datetime(2026, 3, 31, 22, 1, tzinfo=UTC)), asked, BRUSSELS)  # 00:01 on 1 April
    assert late == ["the 30-day return window closed: this is day 31 after delivery"]


def test_final_sale_undelivered_and_too_many_units_are_refused_with_reasons() -> None:
    now = datetime(2026, 3, 5, tzinfo=UTC)
    assert refusals(case(now, delivered=None), [ReturnedUnits("1", 1, "damaged")], BRUSSELS) == [
        "the order has not been delivered yet"]
    reasons = refusals(ReturnCase(now, datetime(2026, 3, 1, tzinfo=UTC), LINES, already={"1": 2}),
                       [ReturnedUnits("1", 2, "damaged"), ReturnedUnits("2", 1, "damaged")], BRUSSELS)
    assert reasons == ["line '1': 2 asked, 1 of 3 delivered can still be returned",
                       "line '2' (SKU-SALE) was a final sale"]
