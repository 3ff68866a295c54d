"""Reading a solver's routes back as a plan with true (unrounded) distances and times, checking any plan
independently of the solver, and saying in words why a stop was left out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from services.routing.domain.problem import Problem, Vehicle, Window
from services.routing.domain.timeline import Day, drive

EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Visit:
    stop: int  # index into problem.stops
    arrival: float
    start: float  # service starts (after waiting for the window)
    eta: Window  # what the customer is told
    load_weight: float  # still on board after this stop
    load_volume: float


@dataclass(frozen=True, slots=True)
class Route:
    vehicle: int
    departure: float
    return_at: float
    distance: float
    visits: tuple[Visit, ...]
    rest_at: float | None = None
    """When the driver's break starts, if one is taken."""
    rest_after: int = -1
    """How many of the visits come before the break (-1: no break)."""

    @property
    def duration(self) -> float:
        return self.return_at - self.departure


@dataclass(frozen=True, slots=True)
class Dropped:
    stop: int
    code: str  # window_unreachable, no_vehicle_capacity, shift_too_short, other
    reason: str


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    dropped: tuple[Dropped, ...]

    @property
    def distance(self) -> float:
        return sum(route.distance for route in self.routes)

    @property
    def vehicles(self) -> int:
        return len(self.routes)


def _day(problem: Problem, vehicle: int, stops: Sequence[int], depart: float) -> Day[float]:
    m, v = problem.matrix, problem.vehicles[vehicle]
    rest = (v.rest.window.start, v.rest.window.end, v.rest.duration) if v.rest else None
    return drive(depart, [i + 1 for i in stops], lambda a, b: m.duration[a][b],
                 lambda n: problem.stops[n - 1].window.start, lambda n: problem.stops[n - 1].service, rest,
                 lambda n: problem.stops[n - 1].window.end + EPSILON)


def _leaves(problem: Problem, vehicle: Vehicle) -> float:
    """The earliest a van can leave: its shift has started and the depot is open."""
    return max(vehicle.shift.start, problem.depot_hours.start)


def _departure(problem: Problem, stops: Sequence[int], earliest: float) -> float:
    """Leave late enough not to wait at the first door: every service starts at the same time as if the
    driver had left at once, so nothing later moves."""
    first = stops[0]
    wait = problem.stops[first].window.start - (earliest + problem.matrix.duration[0][first + 1])
    return earliest + max(0.0, wait)


def read(problem: Problem, routes: Sequence[Sequence[int]], dropped: Sequence[int],
         eta_half_width: float = 1800.0) -> Plan:
    """`routes`: per vehicle, stop indices in visiting order (the solver's nodes minus one)."""
    m = problem.matrix
    planned = []
    for vehicle, stops in enumerate(routes):
        if not stops:
            continue
        earliest = _leaves(problem, problem.vehicles[vehicle])
        depart, day = earliest, _day(problem, vehicle, stops, earliest)
        later = _departure(problem, stops, earliest)
        if later > earliest:  # leaving later must not move any service (a break could fall elsewhere)
            late_day = _day(problem, vehicle, stops, later)
            if [s for _, s in late_day.visits] == [s for _, s in day.visits] and late_day.rest_fits:
                depart, day = later, late_day
        weight = sum(problem.stops[i].weight for i in stops)
        volume = sum(problem.stops[i].volume for i in stops)
        visits = []
        for i, (arrival, start) in zip(stops, day.visits, strict=True):
            weight -= problem.stops[i].weight
            volume -= problem.stops[i].volume
            w = problem.stops[i].window
            eta_start = max(w.start, start - eta_half_width)  # start ± the half width, inside the window
            eta = Window(eta_start, max(eta_start, min(w.end, start + eta_half_width)))
            visits.append(Visit(i, arrival, start, eta, max(0.0, weight), max(0.0, volume)))
        path = [0, *(i + 1 for i in stops), 0]
        distance = sum(m.distance[a][b] for a, b in pairwise(path))
        planned.append(Route(vehicle, depart, day.back, distance, tuple(visits), day.rest_at, day.rest_after))
    return Plan(tuple(planned), tuple(why_dropped(problem, i) for i in dropped))


def violations(problem: Problem, routes: Sequence[Sequence[int]]) -> list[str]:
    """Everything wrong with a plan, checked from the problem alone: each stop at most once, loads within
    capacity, service starting inside every window, and every vehicle back before its shift and the depot end."""
    problems: list[str] = []
    seen: dict[int, int] = {}
    for vehicle, stops in enumerate(routes):
        if not stops:
            continue
        v = problem.vehicles[vehicle]
        for i in stops:
            if i in seen:
                problems.append(f"stop {problem.stops[i].id} is on vehicles {seen[i]} and {vehicle}")
            seen[i] = vehicle
        weight = sum(problem.stops[i].weight for i in stops)
        volume = sum(problem.stops[i].volume for i in stops)
        if weight > v.capacity_weight + EPSILON:
            problems.append(f"vehicle {v.id} carries {weight:g} over its capacity {v.capacity_weight:g}")
        if volume > v.capacity_volume + EPSILON and volume > 0:
            problems.append(f"vehicle {v.id} carries volume {volume:g} over its capacity {v.capacity_volume:g}")
        day = _day(problem, vehicle, stops, _leaves(problem, v))
        if not day.rest_fits:
            problems.append(f"vehicle {v.id} has no place on its route to start its break inside its window")
        for i, (_, start) in zip(stops, day.visits, strict=True):
            if start > problem.stops[i].window.end + EPSILON:
                problems.append(f"stop {problem.stops[i].id} starts at {start:.4f}, after its window ends "
                                f"({problem.stops[i].window.end:g})")
        if day.back > min(v.shift.end, problem.depot_hours.end) + EPSILON:
            problems.append(f"vehicle {v.id} is back at {day.back:.4f}, after its shift or the depot closes")
    return problems


def why_dropped(problem: Problem, i: int) -> Dropped:
    """The first reason a dispatcher can act on, checked from the most to the least definite."""
    stop, m = problem.stops[i], problem.matrix
    if not problem.vehicles:
        return Dropped(i, "no_vehicle_capacity", "the depot has no vehicles")
    heaviest = max(v.capacity_weight for v in problem.vehicles)
    roomiest = max(v.capacity_volume for v in problem.vehicles)
    fits = [v for v in problem.vehicles if stop.weight <= v.capacity_weight + EPSILON
            and (stop.volume == 0 or stop.volume <= v.capacity_volume + EPSILON)]
    if not fits:
        return Dropped(i, "no_vehicle_capacity",
                       f"no vehicle can carry it: {stop.weight:g} kg and {stop.volume:g} m3, the largest vehicle "
                       f"takes {heaviest:g} kg and {roomiest:g} m3")
    out, back = m.duration[0][i + 1], m.duration[i + 1][0]
    earliest = min(_leaves(problem, v) for v in fits) + out
    if earliest > stop.window.end + EPSILON:
        return Dropped(i, "window_unreachable",
                       f"its delivery window ends {earliest - stop.window.end:.0f} s before the first vehicle "
                       f"could get there ({out:.0f} s from the depot)")
    for v in fits:
        start = max(_leaves(problem, v) + out, stop.window.start)
        if start <= stop.window.end + EPSILON and start + stop.service + back <= \
                min(v.shift.end, problem.depot_hours.end) + EPSILON:
            break
    else:
        return Dropped(i, "shift_too_short",
                       "no driver's shift is long enough to reach it within its window and come back")
    return Dropped(i, "other", "no room left in this wave: every vehicle that could take it is full or out of "
                              "time; it moves to the next wave with a higher priority")
