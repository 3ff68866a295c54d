"""The compiled search keeps the rules the Python code states: its break test answers as domain.timeline's drive
on every route, and its iterations never lose a stop, never break a window, a capacity, a shift, a break or a
locked prefix, and report the plan's true cost."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.routing.domain import ruin_recreate_kernels as kernels
from services.routing.domain.model import IntModel, build, route_cost
from services.routing.domain.problem import Break, Euclidean, Fixed, Point, Problem, Stop, Vehicle, Window
from services.routing.domain.ruin_recreate import Search


def model_with_breaks(seed: int, stops: int = 14, locked: bool = False, line: bool = False) -> IntModel:
    """Random stops, windows, vans and breaks; on a `line` every time is a whole number, so a van often arrives
    exactly as a window or a break's window opens or closes, where an off-by-one would show."""
    rng = random.Random(seed)
    rows = []
    for i in range(stops):
        opens = rng.randint(0, 150)
        fixed = Fixed("V0", i) if locked and i < 2 else None
        at = Point(rng.randint(-40, 40), 0) if line else Point(rng.randint(-15, 15), rng.randint(-15, 15))
        rows.append(Stop(f"S{i}", at,
                         Window(opens, opens + rng.choice((10, 30, 80, 300))), service=rng.choice((0, 3, 5)),
                         weight=rng.randint(1, 4), volume=rng.choice((0.0, 0.2)), fixed=fixed))
    vans = [Vehicle(f"V{k}", rng.randint(8, 20), 2.0, Window(rng.choice((0, 20)), rng.choice((250, 320))),
                    cost_per_km=rng.choice((1, 2)), fixed_cost=rng.choice((0, 20)),
                    rest=Break(Window(w := rng.randint(40, 120), w + rng.choice((0, 15, 60))), rng.choice((10, 30)))
                    if k % 3 else None)
            for k in range(4)]
    return build(Problem.build(Point(0, 0), Window(0, 320), rows, vans, Euclidean()))


def kernel_fits(search: Search, k: int, route: list[int], insert_at: int = -1, u: int = 0) -> bool:
    a, v = search.arrays, search.m.vehicles[k]
    assert v.rest is not None
    array = np.array(route or [0], dtype=np.int64)
    return bool(kernels.break_fits(array, len(route), insert_at, u, v.shift[0], v.shift[1], a["transit"],
                                   a["service"], a["opens"], a["closes"], *v.rest))


@pytest.mark.parametrize("seed", range(12))
def test_the_compiled_break_test_answers_as_the_timeline_does(seed: int) -> None:
    model = model_with_breaks(seed, line=seed % 2 == 1)
    search = Search(model, [[] for _ in model.vehicles])
    rng = random.Random(seed)
    checked = {True: 0, False: 0}
    for _ in range(1500):
        k = rng.choice([k for k, v in enumerate(model.vehicles) if v.rest is not None])
        route = rng.sample(range(1, len(model.distance)), rng.randint(0, 6))
        expected = search.fits(k, route)
        assert kernel_fits(search, k, route) == expected, (k, route)
        checked[expected] += 1
        if route:  # the same route reached by inserting its stop at position `at` into the rest
            at = rng.randrange(len(route))
            rest = route[:at] + route[at + 1:]
            assert kernel_fits(search, k, rest, at, route[at]) == expected, (k, route, at)
    assert checked[True] > 20 and checked[False] > 20  # both answers were put to the test


@pytest.mark.parametrize("seed", range(6))
def test_iterations_keep_every_stop_and_every_rule(seed: int) -> None:
    model = model_with_breaks(100 + seed, stops=18, locked=seed % 2 == 0)
    start: list[list[int]] = [[] for _ in model.vehicles]
    if seed % 2 == 0:
        start[0] = [1, 2]  # the locked prefix, as a re-plan starts
    search = Search(model, start, seed=seed)
    clock = iter(range(60, -1, -1))
    routes, left, cost = search.run(lambda: float(next(clock)), 5000.0, 50.0)
    n = len(model.distance)
    assert sorted([i for r in routes for i in r] + left) == list(range(1, n))
    assert cost == sum(route_cost(model, k, r) for k, r in enumerate(routes)) + sum(model.penalties[i] for i in left)
    for k, route in enumerate(routes):
        v = model.vehicles[k]
        assert sum(model.loads[i][0] for i in route) <= v.capacity[0]
        assert sum(model.loads[i][1] for i in route) <= v.capacity[1]
        assert search.fits(k, route) if v.rest is not None else plain_fits(model, k, route)
    if seed % 2 == 0:
        assert routes[0][:2] == [1, 2]
    assert search.iterations > 100


def plain_fits(model: IntModel, k: int, route: list[int]) -> bool:
    v = model.vehicles[k]
    t, here = v.shift[0], 0
    for node in route:
        t = max(t + model.transit[here][node], model.windows[node][0])
        if t > model.windows[node][1]:
            return False
        here = node
    return t + model.transit[here][0] <= v.shift[1]
