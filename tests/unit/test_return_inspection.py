"""Receiving and inspecting returned units: nothing beyond what was authorised, units waiting for processing
hold the refund back, and a later inspection settles them rather than counting them twice."""

from __future__ import annotations

import pytest

from services.returns.domain.inspection import (
    CROCKFORD,
    Inspected,
    InspectionError,
    inspect,
    ready_to_refund,
    receive,
    rma_number,
    settled,
    waiting,
)

AUTHORISED = {"1": 2, "2": 1}


def test_more_units_than_authorised_cannot_be_received_or_inspected() -> None:
    assert receive(AUTHORISED, {"1": 1}, [("1", 1)]) == {"1": 2}
    with pytest.raises(InspectionError, match="line '1': 3 units received in all, only 2 were authorised"):
        receive(AUTHORISED, {"1": 2}, [("1", 1)])
    with pytest.raises(InspectionError, match="line '9' is not part of this return"):
        receive(AUTHORISED, {}, [("9", 1)])
    with pytest.raises(InspectionError, match="3 units inspected in all"):
        inspect(AUTHORISED, {}, [Inspected("1", 2, "restock"), Inspected("1", 1, "write_off")])


def test_units_waiting_for_processing_hold_the_refund_until_settled() -> None:
    first = inspect(AUTHORISED, {}, [Inspected("1", 2, "needs_processing"), Inspected("2", 1, "restock")])
    assert waiting(first) == 2 and not ready_to_refund({"1": 2, "2": 1}, first)
    # The second look settles the waiting units instead of adding two more.
    second = inspect(AUTHORISED, first, [Inspected("1", 1, "restock"), Inspected("1", 1, "write_off")])
    assert second["1"] == {"restock": 1, "write_off": 1, "needs_processing": 0}
    assert settled(second) == {"1": 2, "2": 1}
    assert ready_to_refund({"1": 2, "2": 1}, second)


def test_every_received_unit_must_be_inspected_before_the_refund() -> None:
    part = inspect(AUTHORISED, {}, [Inspected("1", 1, "restock")])
    assert not ready_to_refund({"1": 2}, part)
    assert ready_to_refund({"1": 1}, part)  # one unit came back: it alone is refunded
    assert not ready_to_refund({}, {})  # nothing inspected: nothing to refund yet


def test_rma_numbers_are_readable_and_cover_60_bits() -> None:
    assert rma_number(0) == "RMA-000000000000"
    assert rma_number(2**60 - 1) == "RMA-ZZZZZZZZZZZZ"
    number = rma_number(0x0123456789ABCDE)
    assert len(number) == 16 and set(number[4:]) <= set(CROCKFORD)
