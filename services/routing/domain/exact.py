"""The best plan of a tiny wave, by enumeration: a wave of a handful of stops has few enough routes that every
one can be tried, so the answer is proven best and comes in milliseconds instead of a search that runs until
its time limit because it cannot know it is done.

Every order of every subset of stops is tried per kind of van (vans that differ only in name share their
routes); without a break a route's visits do not depend on what comes after them, and a break only makes
them later, so an order whose prefix is already late without one, or over capacity, is cut there. Then one pass per van picks the cheapest split of
the stops into routes, a stop left out costing its penalty, exactly the objective the search minimises."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.routing.domain.model import IntModel, VehicleModel, route_cost
from services.routing.domain.timeline import drive

LARGEST_WORK = 3 * math.factorial(6)  # kinds of van x orders of all stops: some tens of milliseconds at worst
INFINITE = float("inf")


def exact_plan(model: IntModel) -> tuple[list[list[int]], list[int], int] | None:
    """(routes per vehicle, nodes left out, objective), or None when the wave is not tiny (six stops on three
    kinds of van, say; seven is seven times the work, and the search stops quickly there too) or has routes
    already out for delivery (their fixed prefixes are the search's business)."""
    n = len(model.distance) - 1
    if model.fixed or not model.vehicles or len(set(model.vehicles)) * math.factorial(n) > LARGEST_WORK:
        return None
    kinds: dict[VehicleModel, dict[int, tuple[int, list[int]]]] = {}
    for v in model.vehicles:
        if v not in kinds:
            kinds[v] = _best_routes(model, model.vehicles.index(v), n)
    full = (1 << n) - 1
    # cost[mask]: the cheapest way to serve exactly the stops in mask with the vans seen so far.
    cost: list[float] = [0.0] + [INFINITE] * full
    choice: list[list[int]] = []  # per van, the mask of stops it serves in the best split of each mask
    for v in model.vehicles:
        routes = kinds[v]
        new, took = list(cost), [0] * (full + 1)
        for mask in range(1, full + 1):
            sub = mask
            while sub:
                if sub in routes and cost[mask ^ sub] + routes[sub][0] < new[mask]:
                    new[mask], took[mask] = cost[mask ^ sub] + routes[sub][0], sub
                sub = (sub - 1) & mask
        cost = new
        choice.append(took)
    penalty = [sum(model.penalties[i + 1] for i in range(n) if mask >> i & 1) for mask in range(full + 1)]
    served = min(range(full + 1), key=lambda mask: (cost[mask] + penalty[full ^ mask], mask))
    plan: list[list[int]] = [[] for _ in model.vehicles]
    mask = served
    for k in range(len(model.vehicles) - 1, -1, -1):
        sub = choice[k][mask]
        if sub:
            plan[k] = kinds[model.vehicles[k]][sub][1]
            mask ^= sub
    left = [i + 1 for i in range(n) if not served >> i & 1]
    return plan, left, int(cost[served]) + penalty[full ^ served]


def _best_routes(model: IntModel, k: int, n: int) -> dict[int, tuple[int, list[int]]]:
    """Per subset of stops (a bit mask of node - 1), the cheapest feasible order for van k and its cost."""
    v = model.vehicles[k]
    best: dict[int, tuple[int, list[int]]] = {}

    def extend(route: list[int], mask: int, weight: int, volume: int) -> None:
        for node in range(1, n + 1):
            bit = 1 << (node - 1)
            if mask & bit:
                continue
            w, vol = weight + model.loads[node][0], volume + model.loads[node][1]
            if w > v.capacity[0] or vol > v.capacity[1]:
                continue
            candidate = [*route, node]
            on_time, back_in_time = _timely(model, v, candidate)
            if not on_time:
                continue
            if back_in_time:
                cost = route_cost(model, k, candidate)
                if cost < best.get(mask | bit, (INFINITE,))[0]:
                    best[mask | bit] = (cost, candidate)
            extend(candidate, mask | bit, w, vol)

    extend([], 0, 0, 0)
    return best


def _timely(model: IntModel, v: VehicleModel, route: Sequence[int]) -> tuple[bool, bool]:
    """(every visit starts within its window, and the van is back in its shift with its break in its window)."""
    service = model.service

    def day_of(rest: tuple[int, int, int] | None) -> tuple[bool, bool]:
        day = drive(v.shift[0], route, lambda a, b: model.transit[a][b] - service[a],
                    lambda i: model.windows[i][0], service.__getitem__, rest, lambda i: model.windows[i][1])
        timely = all(start <= model.windows[node][1] for node, (_, start) in zip(route, day.visits, strict=True))
        return timely, timely and day.rest_fits and day.back <= v.shift[1]

    # Without the break a day is earliest everywhere: late without it, the route and all that extend it are late.
    on_time, back_in_time = day_of(None)
    if on_time and v.rest is not None:
        back_in_time = day_of(v.rest)[1]
    return on_time, back_in_time
