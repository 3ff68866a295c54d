"""The Solomon VRPTW benchmark: the routing service's own solver path (the same problem, model building,
search and plan reading as a dispatch wave) against PyVRP and VROOM on the same instances, each with
the same time budget on one thread. Distances are recomputed from each solver's routes with true (unrounded)
distances, and every plan is checked independently (capacity, windows with service times, each customer
exactly once, back before the depot closes). Gaps are to the distance-minimising best known solution.

    python bench/routing/solomon.py                        # the 12 benchmark instances, 10 s each
    python bench/routing/solomon.py --time-limit 60 --only fulfil
    python bench/routing/solomon.py path/to/*.vrp --bks path/to/bks.csv --set all
    python bench/routing/solomon.py --breaks --only fulfil --only vroom   # every van a break, as real waves have

With --breaks every van's driver takes a break of 30 (the instance's time units) starting between 40% and 60%
of the horizon (the depot's closing time), at a place and never mid-drive: the waves production plans. PyVRP has
no breaks and is left out; VROOM gets the same breaks. Those plans are checked by `check_breaks`, written here
from the problem's numbers alone (it shares no code with the solver): each reported break starts inside its
window, where the van stands or after it arrived at the next place, and every later time follows from it.

PyVRP is a dependency (the routing service's search for waves its model covers, so `fulfil` and `pyvrp` agree
closely on these instances: the column compares our model, scaling and reading-back with PyVRP run directly);
VROOM is a bench-only one: pip install -e '.[bench]'. A solver that is not installed is reported as such and
left out of the comparison.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.routing.domain.plan import violations  # noqa: E402
from services.routing.domain.problem import Break, Problem, Window  # noqa: E402
from services.routing.solomon import parse  # noqa: E402
from services.routing.solver import SolverParams  # noqa: E402
from services.routing.waves import solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "solomon"
Routes = list[list[int]]  # stop indices (0-based, depot left out)
Rests = list[tuple[float, int] | None]  # per route: (break start, stops served before it), or no break
BREAK_SHARE = (0.4, 0.6)  # of the horizon: when a break may start, with --breaks
BREAK_LENGTH = 30.0


ENGINE: list[str] = ["pyvrp"]  # --engine: the default path, or OR-Tools alone


def fulfil(problem: Problem, seconds: float) -> tuple[Routes, Rests]:
    plan, _ = solve(problem, SolverParams(time_limit_s=seconds, engine=ENGINE[0]))
    return ([[visit.stop for visit in route.visits] for route in plan.routes],
            [None if r.rest_at is None else (r.rest_at, r.rest_after) for r in plan.routes])


def pyvrp(problem: Problem, seconds: float) -> tuple[Routes, Rests]:
    import pyvrp as pv
    from pyvrp.stop import MaxRuntime

    # PyVRP wants integers: the same safe scaling as ours (x100, travel rounded up, windows inward).
    scale = 100
    model = pv.Model()
    hours = problem.depot_hours
    locations = [model.add_location(x=problem.depot.x, y=problem.depot.y),
                 *(model.add_location(x=s.at.x, y=s.at.y) for s in problem.stops)]
    depot = model.add_depot(locations[0], tw_early=math.ceil(hours.start * scale), tw_late=math.floor(hours.end * scale))
    model.add_vehicle_type(num_available=len(problem.vehicles), capacity=[round(problem.vehicles[0].capacity_weight)],
                           start_depot=depot, end_depot=depot, tw_early=math.ceil(hours.start * scale),
                           tw_late=math.floor(hours.end * scale))
    for location, s in zip(locations[1:], problem.stops, strict=True):
        model.add_client(location, delivery=[round(s.weight)], service_duration=math.ceil(s.service * scale),
                         tw_early=math.ceil(s.window.start * scale), tw_late=math.floor(s.window.end * scale))
    nodes = locations
    m = problem.matrix
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            if i != j:
                model.add_edge(a, b, distance=round(m.distance[i][j] * scale),
                               duration=math.ceil(m.duration[i][j] * scale - 1e-9))
    if any(v.rest is not None for v in problem.vehicles):
        raise NotImplementedError("PyVRP has no driver breaks")
    result = model.solve(stop=MaxRuntime(seconds), seed=1, display=False)
    routes = [[activity.idx for activity in route if activity.is_client()] for route in result.best.routes()]
    return routes, [None] * len(routes)


def vroom(problem: Problem, seconds: float) -> tuple[Routes, Rests]:
    import vroom as vr

    scale = 100
    m = problem.matrix
    n = len(problem.stops) + 1
    durations = [[math.ceil(m.duration[i][j] * scale - 1e-9) for j in range(n)] for i in range(n)]
    costs = [[round(m.distance[i][j] * scale) for j in range(n)] for i in range(n)]
    instance = vr.Input()
    instance.set_durations_matrix(profile="car", matrix_input=durations)
    instance.set_costs_matrix(profile="car", matrix_input=costs)
    hours = problem.depot_hours
    for k, vehicle in enumerate(problem.vehicles):
        rests = [] if vehicle.rest is None else [vr.Break(
            k + 1, time_windows=[vr.TimeWindow(math.ceil(vehicle.rest.window.start * scale),
                                               math.floor(vehicle.rest.window.end * scale))],
            service=math.ceil(vehicle.rest.duration * scale))]
        instance.add_vehicle(vr.Vehicle(k + 1, start=0, end=0, capacity=[round(vehicle.capacity_weight)],
                                        time_window=vr.TimeWindow(math.ceil(hours.start * scale),
                                                                  math.floor(hours.end * scale)), breaks=rests))
    for i, s in enumerate(problem.stops, 1):
        instance.add_job(vr.Job(i, location=i, default_service=math.ceil(s.service * scale), delivery=[round(s.weight)],
                                time_windows=[vr.TimeWindow(math.ceil(s.window.start * scale),
                                                            math.floor(s.window.end * scale))]))
    # VROOM has no time limit: exploration level 5 (its default) on one thread, timed like the others.
    solution = instance.solve(exploration_level=5, nb_threads=1)
    routes: dict[int, list[int]] = {}
    rests: dict[int, tuple[float, int]] = {}
    for row in solution.routes.itertuples():
        if row.type == "job":
            routes.setdefault(row.vehicle_id, []).append(int(row.id) - 1)
        elif row.type == "break":
            rests[row.vehicle_id] = ((row.arrival + row.waiting_time) / scale, len(routes.get(row.vehicle_id, [])))
    return list(routes.values()), [rests.get(vehicle) for vehicle in routes]


SOLVERS: dict[str, Callable[[Problem, float], tuple[Routes, Rests]]] = {"fulfil": fulfil, "pyvrp": pyvrp,
                                                                          "vroom": vroom}


def distance(problem: Problem, routes: Routes) -> float:
    m, total = problem.matrix, 0.0
    for route in routes:
        path = [0, *(i + 1 for i in route), 0]
        total += sum(m.distance[a][b] for a, b in pairwise(path))
    return total


def check_breaks(problem: Problem, routes: Routes, rests: Rests, tolerance: float = 1e-6) -> list[str]:
    """Each route's day with its reported break, from the problem's numbers alone: leave when the depot opens,
    serve each stop at its window's opening at the earliest; the break starts inside its window and where the
    van is (once free after the stops before it, or after driving on to the next place; a reported start that
    falls mid-drive is moved to the arrival); every window and the depot's closing hold; a route without a
    break is back before the break's window opens."""
    wrong = []
    m = problem.matrix
    for k, (route, rest) in enumerate(zip(routes, rests, strict=True)):
        v = problem.vehicles[k] if k < len(problem.vehicles) else problem.vehicles[0]
        if v.rest is None:
            continue
        free, here = problem.depot_hours.start, 0
        places = [i + 1 for i in route] + [0]
        for position, node in enumerate(places):
            arrive = free + m.duration[here][node]
            ready = arrive
            if rest is not None and rest[1] == position:
                at = rest[0]
                if not v.rest.window.start - tolerance <= at <= v.rest.window.end + tolerance:
                    wrong.append(f"route {k + 1}: its break starts at {at:g}, outside {v.rest.window.start:g}-"
                                 f"{v.rest.window.end:g}")
                if at < free - tolerance:
                    wrong.append(f"route {k + 1}: its break starts at {at:g}, before the van is free ({free:g})")
                if free + tolerance < at < arrive - tolerance:
                    # Mid-drive (VROOM's breaks have no place and may overlap a drive): the driver takes it at the
                    # nearer place that works, as early as it may start there: before leaving, or on arriving.
                    before = max(free, v.rest.window.start)
                    at = before if before + v.rest.duration + m.duration[here][node] <= arrive + v.rest.duration \
                        or arrive > v.rest.window.end + tolerance else arrive
                if at >= arrive - tolerance:  # on arriving at the next place, before its service
                    ready = at + v.rest.duration
                else:  # where the van stands, then it drives on
                    arrive = ready = at + v.rest.duration + m.duration[here][node]
            if node == 0:
                if ready > problem.depot_hours.end + tolerance:
                    wrong.append(f"route {k + 1}: back at {ready:g}, after the depot closes")
                if rest is None and arrive > v.rest.window.start + tolerance:
                    wrong.append(f"route {k + 1}: back at {arrive:g} without a break")
                break
            stop = problem.stops[node - 1]
            start = max(ready, stop.window.start)
            if start > stop.window.end + tolerance:
                wrong.append(f"route {k + 1}: customer {stop.id} served at {start:g}, after {stop.window.end:g}")
            free, here = start + stop.service, node
    return wrong


