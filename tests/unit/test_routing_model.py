"""The routing model on small hand-made instances whose optimum is known: windows, capacities, shifts, fixed
stops, the integer model's safe rounding, reading a plan back, and the reason a dropped stop gets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.routing.domain.model import SCALE, build, fixed_routes
from services.routing.domain.plan import read, violations, why_dropped
from services.routing.domain.problem import Euclidean, Fixed, Point, Problem, Stop, Vehicle, Window
from services.routing.solver import RouteSolver, SolverParams
from services.routing.waves import solve

WIDE = Window(0, 1000)
FAST = SolverParams(time_limit_s=1)


def van(vehicle_id: str = "V1", capacity: float = 10, shift: Window = WIDE) -> Vehicle:
    return Vehicle(vehicle_id, capacity, 1.0, shift)


def problem(stops: list[Stop], vehicles: list[Vehicle] | None = None, hours: Window = WIDE) -> Problem:
    return Problem.build(Point(0, 0), hours, stops, vehicles or [van()], Euclidean())


def stop(stop_id: str, x: float, y: float, window: Window = WIDE, weight: float = 1, **extra: object) -> Stop:
    return Stop(stop_id, Point(x, y), window, weight=weight, **extra)  # type: ignore[arg-type]


def ids(p: Problem, plan_routes: tuple) -> list[list[str]]:
    return [[p.stops[v.stop].id for v in route.visits] for route in plan_routes]


def test_capacity_splits_two_arms_into_two_out_and_back_routes() -> None:
    p = problem([stop("N1", 0, 10, weight=5), stop("N2", 0, 20, weight=5), stop("E1", 10, 0, weight=5),
                 stop("E2", 20, 0, weight=5)], [van("V1"), van("V2")])
    plan, _ = solve(p, FAST)
    assert plan.distance == pytest.approx(80)  # the optimum: 2 x (20 out, 20 back)
    assert sorted(sorted(route) for route in ids(p, plan.routes)) == [["E1", "E2"], ["N1", "N2"]]
    assert [v.load_weight for v in plan.routes[0].visits] == [5, 0]  # what is still on board after each stop
    assert not plan.dropped and violations(p, [[v.stop for v in r.visits] for r in plan.routes]) == []


def test_windows_decide_the_order_even_against_distance() -> None:
    p = problem([stop("NEAR", 0, 10, Window(40, 60)), stop("FAR", 0, 20, Window(0, 25))])
    plan, _ = solve(p, FAST)
    assert ids(p, plan.routes) == [["FAR", "NEAR"]]
    far, near = plan.routes[0].visits
    assert (far.arrival, near.arrival, near.start) == (20, 30, 40)  # waits at NEAR's door until 40
    assert plan.distance == pytest.approx(40)


def test_departure_waits_at_the_depot_not_at_the_first_door() -> None:
    p = problem([stop("A", 0, 10, Window(100, 200))])
    plan = read(p, [[0]], [], eta_half_width=30)
    route = plan.routes[0]
    assert (route.departure, route.visits[0].arrival, route.return_at) == (90, 100, 110)
    assert (route.visits[0].eta.start, route.visits[0].eta.end) == (100, 130)  # clipped to the window


def test_an_unreachable_stop_is_dropped_with_its_reason_and_the_rest_routed() -> None:
    late = stop("LATE", 0, 50, Window(0, 30))  # 50 away, window closes at 30
    heavy = stop("HEAVY", 0, 5, weight=50)
    far = stop("FAR", 0, 600)  # reachable in its window, but no shift lasts the 1,200 there and back
    p = problem([stop("A", 0, 10), late, heavy, far, stop("B", 10, 10)])
    plan, _ = solve(p, FAST)
    assert sorted(sum(ids(p, plan.routes), [])) == ["A", "B"]
    reasons = {p.stops[d.stop].id: (d.code, d.reason) for d in plan.dropped}
    assert reasons["LATE"][0] == "window_unreachable" and "20 s before the first vehicle" in reasons["LATE"][1]
    assert reasons["HEAVY"] == ("no_vehicle_capacity", "no vehicle can carry it: 50 kg and 0 m3, the largest "
                                "vehicle takes 10 kg and 1 m3")
    assert reasons["FAR"][0] == "shift_too_short"


def test_a_stop_that_only_lacks_room_is_left_for_the_next_wave() -> None:
    p = problem([stop("A", 0, 10, weight=8), stop("B", 0, 11, weight=8)])
    plan, _ = solve(p, FAST)
    assert len(plan.dropped) == 1 and plan.dropped[0].code == "other"
    assert "moves to the next wave" in why_dropped(p, plan.dropped[0].stop).reason


def test_fixed_stops_keep_their_van_and_order() -> None:
    # Cheapest would be one van doing A then B; B is already out for delivery on V2, first on its route.
    p = problem([stop("A", 0, 10), stop("B", 0, 20, fixed=Fixed("V2", 1))], [van("V1"), van("V2")])
    assert fixed_routes(build(p)) == {1: [2]}
    plan, _ = solve(p, FAST)
    routes = {p.vehicles[r.vehicle].id: ids(p, (r,))[0] for r in plan.routes}
    assert routes["V2"][0] == "B"


def test_shifts_bound_the_routes() -> None:
    p = problem([stop("A", 0, 10), stop("B", 0, -10)], [van("V1", shift=Window(0, 25)), van("V2", shift=Window(0, 25))])
    plan, _ = solve(p, FAST)
    assert plan.vehicles == 2 and all(r.return_at <= 25 for r in plan.routes)


def test_the_integer_model_rounds_only_towards_feasible() -> None:
    p = problem([stop("A", 0.004, 10.0031, Window(10.001, 20.009), weight=1.0001)], hours=Window(0, 99.999))
    m = build(p)
    assert m.windows[1] == (1001, 2000)  # start rounded up, end rounded down
    assert m.transit[0][1] == 1001 and m.transit[0][1] >= 10.0031 * SCALE  # travel rounded up
    assert m.loads[1] == (1001, 0) and m.vehicles[0].capacity == (10000, 1000)
    carried = Problem.build(Point(0, 0), WIDE, [stop("A", 0, 1, priority=2)], [van()], Euclidean())
    assert build(carried).penalties[1] == 3 * build(problem([stop("A", 0, 1)])).penalties[1]


def test_violations_are_found_without_the_solver() -> None:
    p = problem([stop("A", 0, 10, Window(0, 5), weight=6), stop("B", 0, 20, weight=6)], [van("V1"), van("V2")])
    found = violations(p, [[0, 1], [1]])
    assert "stop B is on vehicles 0 and 1" in found
    assert any("over its capacity" in f for f in found) and any("after its window ends" in f for f in found)


def test_solver_reports_what_it_did() -> None:
    raw = RouteSolver().solve(build(problem([stop("A", 0, 10)])), FAST)
    assert raw.routes == [[1]] and raw.dropped == [] and raw.status in ("local_optimum", "time_limit_reached", "optimal")


def _clock(seconds: float) -> Callable[[], float]:  # a deadline for the search, as the solver gives it
    import time
    end = time.monotonic() + seconds
    return lambda: end - time.monotonic()


def test_ruin_and_recreate_untangles_a_bad_plan_and_stays_feasible() -> None:
    from services.routing.domain.ruin_recreate import improve
    # Two arms of four stops; the starting plan zig-zags between them on two vans.
    north = [stop(f"N{i}", 0, 10 * i, weight=2) for i in range(1, 5)]
    east = [stop(f"E{i}", 10 * i, 0, weight=2) for i in range(1, 5)]
    p = problem(north + east, [van("V1"), van("V2"), van("V3")])
    m = build(p)
    zigzag = [[1, 5, 2, 6], [3, 7, 4, 8], []]
    routes, left, iterations = improve(m, zigzag, _clock(0.5))
    assert left == [] and iterations > 10
    assert violations(p, [[n - 1 for n in r] for r in routes]) == []
    assert sorted(sorted(r) for r in routes if r) == [[1, 2, 3, 4], [5, 6, 7, 8]]  # the optimum: one van per arm


def test_ruin_and_recreate_keeps_fixed_prefixes_and_places_the_unplaced() -> None:
    from services.routing.domain.ruin_recreate import improve
    p = problem([stop("A", 0, 10), stop("B", 0, 20, fixed=Fixed("V2", 1)), stop("C", 0, 30)],
                [van("V1"), van("V2")])
    routes, left, _ = improve(build(p), [[1], [2]], _clock(0.3))  # C starts unplaced
    assert left == [] and routes[1][0] == 2 and sorted(routes[0] + routes[1]) == [1, 2, 3]


def test_a_drivers_break_goes_where_it_keeps_every_window_and_one_rule_holds_everywhere() -> None:
    """A 30-long break starting between 15 and 25, taken at a place, never mid-drive."""
    from services.routing.domain.problem import Break
    from services.routing.domain.ruin_recreate import improve
    resting = Vehicle("V1", 10, 1, WIDE, rest=Break(Window(15, 25), 30))
    p = problem([stop("A", 0, 10), stop("B", 0, 20, Window(0, 40)), stop("D", 0, 50, Window(50, 60))], [resting])
    alone = read(p, [[0]], [])
    # A at 10, back at 20: the break is taken back at the depot, 20-50 (at A it would end the day at 55)
    assert (alone.routes[0].visits[0].arrival, alone.routes[0].rest_at, alone.routes[0].return_at) == (10, 20, 50)
    both = read(p, [[0, 1]], [])
    # B must start by 40: the break waits until B is served (20), rather than start at A at 15 and make B late
    assert [v.start for v in both.routes[0].visits] == [10, 20]
    assert (both.routes[0].rest_at, both.routes[0].rest_after, both.routes[0].return_at) == (20, 2, 70)
    assert violations(p, [[0, 1]]) == []
    # D opens at 50, 40 from A: at A the break ends at 45, too late for D's 60; on arrival at D (50) it is past 25
    assert any("no place on its route to start its break" in v for v in violations(p, [[0, 2]]))
    assert any("no place on its route" in v for v in violations(p, [[2]])), "nor straight to D: no van reaches it"
    routes, left, _ = improve(build(p), [[1, 2, 3]], _clock(0.2))
    assert sorted(routes[0]) == [1, 2] and left == [3]