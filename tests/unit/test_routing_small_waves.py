"""Small waves are answered quickly and well: a tiny wave exactly (checked against a plain enumeration of every
plan on random instances with windows, capacities, two kinds of van and a driver's break), and the search stops
by itself when it stops finding better plans, yet never stops early on a wave that is still improving."""

from __future__ import annotations

import random
from itertools import permutations, product

import pytest

from services.routing.domain.exact import exact_plan
from services.routing.domain.model import IntModel, build, route_cost
from services.routing.domain.problem import Break, Euclidean, Fixed, Point, Problem, Stop, Vehicle, Window
from services.routing.domain.ruin_recreate import Search, improve
from services.routing.solver import RouteSolver, SolverParams


def random_model(seed: int, stops: int) -> IntModel:
    rng = random.Random(seed)
    points = [Point(rng.randint(-10, 10), rng.randint(-10, 10)) for _ in range(stops)]
    windows = []
    for _ in range(stops):
        opens = rng.randint(0, 60)
        windows.append(Window(opens, opens + rng.choice((5, 15, 40, 200))))
    vans = [Vehicle("cheap", 4, 10.0, Window(0, 120), cost_per_km=1, fixed_cost=30),
            Vehicle("big", 8, 10.0, Window(0, 150), cost_per_km=2, fixed_cost=10, rest=Break(Window(30, 50), 15))]
    return build(Problem.build(Point(0, 0), Window(0, 150), [
        Stop(f"S{i}", at, w, service=2, weight=rng.randint(1, 4), priority=rng.randint(0, 1))
        for i, (at, w) in enumerate(zip(points, windows, strict=True))], vans, Euclidean()))


def feasible(model: IntModel, search: Search, k: int, route: tuple[int, ...]) -> bool:
    """The search's own full test of one route (windows, shift and break by domain.timeline) plus capacity."""
    v = model.vehicles[k]
    return (sum(model.loads[i][0] for i in route) <= v.capacity[0]
            and sum(model.loads[i][1] for i in route) <= v.capacity[1] and search.fits(k, route))


def brute_force(model: IntModel) -> int:
    """Every assignment of every stop to a van or to nobody, every order on each van."""
    n, vans = len(model.distance) - 1, len(model.vehicles)
    search, best = Search(model, [[] for _ in range(vans)]), None
    for owners in product(range(-1, vans), repeat=n):
        cost = sum(model.penalties[i + 1] for i in range(n) if owners[i] == -1)
        for k in range(vans):
            mine = [i + 1 for i in range(n) if owners[i] == k]
            options = [route_cost(model, k, order) for order in permutations(mine) if feasible(model, search, k, order)]
            if not options:
                break
            cost += min(options)
        else:
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(12))
def test_a_tiny_wave_is_planned_exactly(seed: int) -> None:
    model = random_model(seed, stops=5)
    routes, left, objective = exact_plan(model)  # type: ignore[misc]
    assert objective == brute_force(model)
    search = Search(model, [[] for _ in model.vehicles])
    assert all(feasible(model, search, k, tuple(r)) for k, r in enumerate(routes))
    assert objective == sum(route_cost(model, k, r) for k, r in enumerate(routes)) + sum(model.penalties[i] for i in left)
    assert sorted([i for r in routes for i in r] + left) == list(range(1, 6))


def test_the_search_never_beats_the_exact_plan() -> None:
    for seed in range(6):
        model = random_model(100 + seed, stops=6)
        _, _, objective = exact_plan(model)  # type: ignore[misc]
        start: list[list[int]] = [[] for _ in model.vehicles]
        routes, left, _ = improve(model, start, lambda: 1.0, seed, 10.0, 0.1, patience=2000)
        found = sum(route_cost(model, k, r) for k, r in enumerate(routes)) + sum(model.penalties[i] for i in left)
        assert found >= objective


def test_waves_too_large_or_already_out_are_left_to_the_search() -> None:
    assert exact_plan(random_model(1, stops=7)) is None
    rng = random.Random(3)
    stops = [Stop(f"S{i}", Point(rng.randint(0, 9), rng.randint(0, 9)), Window(0, 500)) for i in range(3)]
    out = Problem.build(Point(0, 0), Window(0, 500), [stops[0], Stop("F", Point(1, 1), Window(0, 500), fixed=Fixed("V", 0))],
                        [Vehicle("V", 10, 10.0, Window(0, 500))], Euclidean())
    assert exact_plan(build(out)) is None
    raw = RouteSolver().solve(build(out), SolverParams(time_limit_s=5))
    assert raw.routes[0][0] == 2 and raw.dropped == []


def test_the_solver_says_a_tiny_wave_is_optimal() -> None:
    raw = RouteSolver().solve(random_model(7, stops=4), SolverParams(time_limit_s=3600))
    assert raw.status == "optimal" and raw.iterations == 0


