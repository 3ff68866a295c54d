"""Stock arithmetic: taking back promises, low-stock alerts, tracking numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.warehouse.domain.errors import WarehouseError
from services.warehouse.domain.stock import (
    CROCKFORD,
    Promise,
    Release,
    low_stock,
    on_hand_after_count,
    releases_for,
    tracking_number,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_promises_no_picker_holds_go_first_newest_first() -> None:
    promises = [
        Promise("S-old", "L1", 2, on_picklist=False, reserved_at=T0),
        Promise("S-new", "L1", 2, on_picklist=False, reserved_at=T0 + timedelta(minutes=5)),
        Promise("S-floor", "L1", 5, on_picklist=True, reserved_at=T0 + timedelta(minutes=9)),
    ]
    assert releases_for(3, promises) == [Release("S-new", "L1", 2), Release("S-old", "L1", 1)]
    assert releases_for(6, promises)[-1] == Release("S-floor", "L1", 2)
    assert releases_for(0, promises) == []


def test_cannot_take_back_more_than_is_unpicked() -> None:
    with pytest.raises(WarehouseError, match="only 1 unpicked"):
        releases_for(2, [Promise("S", "L", 1, False, T0)])


def test_a_count_sees_the_bin_and_totes_still_count() -> None:
    assert on_hand_after_count(4, picked_not_packed=3) == 7
    with pytest.raises(WarehouseError, match="got -1"):
        on_hand_after_count(-1, 0)


def test_low_stock_alerts_once_and_rearms_on_recovery() -> None:
    assert low_stock(available=2, reorder_point=3, alerted=False).alert
    assert not low_stock(available=1, reorder_point=3, alerted=True).alert
    rearmed = low_stock(available=3, reorder_point=3, alerted=True)
    assert not rearmed.alert and not rearmed.alerted


def test_tracking_numbers_are_long_random_and_catch_a_mistyped_character() -> None:
    number = tracking_number(bytes(range(10)))
    assert number.startswith("FL") and len(number) == 19 and set(number[2:]) <= set(CROCKFORD)
    assert tracking_number(bytes(range(10))) == number
    assert tracking_number(bytes(range(1, 11))) != number

    def check(candidate: str) -> bool:
        body = candidate[2:-1]
        return CROCKFORD[sum((2 * i + 1) * CROCKFORD.index(c) for i, c in enumerate(body)) % 32] == candidate[-1]

    assert check(number)
    for position in range(2, 18):
        for replacement in CROCKFORD:
            if replacement != number[position]:
                assert not check(number[:position] + replacement + number[position + 1:])
    with pytest.raises(WarehouseError):
        tracking_number(b"short")
