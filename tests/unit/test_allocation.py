"""The allocation rule chain, on small instances you can check by hand."""

from __future__ import annotations

import pytest

from services.warehouse.domain.allocation import Line, Policy, Rule, Site, allocate, distance_km
from services.warehouse.domain.errors import WarehouseError

CUSTOMER = (52.52, 13.40)  # Berlin
NEAR = Site("W-NEAR", 52.50, 13.40, priority=5)  # ~2 km
MID = Site("W-MID", 52.40, 13.06, priority=1)  # ~27 km
FAR = Site("W-FAR", 48.14, 11.58, priority=1)  # Munich, ~500 km
SITES = [NEAR, MID, FAR]


def lines(*spec: tuple[str, int]) -> list[Line]:
    return [Line(f"L{i}", sku, qty) for i, (sku, qty) in enumerate(spec, 1)]


def stock(**by_site: dict[str, int]) -> dict[tuple[str, str], int]:
    return {(site, sku): units for site, skus in by_site.items() for sku, units in skus.items()}


def test_the_whole_order_from_the_only_warehouse_that_can_serve_it_even_when_it_is_far() -> None:
    available = stock(**{"W-NEAR": {"A": 5}, "W-MID": {"B": 5}, "W-FAR": {"A": 5, "B": 5}})
    plan = allocate(lines(("A", 2), ("B", 1)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert [s.warehouse_id for s in plan.shipments] == ["W-FAR"]
    assert plan.rule is Rule.SINGLE_WAREHOUSE and not plan.backordered
    assert "W-FAR can ship the whole order" in plan.explanation


def test_among_warehouses_that_can_ship_whole_the_nearest_wins() -> None:
    available = stock(**{"W-NEAR": {"A": 5}, "W-MID": {"A": 5}, "W-FAR": {"A": 5}})
    plan = allocate(lines(("A", 2)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert [s.warehouse_id for s in plan.shipments] == ["W-NEAR"]
    assert plan.rule is Rule.SHORTEST_DISTANCE
    assert "nearest" in plan.explanation and "W-MID" in plan.explanation


def test_priority_breaks_a_tie_in_distance() -> None:
    twin_a, twin_b = Site("W-A", 52.0, 13.0, priority=2), Site("W-B", 52.0, 13.0, priority=1)
    plan = allocate(lines(("A", 1)), CUSTOMER, [twin_a, twin_b], stock(**{"W-A": {"A": 1}, "W-B": {"A": 1}}),
                    Policy.SHIP_AVAILABLE)
    assert plan.shipments[0].warehouse_id == "W-B" and plan.rule is Rule.PRIORITY


def test_a_split_uses_the_fewest_warehouses_before_the_nearest_ones() -> None:
    # NEAR+MID would need three shipments with FAR's C; FAR alone has B and C, so NEAR/MID + FAR is two.
    available = stock(**{"W-NEAR": {"A": 1}, "W-MID": {"B": 1}, "W-FAR": {"B": 1, "C": 1}})
    plan = allocate(lines(("A", 1), ("B", 1), ("C", 1)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert sorted(s.warehouse_id for s in plan.shipments) == ["W-FAR", "W-NEAR"]
    assert plan.rule is Rule.FEWEST_SHIPMENTS and not plan.backordered
    far = next(s for s in plan.shipments if s.warehouse_id == "W-FAR")
    assert sorted(line.sku for line in far.lines) == ["B", "C"]


def test_between_equally_small_splits_the_shorter_total_distance_wins() -> None:
    available = stock(**{"W-NEAR": {"A": 1}, "W-MID": {"B": 1}, "W-FAR": {"B": 1}})
    plan = allocate(lines(("A", 1), ("B", 1)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert sorted(s.warehouse_id for s in plan.shipments) == ["W-MID", "W-NEAR"]
    assert plan.rule is Rule.SHORTEST_DISTANCE


def test_a_line_is_split_only_when_no_chosen_warehouse_can_fill_it_alone() -> None:
    available = stock(**{"W-NEAR": {"A": 3}, "W-MID": {"A": 4}})
    plan = allocate(lines(("A", 6)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    taken = {(s.warehouse_id, line.sku): line.quantity for s in plan.shipments for line in s.lines}
    assert taken == {("W-NEAR", "A"): 3, ("W-MID", "A"): 3}
    whole = allocate(lines(("A", 4)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert [(s.warehouse_id, s.lines[0].quantity) for s in whole.shipments] == [("W-MID", 4)]


def test_ship_available_ships_what_is_there_and_backorders_the_rest() -> None:
    available = stock(**{"W-NEAR": {"A": 2}})
    plan = allocate(lines(("A", 5), ("B", 1)), CUSTOMER, SITES, available, Policy.SHIP_AVAILABLE)
    assert [(s.warehouse_id, s.lines) for s in plan.shipments] == [("W-NEAR", (Line("L1", "A", 2),))]
    assert plan.backordered == (Line("L1", "A", 3), Line("L2", "B", 1))
    assert "4 unit(s) on 2 line(s) are not in stock" in plan.explanation


def test_ship_complete_holds_the_whole_order_when_anything_is_missing() -> None:
    available = stock(**{"W-NEAR": {"A": 9}})
    plan = allocate(lines(("A", 5), ("B", 1)), CUSTOMER, SITES, available, Policy.SHIP_COMPLETE)
    assert plan.shipments == () and plan.rule is Rule.HELD_FOR_COMPLETE
    assert plan.backordered == (Line("L1", "A", 5), Line("L2", "B", 1))


def test_nothing_in_stock_anywhere_backorders_everything() -> None:
    plan = allocate(lines(("A", 1)), CUSTOMER, SITES, {}, Policy.SHIP_AVAILABLE)
    assert plan.rule is Rule.NO_STOCK and plan.backordered == (Line("L1", "A", 1),)


def test_never_plans_more_than_available_and_accounts_for_every_unit() -> None:
    import random
    rng = random.Random(7)
    sites = [Site(f"W{i}", 50 + rng.random(), 10 + rng.random(), rng.randint(1, 3)) for i in range(6)]
    for _ in range(300):
        available = {(s.warehouse_id, f"S{k}"): rng.randint(-1, 4) for s in sites for k in range(5)}
        order = [Line(f"L{i}", f"S{rng.randint(0, 4)}", rng.randint(1, 6)) for i in range(rng.randint(1, 5))]
        plan = allocate(order, (50.5, 10.5), sites, available, Policy.SHIP_AVAILABLE)
        for key, units in plan.taken().items():
            assert units <= max(0, available.get(key, 0))
        for line in order:
            shipped = sum(x.quantity for s in plan.shipments for x in s.lines if x.line_id == line.line_id)
            waiting = sum(x.quantity for x in plan.backordered if x.line_id == line.line_id)
            assert shipped + waiting == line.quantity


def test_an_empty_order_or_a_bad_quantity_is_refused_with_a_sentence() -> None:
    with pytest.raises(WarehouseError, match="at least one line"):
        allocate([], CUSTOMER, SITES, {}, Policy.SHIP_AVAILABLE)
    with pytest.raises(WarehouseError, match="line L9: quantity must be positive, got 0"):
        Line("L9", "A", 0)


def test_distance_is_great_circle_kilometres() -> None:
    assert distance_km(52.52, 13.405, 48.137, 11.575) == pytest.approx(504, abs=2)  # Berlin-Munich
