"""The problem as the integers a solver works with. Distances are scaled by 100 and rounded, travel times
are scaled by 100 and rounded up, windows are narrowed to whole units inward: a plan the solver finds
feasible is feasible with true distances and times. Every stop is optional at a large penalty, so one stop
that cannot be served never sinks the whole wave."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from services.routing.domain.problem import Problem

SCALE = 100  # distance and time units per true unit
LOAD_SCALE = 1000  # kg -> g, m3 -> litres


@dataclass(frozen=True, slots=True)
class VehicleModel:
    capacity: tuple[int, int]  # weight, volume
    shift: tuple[int, int]
    cost_per_unit: int  # per scaled distance unit, in hundredths of the vehicle's cost per km
    fixed_cost: int
    rest: tuple[int, int, int] | None  # earliest start, latest start, duration


@dataclass(frozen=True)
class IntModel:
    """Node 0 is the depot; node i is stop i - 1."""

    distance: list[list[int]]
    transit: list[list[int]]  # travel from i to j plus the service time at i
    service: list[int]
    windows: list[tuple[int, int]]
    loads: list[tuple[int, int]]
    vehicles: list[VehicleModel]
    penalties: list[int]  # for leaving node i out (0 for the depot)
    fixed: dict[int, tuple[int, int]]  # node -> (vehicle index, position)
    horizon: int


def _up(value: float) -> int:
    return math.ceil(value * SCALE - 1e-9)


def _down(value: float) -> int:
    return math.floor(value * SCALE + 1e-9)


def build(problem: Problem) -> IntModel:
    m = problem.matrix
    n = len(problem.stops) + 1
    distance = [[round(m.distance[i][j] * SCALE) for j in range(n)] for i in range(n)]
    service = [0.0] + [s.service for s in problem.stops]
    transit = [[_up(m.duration[i][j] + service[i]) if i != j else 0 for j in range(n)] for i in range(n)]
    hours = problem.depot_hours
    windows = [(_up(hours.start), _down(hours.end))] + [
        (_up(s.window.start), max(_up(s.window.start), _down(s.window.end))) for s in problem.stops]
    loads = [(0, 0)] + [(math.ceil(s.weight * LOAD_SCALE - 1e-9), math.ceil(s.volume * LOAD_SCALE - 1e-9))
                        for s in problem.stops]
    vehicles = []
    for v in problem.vehicles:
        rest = None
        if v.rest is not None:
            rest = (_up(v.rest.window.start), _down(v.rest.window.end), _up(v.rest.duration))
        vehicles.append(VehicleModel(
            capacity=(math.floor(v.capacity_weight * LOAD_SCALE + 1e-9), math.floor(v.capacity_volume * LOAD_SCALE + 1e-9)),
            shift=(max(_up(v.shift.start), windows[0][0]), min(_down(v.shift.end), windows[0][1])),
            cost_per_unit=round(v.cost_per_km * 100), fixed_cost=round(v.fixed_cost * 100 * SCALE), rest=rest))
    # Dropping a stop must cost more than any detour to serve it: twice the longest arc at the dearest rate,
    # plus a vehicle's fixed cost, times ten, and more for stops carried over from earlier waves.
    dearest = max((v.cost_per_unit for v in vehicles), default=1)
    base = 10 * (2 * max(max(row) for row in distance) * dearest + max((v.fixed_cost for v in vehicles), default=0) + 1)
    penalties = [0] + [base * (1 + s.priority) for s in problem.stops]
    ids = {v.id: k for k, v in enumerate(problem.vehicles)}
    fixed = {i + 1: (ids[s.fixed.vehicle_id], s.fixed.position) for i, s in enumerate(problem.stops)
             if s.fixed is not None and s.fixed.vehicle_id in ids}
    horizon = max([w[1] for w in windows] + [v.shift[1] for v in vehicles])
    return IntModel(distance, transit, [_up(t) for t in service], windows, loads, vehicles, penalties, fixed, horizon)


def fixed_routes(model: IntModel) -> dict[int, list[int]]:
    """Per vehicle, the nodes that must open its route, in order."""
    routes: dict[int, list[tuple[int, int]]] = {}
    for node, (vehicle, position) in model.fixed.items():
        routes.setdefault(vehicle, []).append((position, node))
    return {vehicle: [node for _, node in sorted(nodes)] for vehicle, nodes in routes.items()}


def route_cost(model: IntModel, vehicle: int, nodes: Sequence[int]) -> int:
    if not nodes:
        return 0
    path = [0, *nodes, 0]
    v = model.vehicles[vehicle]
    return v.fixed_cost + v.cost_per_unit * sum(model.distance[a][b] for a, b in pairwise(path))