def check(problem: Problem, routes: Routes, rests: Rests) -> list[str]:
    served = sorted(i for route in routes for i in route)
    if any(v.rest is not None for v in problem.vehicles):
        wrong = check_breaks(problem, routes, rests)
        plain = replace(problem, vehicles=[replace(v, rest=None) for v in problem.vehicles])
        wrong += [w for w in violations(plain, [[*route] for route in routes if route]) if "starts at" not in w]
    else:
        wrong = violations(problem, [[*route] for route in routes if route])
    if len(routes) > len(problem.vehicles):
        wrong.append(f"{len(routes)} routes for {len(problem.vehicles)} vehicles")
    if served != list(range(len(problem.stops))):
        wrong.append(f"{len(problem.stops) - len(set(served))} customer(s) not served")
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instances", nargs="*", type=Path, help="Solomon-format files (default: the shared set)")
    parser.add_argument("--bks", type=Path, default=DATA / "bks.csv")
    parser.add_argument("--set", default="benchmark", help="bks.csv set to run when no files are given: "
                                                          "benchmark, tuning or all")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--only", action="append", choices=sorted(SOLVERS), help="Run only these solvers")
    parser.add_argument("--engine", choices=("pyvrp", "ortools"), default="pyvrp",
                        help="fulfil's path: the default (PyVRP where its model covers the wave) or OR-Tools alone, "
                             "as FULFIL_ROUTING_ENGINE=ortools")
    parser.add_argument("--breaks", action="store_true", help=f"Every van a break of {BREAK_LENGTH:g} starting "
                                                              f"between {BREAK_SHARE[0]:.0%} and {BREAK_SHARE[1]:.0%} "
                                                              "of the horizon")
    args = parser.parse_args()
    ENGINE[0] = args.engine
    bks = {r["instance"]: r for r in csv.DictReader(args.bks.open())} if args.bks.exists() else {}
    files = args.instances or [DATA / f"{name}.vrp" for name, row in bks.items()
                               if args.set == "all" or row["set"] == args.set]
    solvers = {name: SOLVERS[name] for name in (args.only or SOLVERS) if not (args.breaks and name == "pyvrp")}
    vans: dict[str, list[int]] = {name: [] for name in solvers}
    gaps: dict[str, list[float]] = {name: [] for name in solvers}
    feasible: dict[str, int] = dict.fromkeys(solvers, 0)
    print(f"{len(files)} instance(s), {args.time_limit:g} s each, one thread; gap to distmin_distance_exact")
    print(f"{'instance':9} {'BKS':>9} " + " ".join(f"{name + ' veh/dist/gap':>27}" for name in solvers))
    for path in files:
        problem = parse(path)
        if args.breaks:
            horizon = problem.depot_hours.end
            rest = Break(Window(BREAK_SHARE[0] * horizon, BREAK_SHARE[1] * horizon), BREAK_LENGTH)
            problem = parse(path, rest=rest)
        reference = float(bks[path.stem]["distmin_distance_exact"]) if path.stem in bks else None
        cells = []
        for name, run in solvers.items():
            try:
                started = time.monotonic()
                found, rests = run(problem, args.time_limit)
                took = time.monotonic() - started
            except ImportError:
                cells.append(f"{'not installed':>27}")
                continue
            used = [(r, rest) for r, rest in zip(found, rests, strict=True) if r]
            routes = [r for r, _ in used]
            wrong = check(problem, found, rests)
            total = distance(problem, routes)
            gap = (total / reference - 1) * 100 if reference else float("nan")
            if not wrong:
                feasible[name] += 1
                gaps[name].append(gap)
                vans[name].append(len(routes))
            mark = "" if not wrong else " INFEASIBLE"
            cells.append(f"{len(routes):>3} {total:9.2f} {gap:6.2f}% {took:4.1f}s{mark}")
            if wrong:
                print(f"  {path.stem} {name}: {wrong[0]}", file=sys.stderr)
        print(f"{path.stem:9} {reference or float('nan'):9.2f} " + " ".join(f"{c:>27}" for c in cells), flush=True)
    print()
    means = {name: statistics.fmean(g) for name, g in gaps.items() if g}
    for name in solvers:
        if name in means:
            print(f"{name:7} feasible {feasible[name]}/{len(files)}, mean gap {means[name]:.2f}%, "
                  f"mean vans {statistics.fmean(vans[name]):.2f}")
    if "fulfil" in means:
        for other in ("pyvrp", "vroom"):
            if other in means:
                print(f"fulfil - {other}: {means['fulfil'] - means[other]:+.2f} percentage points")


if __name__ == "__main__":
    main()
