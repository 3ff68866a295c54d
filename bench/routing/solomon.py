"""The Solomon VRPTW benchmark: the routing service's own solver path (the same problem, model building,
search and plan reading as a dispatch wave) against PyVRP and VROOM on the same instances, each with
the same time budget on one thread. Distances are recomputed from each solver's routes with true (unrounded)
distances, and every plan is checked independently (capacity, windows with service times, each customer
exactly once, back before the depot closes). Gaps are to the distance-minimising best known solution.

    python bench/routing/solomon.py                        # the 12 benchmark instances, 10 s each
    python bench/routing/solomon.py --time-limit 60 --only fulfil
    python bench/routing/solomon.py path/to/*.vrp --bks path/to/bks.csv --set all

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
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.routing.domain.plan import violations  # noqa: E402
from services.routing.domain.problem import Problem  # noqa: E402
from services.routing.solomon import parse  # noqa: E402
from services.routing.solver import SolverParams  # noqa: E402
from services.routing.waves import solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "solomon"
Routes = list[list[int]]  # stop indices (0-based, depot left out)


def fulfil(problem: Problem, seconds: float) -> Routes:
    plan, _ = solve(problem, SolverParams(time_limit_s=seconds))
    return [[visit.stop for visit in route.visits] for route in plan.routes]


def pyvrp(problem: Problem, seconds: float) -> Routes:
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
    result = model.solve(stop=MaxRuntime(seconds), seed=1, display=False)
    return [[activity.idx for activity in route if activity.is_client()] for route in result.best.routes()]


def vroom(problem: Problem, seconds: float) -> Routes:
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
        instance.add_vehicle(vr.Vehicle(k + 1, start=0, end=0, capacity=[round(vehicle.capacity_weight)],
                                        time_window=vr.TimeWindow(math.ceil(hours.start * scale),
                                                                  math.floor(hours.end * scale))))
    for i, s in enumerate(problem.stops, 1):
        instance.add_job(vr.Job(i, location=i, default_service=math.ceil(s.service * scale), delivery=[round(s.weight)],
                                time_windows=[vr.TimeWindow(math.ceil(s.window.start * scale),
                                                            math.floor(s.window.end * scale))]))
    # VROOM has no time limit: exploration level 5 (its default) on one thread, timed like the others.
    solution = instance.solve(exploration_level=5, nb_threads=1)
    routes: dict[int, list[int]] = {}
    for row in solution.routes.itertuples():
        if row.type == "job":
            routes.setdefault(row.vehicle_id, []).append(int(row.id) - 1)
    return list(routes.values())


SOLVERS: dict[str, Callable[[Problem, float], Routes]] = {"fulfil": fulfil, "pyvrp": pyvrp, "vroom": vroom}


def distance(problem: Problem, routes: Routes) -> float:
    m, total = problem.matrix, 0.0
    for route in routes:
        path = [0, *(i + 1 for i in route), 0]
        total += sum(m.distance[a][b] for a, b in pairwise(path))
    return total


def check(problem: Problem, routes: Routes) -> list[str]:
    served = sorted(i for route in routes for i in route)
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
    args = parser.parse_args()
    bks = {r["instance"]: r for r in csv.DictReader(args.bks.open())} if args.bks.exists() else {}
    files = args.instances or [DATA / f"{name}.vrp" for name, row in bks.items()
                               if args.set == "all" or row["set"] == args.set]
    solvers = {name: SOLVERS[name] for name in (args.only or SOLVERS)}
    gaps: dict[str, list[float]] = {name: [] for name in solvers}
    feasible: dict[str, int] = dict.fromkeys(solvers, 0)
    print(f"{len(files)} instance(s), {args.time_limit:g} s each, one thread; gap to distmin_distance_exact")
    print(f"{'instance':9} {'BKS':>9} " + " ".join(f"{name + ' veh/dist/gap':>27}" for name in solvers))
    for path in files:
        problem = parse(path)
        reference = float(bks[path.stem]["distmin_distance_exact"]) if path.stem in bks else None
        cells = []
        for name, run in solvers.items():
            try:
                started = time.monotonic()
                routes = [r for r in run(problem, args.time_limit) if r]
                took = time.monotonic() - started
            except ImportError:
                cells.append(f"{'not installed':>27}")
                continue
            wrong = check(problem, routes)
            total = distance(problem, routes)
            gap = (total / reference - 1) * 100 if reference else float("nan")
            if not wrong:
                feasible[name] += 1
                gaps[name].append(gap)
            mark = "" if not wrong else " INFEASIBLE"
            cells.append(f"{len(routes):>3} {total:9.2f} {gap:6.2f}% {took:4.1f}s{mark}")
            if wrong:
                print(f"  {path.stem} {name}: {wrong[0]}", file=sys.stderr)
        print(f"{path.stem:9} {reference or float('nan'):9.2f} " + " ".join(f"{c:>27}" for c in cells), flush=True)
    print()
    means = {name: statistics.fmean(g) for name, g in gaps.items() if g}
    for name in solvers:
        if name in means:
            print(f"{name:7} feasible {feasible[name]}/{len(files)}, mean gap {means[name]:.2f}%")
    if "fulfil" in means:
        for other in ("pyvrp", "vroom"):
            if other in means:
                print(f"fulfil - {other}: {means['fulfil'] - means[other]:+.2f} percentage points")


if __name__ == "__main__":
    main()
