"""Where a driver's break goes (domain.timeline), against every place it could go, tried one by one: on random
small routes the sweep finds a place exactly when one exists that keeps every window, and the day it gives
ends as early as the best of them."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from services.routing.domain.timeline import drive


def brute_force(depart: int, nodes: list[int], travel: list[list[int]], opens: list[int], closes: list[int],
                service: list[int], rest: tuple[int, int, int]) -> int | None:
    """The earliest end of day over every place for the break (after k stops where the van stands, or on
    arriving at the next place), with every window kept; None when there is no such place."""
    earliest, latest, duration = rest
    path = [0, *nodes, 0]
    best = None
    for gap in range(len(path) - 1):
        for on_arrival in (False, True):
            t, ok, rest_at = depart, True, None
            for position, (a, b) in enumerate(pairwise(path)):
                if position == gap and not on_arrival:
                    rest_at = max(t, earliest)
                    t = rest_at + duration
                t += travel[a][b]
                if position == gap and on_arrival:
                    rest_at = max(t, earliest)
                    t = rest_at + duration
                if b != 0:
                    t = max(t, opens[b])
                    if t > closes[b]:
                        ok = False
                        break
                    t += service[b]
            if ok and rest_at is not None and rest_at <= latest and (best is None or t < best):
                best = t
    return best


@pytest.mark.parametrize("seed", range(300))
def test_the_sweep_finds_the_best_place_for_the_break_whenever_there_is_one(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 6)
    points = [(rng.randint(0, 40), rng.randint(0, 40)) for _ in range(n + 1)]
    travel = [[abs(a[0] - b[0]) + abs(a[1] - b[1]) for b in points] for a in points]
    opens = [0] + [rng.randint(0, 150) for _ in range(n)]
    closes = [10**6] + [o + rng.randint(0, 60) for o in opens[1:]]
    service = [0] + [rng.randint(0, 15) for _ in range(n)]
    start = rng.randint(20, 120)
    rest = (start, start + rng.randint(0, 40), rng.randint(5, 40))
    nodes = rng.sample(range(1, n + 1), n)
    day = drive(0, nodes, lambda a, b: travel[a][b], opens.__getitem__, service.__getitem__, rest,
                closes.__getitem__)
    plain = drive(0, nodes, lambda a, b: travel[a][b], opens.__getitem__, service.__getitem__)
    on_time = all(s <= closes[node] for node, (_, s) in zip(nodes, plain.visits, strict=True))
    if on_time and plain.back <= rest[0]:
        assert day.rest_at is None and day.back == plain.back, "back before the window opens: no break"
        return
    best = brute_force(0, nodes, travel, opens, closes, service, rest) if on_time else None
    found = day.rest_fits and all(s <= closes[node] for node, (_, s) in zip(nodes, day.visits, strict=True))
    assert found == (best is not None)
    if best is not None:
        assert day.back == best
        assert day.rest_at is not None and rest[0] <= day.rest_at <= rest[1]
