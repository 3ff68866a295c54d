"""PyVRP's hybrid genetic search on the wave's integer model, where PyVRP's model covers the wave.

PyVRP has capacities in several dimensions, time windows, shifts, fixed and per-distance vehicle costs and
optional stops with prizes; it has no driver breaks and no route prefixes locked in place. A wave with either
goes to OR-Tools and ruin and recreate (services/routing/solver.py). Measured on the Solomon benchmark at 10 s
(bench/routing/solomon.py), this search and OR-Tools with the compiled ruin and recreate are the two best we know
of, within a few tenths of a percent of each other (PyVRP was a point ahead while ruin and recreate ran in Python)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from services.routing.domain.model import IntModel, VehicleModel


class Deadline:
    """PyVRP's stopping criterion by the clock: MaxRuntime counts from after PyVRP's own set-up (a quarter of a
    second on a 1,000-stop wave), which is inside the wave's time limit too."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self, best_cost: float) -> bool:
        return time.monotonic() >= self.at


def covers(model: IntModel) -> bool:
    """Whether PyVRP's model says everything this wave asks: no breaks, no stops already out for delivery."""
    return not model.fixed and all(v.rest is None for v in model.vehicles)


def search(model: IntModel, time_limit_s: float, seed: int, patience: int | None
           ) -> tuple[list[list[int]], list[int], int, bool]:
    """Routes per vehicle of the model (node indices), the nodes left out, PyVRP's iterations, and whether its
    best plan is feasible. Every stop is optional at its penalty as its prize, as in the OR-Tools model: a stop
    that cannot be served leaves the wave with a reason instead of sinking it. The search ends at the time
    limit, or after `patience` iterations without a better plan (a small wave is done long before its limit)."""
    import numpy as np
    import pyvrp
    from pyvrp.stop import MultipleCriteria, NoImprovement

    started = time.monotonic()
    n = len(model.distance)
    # The model's travel times include the service at the origin, so PyVRP is told service 0: the same
    # arithmetic, rounding and all, as OR-Tools is given.
    clients = [pyvrp.Client(node, delivery=list(model.loads[node]), tw_early=model.windows[node][0],
                            tw_late=model.windows[node][1], prize=model.penalties[node], required=False)
               for node in range(1, n)]
    depot = pyvrp.Depot(0, tw_early=model.windows[0][0], tw_late=model.windows[0][1])
    kinds: dict[VehicleModel, list[int]] = defaultdict(list)
    for index, vehicle in enumerate(model.vehicles):
        kinds[vehicle].append(index)
    types = [pyvrp.VehicleType(len(indices), capacity=list(v.capacity), tw_early=v.shift[0], tw_late=v.shift[1],
                               unit_distance_cost=v.cost_per_unit, fixed_cost=v.fixed_cost)
             for v, indices in kinds.items()]
    distance: Any = np.asarray(model.distance, dtype=np.int64)
    duration: Any = np.asarray(model.transit, dtype=np.int64)
    data = pyvrp.ProblemData([pyvrp.Location(0, 0) for _ in range(n)], clients, [depot], types, [distance], [duration])
    stop: Any = Deadline(started + time_limit_s)
    if patience is not None:
        stop = MultipleCriteria([stop, NoImprovement(patience)])
    result = pyvrp.solve(data, stop, seed=seed, collect_stats=False)
    routes: list[list[int]] = [[] for _ in model.vehicles]
    free = [list(indices) for indices in kinds.values()]
    for route in result.best.routes():
        routes[free[route.vehicle_type()].pop(0)] = [activity.idx + 1 for activity in route
                                                      if activity.is_client()]
    served = {node for route in routes for node in route}
    return routes, [node for node in range(1, n) if node not in served], result.num_iterations, result.is_feasible()
