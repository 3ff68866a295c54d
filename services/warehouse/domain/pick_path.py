"""Walking order through a warehouse: zone by zone, aisle by aisle, serpentine.

A picker goes up the first aisle they visit and down the next, so bays are ascending in every
other visited aisle and descending in the ones between; within a bay, levels go bottom up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Location:
    zone: str
    aisle: int
    bay: int
    level: int
    bin: str


def walking_order(locations: Iterable[Location]) -> list[Location]:
    """The locations in the order a picker walks them (duplicates kept next to each other)."""
    items = sorted(locations)
    visited: dict[str, list[int]] = {}
    for location in items:
        aisles = visited.setdefault(location.zone, [])
        if not aisles or aisles[-1] != location.aisle:
            aisles.append(location.aisle)
    rank = {(zone, aisle): i for zone, aisles in visited.items() for i, aisle in enumerate(aisles)}

    def key(location: Location) -> tuple[str, int, int, int, str]:
        upwards = rank[(location.zone, location.aisle)] % 2 == 0
        bay = location.bay if upwards else -location.bay
        return (location.zone, location.aisle, bay, location.level, location.bin)

    return sorted(items, key=key)
