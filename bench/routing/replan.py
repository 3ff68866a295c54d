"""Re-plans, measured: a wave planned in the morning, then planned again at midday with the first half of every
route already out for delivery (locked on its van, in its order), as `fulfil dispatch --again` does. Every van has
the break real waves have (bench/routing/solomon.py --breaks). For each instance it prints the morning plan, the
re-plan at the same time limit and a long re-plan (the same locked problem, --long seconds), and checks that the
re-plan keeps every locked stop where it was and is feasible (the benchmark's own checker, no solver code).

The re-plan's quality is its gap to the long re-plan, printed beside the morning plan's gap to a long morning
plan: the same search, with and without fixed prefixes. A re-plan is never longer than the morning plan it starts
from (that plan is still feasible).

    python bench/routing/replan.py                  # the 6 tuning instances, 10 s against 30 s
    python bench/routing/replan.py --set benchmark --time-limit 10 --long 60
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "routing"))

from solomon import BREAK_LENGTH, BREAK_SHARE, DATA, check, distance  # noqa: E402

from services.routing.domain.plan import Plan  # noqa: E402
from services.routing.domain.problem import Break, Fixed, Problem, Window  # noqa: E402
from services.routing.solomon import parse  # noqa: E402
from services.routing.solver import SolverParams  # noqa: E402
from services.routing.waves import solve  # noqa: E402


def planned(problem: Problem, seconds: float) -> Plan:
    plan, _ = solve(problem, SolverParams(time_limit_s=seconds))
    return plan


def routes_of(plan: Plan) -> tuple[list[list[int]], list[tuple[float, int] | None]]:
    return ([[v.stop for v in r.visits] for r in plan.routes],
            [None if r.rest_at is None else (r.rest_at, r.rest_after) for r in plan.routes])


def midday(problem: Problem, plan: Plan) -> Problem:
    """The first half of every route out for delivery: locked on its van at its place."""
    stops = list(problem.stops)
    for route in plan.routes:
        van = problem.vehicles[route.vehicle].id
        for position, visit in enumerate(route.visits[:(len(route.visits) + 1) // 2], 1):
            stops[visit.stop] = replace(stops[visit.stop], fixed=Fixed(van, position))
    return replace(problem, stops=stops)


def kept(problem: Problem, plan: Plan) -> list[str]:
    wrong = []
    for route in plan.routes:
        van = problem.vehicles[route.vehicle].id
        for position, visit in enumerate(route.visits, 1):
            fixed = problem.stops[visit.stop].fixed
            if fixed is not None and (fixed.vehicle_id, fixed.position) != (van, position):
                wrong.append(f"stop {problem.stops[visit.stop].id} moved from {fixed} to {van} #{position}")
    locked = {i for i, s in enumerate(problem.stops) if s.fixed is not None}
    served = {v.stop for r in plan.routes for v in r.visits}
    wrong += [f"locked stop {problem.stops[i].id} dropped" for i in locked - served]
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="tuning", help="bks.csv set: benchmark, tuning or all")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--long", type=float, default=30.0, help="The long search both are measured against")
    args = parser.parse_args()
    rows = list(csv.DictReader((DATA / "bks.csv").open()))
    files = [DATA / f"{r['instance']}.vrp" for r in rows if args.set == "all" or r["set"] == args.set]
    print(f"{len(files)} instance(s) with breaks; {args.time_limit:g} s against {args.long:g} s")
    print(f"{'instance':9} {'morning':>9} {'long':>9} {'gap':>6}   {'re-plan':>9} {'long':>9} {'gap':>6}  locked")
    morning_gaps, replan_gaps, failures = [], [], 0
    for path in files:
        plain = parse(path)
        horizon = plain.depot_hours.end
        problem = parse(path, rest=Break(Window(BREAK_SHARE[0] * horizon, BREAK_SHARE[1] * horizon), BREAK_LENGTH))
        morning, morning_long = planned(problem, args.time_limit), planned(problem, args.long)
        locked = midday(problem, morning)
        again, again_long = planned(locked, args.time_limit), planned(locked, args.long)
        distances = []
        for name, plan, on in (("morning", morning, problem), ("long morning", morning_long, problem),
                               ("re-plan", again, locked), ("long re-plan", again_long, locked)):
            routes, rests = routes_of(plan)
            wrong = check(on, routes, rests) + (kept(on, plan) if on is locked else [])
            if wrong:
                failures += 1
                print(f"  {path.stem} {name}: {wrong[0]}", file=sys.stderr)
            distances.append(distance(on, routes))
        m, ml, r, rl = distances
        if r > m + 1e-6:
            failures += 1
            print(f"  {path.stem}: the re-plan ({r:.2f}) is longer than the plan it started from ({m:.2f})",
                  file=sys.stderr)
        morning_gaps.append((m / ml - 1) * 100)
        replan_gaps.append((r / rl - 1) * 100)
        fixed = sum(s.fixed is not None for s in locked.stops)
        print(f"{path.stem:9} {m:9.2f} {ml:9.2f} {morning_gaps[-1]:5.2f}%   {r:9.2f} {rl:9.2f} "
              f"{replan_gaps[-1]:5.2f}%  {fixed}/{len(locked.stops)}", flush=True)
    print()
    print(f"mean gap to the long search: morning {statistics.fmean(morning_gaps):.2f}%, "
          f"re-plan {statistics.fmean(replan_gaps):.2f}%; {failures} check(s) failed")


if __name__ == "__main__":
    main()
