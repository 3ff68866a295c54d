"""A dispatch wave as a vehicle routing problem with time windows. Times are seconds from the wave's origin
(any unit works as long as windows, service and travel agree: the Solomon benchmark uses its own)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a window cannot end ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True, slots=True)
class Point:
    x: float  # longitude, or a plane coordinate
    y: float  # latitude


@dataclass(frozen=True, slots=True)
class Fixed:
    """A stop already done or out for delivery: it stays on this vehicle at this place in the route."""

    vehicle_id: str
    position: int


@dataclass(frozen=True, slots=True)
class Stop:
    id: str
    at: Point
    window: Window
    service: float = 0.0
    weight: float = 0.0
    volume: float = 0.0
    priority: int = 0  # waves this stop was already carried over: a higher priority costs more to drop
    fixed: Fixed | None = None


@dataclass(frozen=True, slots=True)
class Break:
    """A driver's break: `duration` long, starting somewhere in `window`."""

    window: Window
    duration: float


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str
    capacity_weight: float
    capacity_volume: float
    shift: Window
    cost_per_km: float = 1.0
    fixed_cost: float = 0.0
    rest: Break | None = None


@dataclass(frozen=True, slots=True)
class Matrix:
    """Distances (km, or the benchmark's unit) and travel times between locations: index 0 is the depot, then
    the stops in order."""

    distance: Sequence[Sequence[float]]
    duration: Sequence[Sequence[float]]


class TravelTimes(Protocol):
    """Where distances and travel times come from; a road network can be plugged in behind this."""

    def matrix(self, points: Sequence[Point]) -> Matrix: ...


def great_circle_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.y, a.x, b.y, b.x))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class GreatCircle:
    """Great-circle distance times a road factor, over an average speed."""

    road_factor: float = 1.3
    speed_kmh: float = 30.0

    def matrix(self, points: Sequence[Point]) -> Matrix:
        import numpy as np  # a 1,000-stop wave is a million pairs: vectorised, well under a second

        lat = np.radians([p.y for p in points])[:, None]
        lon = np.radians([p.x for p in points])[:, None]
        h = np.sin((lat.T - lat) / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin((lon.T - lon) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.road_factor
        return Matrix(km.tolist(), (km * (3600.0 / self.speed_kmh)).tolist())


@dataclass(frozen=True, slots=True)
class Euclidean:
    """Plane distance, travelled at one unit per time unit: the Solomon benchmark's convention."""

    def matrix(self, points: Sequence[Point]) -> Matrix:
        distance = [[math.hypot(a.x - b.x, a.y - b.y) for b in points] for a in points]
        return Matrix(distance, distance)


@dataclass(frozen=True)
class Problem:
    depot: Point
    depot_hours: Window
    stops: Sequence[Stop]
    vehicles: Sequence[Vehicle]
    matrix: Matrix = field(repr=False)

    @classmethod
    def build(cls, depot: Point, depot_hours: Window, stops: Sequence[Stop], vehicles: Sequence[Vehicle],
              travel: TravelTimes) -> Problem:
        return cls(depot, depot_hours, stops, vehicles, travel.matrix([depot, *(s.at for s in stops)]))
