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


def drive(depart: N, nodes: Sequence[int], travel: Callable[[int, int], N], opens: Callable[[int], N],
          service: Callable[[int], N], rest: tuple[N, N, N] | None = None,
          closes: Callable[[int], N] | None = None) -> Day[N]:
    """`nodes` are the stops' node numbers (0 is the depot); `rest` is (earliest start, latest start,
    duration); `closes` gives a stop's latest service start: a place for the break that would make a stop
    late is no place for it (without `closes`, none is).

    The search calls this for every insertion it tries into a van with a break, so it is written for speed:
    plain lists, and no new place is looked at once the break's window has closed."""
    plain: list[tuple[N, N]] = []
    # Per place, the earliest day with the break taken: (arrival, service start, or back at the depot the day's
    # end; break start; taken on arrival; taken just before this place), or None where no such day exists.
    rested: list[tuple[N, N, N | None, bool, bool] | None] = []
    free, free_rested, here = depart, None, 0
    earliest, latest, duration = rest if rest is not None else (None, None, None)
    for node in [*nodes, 0]:
        leg = travel(here, node)
        arrive = free + leg
        best: tuple[N, N, N | None, bool, bool] | None = None
        if free_rested is not None:
            moved = free_rested + leg
            best = (moved, moved, None, False, False)
        if earliest is not None and latest is not None and duration is not None and free <= latest:
            at_place = free if free > earliest else earliest  # where the van stands, once done
            reached = at_place + duration + leg
            if best is None or reached < best[1]:
                best = (reached, reached, at_place, False, True)
            on_arrival = arrive if arrive > earliest else earliest  # on arriving at the next place
            if on_arrival <= latest and on_arrival + duration < best[1]:
                best = (arrive, on_arrival + duration, on_arrival, True, True)
        if node == 0:
            rested.append(best)
            return _home(plain, rested, arrive, rest)
        opening = opens(node)
        start = arrive if arrive > opening else opening
        plain.append((arrive, start))
        free = start + service(node)
        free_rested = None
        if best is not None:
            begin = best[1] if best[1] > opening else opening
            if closes is None or begin <= closes(node):
                free_rested = begin + service(node)
                best = (best[0], begin, best[2], best[3], best[4])
            else:
                best = None
        rested.append(best)
        here = node
    raise AssertionError("unreachable")


def _home(plain: list[tuple[N, N]], rested: list[tuple[N, N, N | None, bool, bool] | None], back: N,
          rest: tuple[N, N, N] | None) -> Day[N]:
    """The day with no break when none is needed; else the one with the break taken at its best place: the
    stops before that place as without it, the rest as with it."""
    end = rested[-1]
    if rest is None or back <= rest[0]:
        return Day(plain, back, None, True)
    if end is None:
        return Day(plain, back, None, False)
    where = len(rested) - 1
    while True:  # a day with the break comes from one with it, back to the place where it was taken
        step = rested[where]
        assert step is not None
        if step[4]:
            break
        where -= 1
    visits = plain[:where]
    for later in rested[where:-1]:
        assert later is not None
        visits.append((later[0], later[1]))
    return Day(visits, end[1], step[2], True, where, step[3])
