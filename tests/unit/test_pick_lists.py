"""Walking order and batch pick lists."""

from __future__ import annotations

import pytest

from services.warehouse.domain.errors import WarehouseError
from services.warehouse.domain.pick_path import Location, walking_order
from services.warehouse.domain.picklists import WaveLine, build_pick_lines


def loc(zone: str, aisle: int, bay: int, level: int = 1) -> Location:
    return Location(zone, aisle, bay, level, f"{zone}-{aisle:02d}-{bay:02d}-{level}")


def test_serpentine_up_the_first_visited_aisle_and_down_the_next() -> None:
    stops = [loc("A", 3, 1), loc("A", 1, 9), loc("A", 3, 7), loc("A", 1, 2), loc("A", 2, 5), loc("A", 2, 1)]
    assert [(x.aisle, x.bay) for x in walking_order(stops)] == [(1, 2), (1, 9), (2, 5), (2, 1), (3, 1), (3, 7)]


def test_the_serpentine_counts_visited_aisles_not_aisle_numbers() -> None:
    stops = [loc("A", 1, 1), loc("A", 1, 5), loc("A", 4, 1), loc("A", 4, 5)]
    assert [(x.aisle, x.bay) for x in walking_order(stops)] == [(1, 1), (1, 5), (4, 5), (4, 1)]


def test_zones_in_order_and_levels_bottom_up_within_a_bay() -> None:
    stops = [loc("B", 1, 1), loc("A", 1, 1, level=3), loc("A", 1, 1, level=1)]
    assert [(x.zone, x.level) for x in walking_order(stops)] == [("A", 1), ("A", 3), ("B", 1)]


def test_lines_are_aggregated_by_bin_across_orders_with_a_tote_per_order() -> None:
    shelf, far_shelf = loc("A", 2, 4), loc("A", 1, 1)
    pick = build_pick_lines([
        WaveLine("O-1", "SKU-1", 2, shelf), WaveLine("O-2", "SKU-1", 3, shelf), WaveLine("O-2", "SKU-9", 1, far_shelf),
    ])
    assert [(p.sequence, p.location.bin, p.sku, p.quantity) for p in pick] == [
        (1, far_shelf.bin, "SKU-9", 1), (2, shelf.bin, "SKU-1", 5)]
    assert [(t.order, t.tote, t.quantity) for t in pick[1].totes] == [("O-1", "T01", 2), ("O-2", "T02", 3)]
    assert pick[0].totes[0].tote == "T02"  # the tote follows the order, whichever line is picked first


def test_an_empty_wave_is_refused() -> None:
    with pytest.raises(WarehouseError):
        build_pick_lines([])
