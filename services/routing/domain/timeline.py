"""A van's day along its route: when it arrives at each stop, when service starts (after waiting for the
window) and when it is back. A driver's break follows one rule everywhere (solver, plan, checks): it is taken
as soon as its window is open and the driver is free: before a drive that would otherwise end after the window
opened, or while waiting at a door for a delivery window; a route back before the window opens needs none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Day(Generic[N]):
    visits: list[tuple[N, N]]  # (arrival, service start) per stop
    back: N
    rest_at: N | None  # when the break starts, if one was taken
    rest_fits: bool  # False: the break had to start after its window closed


def drive(depart: N, nodes: Sequence[int], travel: Callable[[int, int], N], opens: Callable[[int], N],
          service: Callable[[int], N], rest: tuple[N, N, N] | None = None) -> Day[N]:
    """`nodes` are the stops' node numbers (0 is the depot); `rest` is (earliest start, latest start,
    duration)."""
    visits: list[tuple[N, N]] = []
    t, here, rest_at, fits = depart, 0, None, True
    for node in [*nodes, 0]:
        arrive = t + travel(here, node)
        if rest is not None and rest_at is None and arrive > rest[0]:
            rest_at = max(t, rest[0])
            fits = rest_at <= rest[1]
            t = rest_at + rest[2]
            arrive = t + travel(here, node)
        if node == 0:
            return Day(visits, arrive, rest_at, fits)
        start = max(arrive, opens(node))
        if rest is not None and rest_at is None and max(arrive, rest[0]) < start:  # free at the door, waiting
            rest_at = max(arrive, rest[0])
            fits = rest_at <= rest[1]
            start = max(start, rest_at + rest[2])
        visits.append((arrive, start))
        t, here = start + service(node), node
    raise AssertionError("unreachable")
