"""A van's day along its route: when it arrives at each stop, when service starts (after waiting for the
window), when the driver takes the break and when the day ends. One rule everywhere (solver, plan, checks).

A break is taken as drivers take it: at a place, never mid-drive, starting anywhere inside its window: at the
depot before leaving, at a stop on arrival (while waiting for its window, say) or after its service, or back
at the depot. Of all those places the day takes the one that lets every later stop be served earliest
(arriving later never helps a window), found in one sweep that keeps two days side by side: the earliest one
with the break still to take, and the earliest one with it taken. A van back at the depot before the break's
window opens needs no break: the driver's day is over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Day(Generic[N]):
    visits: list[tuple[N, N]]  # (arrival, service start) per stop
    back: N
    """When the day ends at the depot: the van's return, or the end of a break taken there."""
    rest_at: N | None  # when the break starts, if one is taken
    rest_fits: bool  # False: no place on the route lets the break start inside its window
    rest_after: int = -1
    """How many stops are served before the break (-1: none taken)."""
    rest_on_arrival: bool = False
    """True: taken on arriving at the next place (the next stop, or the depot at the end), before its service;
    False: where the van stands after the last stop served (or at the depot before leaving)."""


@dataclass(frozen=True, slots=True)
class _Rested(Generic[N]):
    """The earliest way to reach a place with the break behind, and whether the break went in just before it."""

    arrive: N
    ready: N  # when service can start (or, back at the depot, when the day ends), windows aside
    rest_at: N | None
    on_arrival: bool
    new: bool


def drive(depart: N, nodes: Sequence[int], travel: Callable[[int, int], N], opens: Callable[[int], N],
          service: Callable[[int], N], rest: tuple[N, N, N] | None = None,
          closes: Callable[[int], N] | None = None) -> Day[N]:
    """`nodes` are the stops' node numbers (0 is the depot); `rest` is (earliest start, latest start,
    duration); `closes` gives a stop's latest service start: a place for the break that would make a stop
    late is no place for it (without `closes`, none is)."""
    plain: list[tuple[N, N]] = []
    openings: list[N] = []
    rested: list[_Rested[N] | None] = []
    free, free_rested, here = depart, None, 0
    for node in [*nodes, 0]:
        arrive = free + travel(here, node)
        best: _Rested[N] | None = None
        if free_rested is not None:
            moved = free_rested + travel(here, node)
            best = _Rested(moved, moved, None, False, False)
        if rest is not None:
            earliest, latest, duration = rest
            where_it_stands = max(free, earliest)
            if where_it_stands <= latest:
                reached = where_it_stands + duration + travel(here, node)
                if best is None or reached < best.ready:
                    best = _Rested(reached, reached, where_it_stands, False, True)
            on_arrival = max(arrive, earliest)
            if on_arrival <= latest and (best is None or on_arrival + duration < best.ready):
                best = _Rested(arrive, on_arrival + duration, on_arrival, True, True)
        rested.append(best)
        if node == 0:
            return _home(plain, openings, rested, arrive, rest)
        opening = opens(node)
        openings.append(opening)
        start = max(arrive, opening)
        plain.append((arrive, start))
        free = start + service(node)
        free_rested = None
        if best is not None and (closes is None or max(best.ready, opening) <= closes(node)):
            free_rested = max(best.ready, opening) + service(node)
        else:
            rested[-1] = None
        here = node
    raise AssertionError("unreachable")


def _home(plain: list[tuple[N, N]], openings: list[N], rested: list[_Rested[N] | None], back: N,
          rest: tuple[N, N, N] | None) -> Day[N]:
    """The day with no break when none is needed; else the one with the break taken at its best place: the
    stops before that place as without it, the rest as with it."""
    if rest is None or back <= rest[0]:
        return Day(plain, back, None, True)
    end = rested[-1]
    if end is None:
        return Day(plain, back, None, False)
    where = len(rested) - 1
    while True:
        step = rested[where]
        assert step is not None
        if step.new:
            break
        where -= 1
    taken = rested[where]
    assert taken is not None
    visits = plain[:where]
    for i in range(where, len(plain)):
        step = rested[i]
        assert step is not None
        visits.append((step.arrive, max(step.ready, openings[i])))
    return Day(visits, end.ready, taken.rest_at, True, where, taken.on_arrival)
