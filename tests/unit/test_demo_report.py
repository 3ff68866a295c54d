"""The demo's latency figures: how an order's stage stamps are checked against the pipeline's order."""

from __future__ import annotations

from services.demo.report import latency_of, out_of_order
from services.demo.simulator import Outcome


def test_an_order_stamped_at_a_stage_before_the_one_that_causes_it_is_named() -> None:
    outcome = Outcome(placed_at={"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0},
                      reached={"accepted": {"a": 1.1, "b": 1.3, "c": 1.1},
                               "reserved": {"a": 1.2, "b": 1.2},
                               "delivered": {"a": 9.0, "c": 1.05}})
    # b reserved before accepted; c delivered before accepted; d placed and never seen again is in order
    assert out_of_order(outcome) == ["b", "c"]


def test_each_stage_has_its_own_population_so_medians_along_the_pipeline_need_not_rise() -> None:
    # two orders accepted fast and rejected for stock, one slow order reserved: the medians cross, the stamps
    # do not
    outcome = Outcome(placed_at={"a": 0.0, "b": 0.0, "c": 0.0},
                      reached={"accepted": {"a": 0.9, "b": 0.1, "c": 0.1}, "reserved": {"a": 0.95}})
    latency = latency_of(outcome)
    assert latency["accepted"] == {"orders": 3, "p50": 0.1, "p95": 0.9, "p99": 0.9}
    assert latency["reserved"]["orders"] == 1 and out_of_order(outcome) == []