def test_the_search_stops_when_it_stops_improving() -> None:
    calls = 0

    def forever() -> float:  # a clock that never runs out, unless the search never stops by itself
        nonlocal calls
        calls += 1
        return 1.0 if calls < 1_000_000 else 0.0

    model = random_model(5, stops=9)
    _, _, iterations = improve(model, [[] for _ in model.vehicles], forever, 1, 10.0, 0.1, patience=200)
    assert 200 <= iterations < 1_000_000


def test_patience_counts_from_the_last_better_plan() -> None:
    """A search that keeps finding better plans is not stopped by its patience."""
    rng = random.Random(9)
    stops = [Stop(f"S{i}", Point(rng.uniform(-50, 50), rng.uniform(-50, 50)), Window(0, 10_000)) for i in range(40)]
    model = build(Problem.build(Point(0, 0), Window(0, 10_000), stops,
                                [Vehicle(f"V{k}", 100, 100.0, Window(0, 10_000)) for k in range(4)], Euclidean()))
    zigzag = [list(range(1 + k, 41, 4)) for k in range(4)]
    search = Search(model, zigzag, seed=1)
    budget = iter(range(400, -1, -1))
    search.run(lambda: float(next(budget)), 50.0 * 100, 0.5 * 100, patience=5)
    assert search.iterations > 5  # a zig-zag of forty stops improves more often than every fifth try


def plain_model(seed: int, stops: int, vans: list[Vehicle]) -> IntModel:
    rng = random.Random(seed)
    return build(Problem.build(Point(0, 0), Window(0, 400), [
        Stop(f"S{i}", Point(rng.randint(-20, 20), rng.randint(-20, 20)), Window(o := rng.randint(0, 200), o + 60),
             service=3, weight=rng.randint(1, 5), volume=rng.uniform(0.1, 1.0)) for i in range(stops)],
        vans, Euclidean()))


@pytest.mark.parametrize("seed", range(4))
def test_pyvrp_plans_a_wave_its_model_covers_on_the_vans_it_was_given(seed: int) -> None:
    """Two kinds of van, each route on a van of the right kind (capacity, shift and cost are the van's own), every
    route feasible by the search's own full test, and what is left out is what could not be served."""
    vans = [Vehicle(f"small-{k}", 6, 3.0, Window(0, 300), fixed_cost=5) for k in range(3)] + [
        Vehicle(f"big-{k}", 20, 10.0, Window(50, 400), cost_per_km=2) for k in range(2)]
    model = plain_model(seed, 40, vans)
    raw = RouteSolver().solve(model, SolverParams(time_limit_s=2, patience=0))
    assert raw.status == "pyvrp" and raw.iterations > 0
    search = Search(model, [[] for _ in model.vehicles])
    assert all(feasible(model, search, k, tuple(r)) for k, r in enumerate(raw.routes))
    assert sorted([i for r in raw.routes for i in r] + raw.dropped) == list(range(1, 41))
    assert raw.objective == sum(route_cost(model, k, r) for k, r in enumerate(raw.routes)) + sum(
        model.penalties[i] for i in raw.dropped)


def test_pyvrp_leaves_out_a_stop_nobody_can_reach_instead_of_sinking_the_wave() -> None:
    vans = [Vehicle("V", 100, 100.0, Window(0, 100))]
    stops = [Stop(f"S{i}", Point(i, 0), Window(0, 100)) for i in range(1, 9)] + [
        Stop("far", Point(500, 0), Window(0, 100))]
    model = build(Problem.build(Point(0, 0), Window(0, 100), stops, vans, Euclidean()))
    raw = RouteSolver().solve(model, SolverParams(time_limit_s=2))
    assert raw.status == "pyvrp" and raw.dropped == [9]
    assert sorted(raw.routes[0]) == list(range(1, 9))


def test_breaks_and_stops_already_out_go_to_the_search_that_models_them() -> None:
    with_break = random_model(3, stops=9)  # its big van has a driver's break
    assert RouteSolver().solve(with_break, SolverParams(time_limit_s=1)).status != "pyvrp"
    plain = plain_model(1, 9, [Vehicle("V", 100, 100.0, Window(0, 400))])
    assert RouteSolver().solve(plain, SolverParams(time_limit_s=1, engine="ortools")).status != "pyvrp"


def test_pyvrp_on_a_small_wave_stops_when_it_stops_improving() -> None:
    model = plain_model(2, 12, [Vehicle(f"V{k}", 100, 100.0, Window(0, 400)) for k in range(3)])
    raw = RouteSolver().solve(model, SolverParams(time_limit_s=60))
    assert raw.status == "pyvrp" and raw.seconds < 30 and raw.dropped == []
