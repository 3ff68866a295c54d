"""The status guard: late, reordered and repeated news never move a shipment backwards; ETAs move with the
driver's delay."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from services.tracking.domain.status import (
    Known,
    Observation,
    Status,
    Window,
    delay,
    eta_after,
    judge,
    moved_window,
    order_status,
    status_text,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def replay(observations: list[Observation]) -> Known | None:
    known: Known | None = None
    for seen in observations:
        verdict = judge(known, seen)
        if verdict.accepted:
            eta = eta_after(known.eta if known else None, verdict, seen)
            known = Known(seen.status, seen.at, eta) if verdict.status_changes else Known(known.status, known.at, eta)  # type: ignore[union-attr]
    return known


JOURNEY = [
    Observation(Status.ALLOCATED, at(0)), Observation(Status.PICKING, at(10)), Observation(Status.PACKED, at(30)),
    Observation(Status.PLANNED, at(40), Window(at(120), at(180))), Observation(Status.OUT_FOR_DELIVERY, at(90)),
    Observation(Status.DELIVERED, at(150)),
]


def test_the_journey_in_order_ends_delivered() -> None:
    known = replay(JOURNEY)
    assert known is not None and known.status is Status.DELIVERED and known.eta is None


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(JOURNEY))))[::37])
def test_any_arrival_order_ends_delivered(order: tuple[int, ...]) -> None:
    known = replay([JOURNEY[i] for i in order])
    assert known is not None and known.status is Status.DELIVERED


def test_a_late_out_for_delivery_scan_leaves_delivered_alone() -> None:
    known = Known(Status.DELIVERED, at(150))
    verdict = judge(known, Observation(Status.OUT_FOR_DELIVERY, at(90)))
    assert not verdict.accepted and "final" in verdict.why


def test_a_repeated_scan_changes_nothing() -> None:
    known = Known(Status.OUT_FOR_DELIVERY, at(90))
    assert not judge(known, Observation(Status.OUT_FOR_DELIVERY, at(90))).accepted


def test_older_news_does_not_overwrite_newer() -> None:
    known = Known(Status.OUT_FOR_DELIVERY, at(90))
    assert not judge(known, Observation(Status.PLANNED, at(40), Window(at(120), at(180)))).accepted


def test_another_attempt_after_a_failure_is_taken_but_not_an_older_one() -> None:
    failed = Known(Status.DELIVERY_FAILED, at(150))
    assert judge(failed, Observation(Status.OUT_FOR_DELIVERY, at(24 * 60))).status_changes
    assert not judge(failed, Observation(Status.OUT_FOR_DELIVERY, at(90))).accepted


def test_a_failure_reported_after_the_next_attempt_started_is_kept_out() -> None:
    second_attempt = Known(Status.OUT_FOR_DELIVERY, at(24 * 60))
    assert not judge(second_attempt, Observation(Status.DELIVERY_FAILED, at(150), reason="no_one_home")).accepted


def test_cancelling_is_possible_only_before_packing() -> None:
    assert judge(Known(Status.PICKING, at(10)), Observation(Status.CANCELLED, at(20))).status_changes
    refused = judge(Known(Status.PACKED, at(30)), Observation(Status.CANCELLED, at(40)))
    assert not refused.accepted and "too late" in refused.why


def test_a_re_plan_moves_the_eta_of_a_planned_stop() -> None:
    known = Known(Status.PLANNED, at(40), Window(at(120), at(180)))
    verdict = judge(known, Observation(Status.PLANNED, at(60), Window(at(150), at(210))))
    assert verdict.eta_changes and not verdict.status_changes


def test_a_re_plan_keeps_an_out_for_delivery_stop_but_moves_its_eta() -> None:
    known = Known(Status.OUT_FOR_DELIVERY, at(90), Window(at(120), at(180)))
    verdict = judge(known, Observation(Status.PLANNED, at(100), Window(at(130), at(190))))
    assert verdict.eta_changes and not verdict.status_changes


def test_eta_is_dropped_once_the_parcel_is_no_longer_on_its_way() -> None:
    known = Known(Status.OUT_FOR_DELIVERY, at(90), Window(at(120), at(180)))
    seen = Observation(Status.DELIVERY_FAILED, at(150), reason="refused")
    assert eta_after(known.eta, judge(known, seen), seen) is None


def test_the_driver_running_late_moves_later_windows_but_early_never_brings_them_forward() -> None:
    promised = Window(at(120), at(180))
    assert moved_window(promised, delay(at(100), at(125))) == Window(at(145), at(205))
    assert moved_window(promised, delay(at(100), at(80))) == promised


def test_status_text_says_why_a_delivery_failed() -> None:
    assert status_text(Status.DELIVERY_FAILED, "no_one_home") == "Delivery attempt failed: no one was home"
    assert status_text(Status.OUT_FOR_DELIVERY) == "Out for delivery"


def test_an_orders_status_is_the_furthest_stage_of_its_live_shipments() -> None:
    assert order_status(False, 0, []) is Status.ACCEPTED
    assert order_status(False, 2, []) is Status.BACKORDERED
    assert order_status(False, 1, [Status.PLANNED, Status.ALLOCATED]) is Status.PLANNED, "not 'accepted'"
    assert order_status(False, 0, [Status.DELIVERED, Status.PLANNED]) is Status.DELIVERED
    assert order_status(False, 0, [Status.CANCELLED, Status.PICKING]) is Status.PICKING, "a cancelled shipment is moved"
    assert order_status(False, 0, [Status.RETURNED_TO_SENDER, Status.DELIVERED]) is Status.DELIVERED
    assert order_status(True, 0, [Status.PICKING]) is Status.CANCELLED
