"""Improving a plan by ruin and recreate: remove a few strings of nearby stops from a few routes, put them back
one by one where they cost least (sometimes skipping a spot, so the search does not always repeat itself),
and keep the result by simulated annealing. This is the SISR scheme of Christiaens and Vanden Berghe
(Transportation Science, 2020), written for the integer model, so every route it returns is feasible in it.

OR-Tools' local search finds a good plan quickly and then moves slowly; this search keeps moving. It works on
the model's integers, honours capacities, windows, shifts, per-vehicle rates and fixed costs and fixed route
prefixes, and driver breaks as domain.timeline places them. Its iterations are compiled (ruin_recreate_kernels):
this module holds the model's numbers as arrays and the clock, which the compiled code cannot read."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from services.routing.domain import ruin_recreate_kernels as kernels
from services.routing.domain.model import SCALE, IntModel, build, fixed_routes, route_cost
from services.routing.domain.problem import Break, Euclidean, Point, Problem, Stop, Vehicle, Window
from services.routing.domain.timeline import drive

AVERAGE_REMOVED = 10  # c-bar in the paper
LONGEST_STRING = 10  # L-max
BLINK_RATE = 0.01
MAX_BREAK_CHECKS = 20  # spots tried for a van with a break before the stop waits
BYPASS = 0.01  # the paper's alpha: how rarely a split string keeps few stops
EMPTY_ROUTE_RATE = 0.05  # how often a ruin also empties one of the shortest routes, to try doing without its van
CHUNK_S = 0.01  # the compiled iterations run this long between looks at the clock


class Search:
    def __init__(self, model: IntModel, routes: Sequence[Sequence[int]], seed: int = 1) -> None:
        self.m = model
        self.seed = seed
        n, vans = len(model.distance), len(model.vehicles)
        self.opens = [0] + [w[0] for w in model.windows[1:]]
        self.closes = [w[1] for w in model.windows]
        self.transit = model.transit
        self.locked = {vehicle: len(nodes) for vehicle, nodes in fixed_routes(model).items()}
        self.routes = [list(r) for r in routes]
        for k, route in enumerate(self.routes):  # another solver may have put a break where our rule would not
            while route and self.m.vehicles[k].rest is not None and not self.fits(k, route) and len(route) > self.locked.get(k, 0):
                route.pop()
        self.unassigned = sorted(set(range(1, n)) - {i for r in self.routes for i in r})
        self.iterations = 0

        def ints(values: object) -> np.ndarray:
            return np.ascontiguousarray(np.array(values, dtype=np.int64))

        distance = ints(model.distance)
        vehicles = model.vehicles
        kinds: dict[tuple[object, ...], int] = {}
        kind = [kinds.setdefault((*v.capacity, *v.shift, v.cost_per_unit, v.fixed_cost, v.rest, k in self.locked),
                                 len(kinds)) for k, v in enumerate(vehicles)]
        pinned = np.zeros(n, dtype=np.bool_)
        pinned[list(model.fixed)] = True
        # Each stop's neighbours, nearest first: where strings are cut around a seed.
        near = ints([np.argsort(distance[i, 1:], kind="stable") + 1 for i in range(n)]) if n > 1 else ints([[0]])
        self.arrays: dict[str, np.ndarray] = {
            "distance": distance, "transit": ints(model.transit), "service": ints(model.service),
            "opens": ints(self.opens), "closes": ints(self.closes), "weight": ints([load[0] for load in model.loads]),
            "volume": ints([load[1] for load in model.loads]), "from_depot": distance[0].copy(),
            "penalty": ints(model.penalties), "near": near, "pinned": pinned,
            "capacity_weight": ints([v.capacity[0] for v in vehicles]),
            "capacity_volume": ints([v.capacity[1] for v in vehicles]),
            "shift_start": ints([v.shift[0] for v in vehicles]), "shift_end": ints([v.shift[1] for v in vehicles]),
            "rate": ints([v.cost_per_unit for v in vehicles]), "fixed_cost": ints([v.fixed_cost for v in vehicles]),
            "kind": ints(kind),
            "has_rest": np.array([v.rest is not None for v in vehicles], dtype=np.bool_),
            "rest": ints([v.rest or (0, 0, 0) for v in vehicles]).reshape(vans, 3),
            "locked": ints([self.locked.get(k, 0) for k in range(vans)])}
        self.model = tuple(self.arrays[name] for name in kernels.MODEL)
        self.params = (float(AVERAGE_REMOVED), float(LONGEST_STRING), BYPASS, EMPTY_ROUTE_RATE, BLINK_RATE,
                       MAX_BREAK_CHECKS)

    def fits(self, k: int, route: Sequence[int]) -> bool:
        """The exact test for a van with a break, by domain.timeline's rule (the compiled search has its own
        copy of the rule, tested against this one)."""
        v = self.m.vehicles[k]
        transit, service, closes = self.transit, self.m.service, self.closes
        day = drive(v.shift[0], route, lambda a, b: transit[a][b] - service[a], self.opens.__getitem__,
                    service.__getitem__, v.rest, closes.__getitem__)
        return (day.rest_fits and day.back <= v.shift[1]
                and all(start <= closes[node] for node, (_, start) in zip(route, day.visits, strict=True)))

    def _state(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """The current plan and a trial copy of it, as the compiled iterations keep them."""
        a = self.arrays
        distance, transit, opens, closes = a["distance"], a["transit"], a["opens"], a["closes"]
        weight, volume, rate, fixed_cost = a["weight"], a["volume"], a["rate"], a["fixed_cost"]
        shift_start, shift_end = a["shift_start"], a["shift_end"]
        n, vans = len(self.m.distance), len(self.m.vehicles)
        routes = np.zeros((vans, n), dtype=np.int64)
        sizes = np.array([len(r) for r in self.routes], dtype=np.int64)
        for k, route in enumerate(self.routes):
            routes[k, :len(route)] = route
        earliest, latest = np.zeros((vans, n + 1), dtype=np.int64), np.zeros((vans, n + 1), dtype=np.int64)
        for k in range(vans):
            kernels.time_route(k, routes, sizes, earliest, latest, transit, opens, closes, shift_start, shift_end)
        load_weight = np.array([int(weight[r].sum()) for r in self.routes], dtype=np.int64)
        load_volume = np.array([int(volume[r].sum()) for r in self.routes], dtype=np.int64)
        costs = np.array([kernels.route_cost(k, routes, sizes, distance, rate, fixed_cost) for k in range(vans)],
                         dtype=np.int64)
        left = np.zeros(n, dtype=np.int64)
        left[:len(self.unassigned)] = self.unassigned
        owner = np.full(n, kernels.NONE, dtype=np.int64)
        for k, route in enumerate(self.routes):
            owner[route] = k
        current = (routes, sizes, earliest, latest, load_weight, load_volume, costs, left)
        trial = (*(a.copy() for a in current[:7]), owner, np.zeros(n, dtype=np.int64))
        return current, trial

    # -- the loop --------------------------------------------------------------------------------------
    def run(self, time_left: Callable[[], float], start_temperature: float, end_temperature: float,
            patience: int | None = None) -> tuple[list[list[int]], list[int], int]:
        """Until the time is up or `patience` iterations in a row have found nothing better than the best."""
        current, trial = self._state()
        n, vans = len(self.m.distance), len(self.m.vehicles)
        penalty = self.m.penalties
        cost = (sum(route_cost(self.m, k, r) for k, r in enumerate(self.routes))
                + sum(penalty[i] for i in self.unassigned))
        best = (current[0].copy(), current[1].copy(), current[7].copy())
        counters = np.array([0, 0, cost, cost, len(self.unassigned), len(self.unassigned)], dtype=np.int64)
        spots = n + vans
        scratch = (np.zeros(2 * n, dtype=np.int64), np.zeros(vans, dtype=np.bool_), np.zeros(vans, dtype=np.bool_),
                   np.zeros(spots, dtype=np.int64), np.zeros(spots, dtype=np.int64), np.zeros(spots, dtype=np.int64))
        kernels.seed(self.seed)
        total = max(time_left(), 1e-9)
        chunk = 1
        while (remaining := time_left()) > 0 and not (patience is not None and counters[0] - counters[1] >= patience):
            temperature = start_temperature * (end_temperature / start_temperature) ** (1 - remaining / total)
            began = time.monotonic()
            kernels.iterate(chunk, temperature, patience or 0, self.model, self.params, current, trial, best, counters,
                            scratch)
            took = time.monotonic() - began
            chunk = max(1, min(4 * chunk, int(chunk * CHUNK_S / took) if took > 0 else 4 * chunk))
        self.iterations = int(counters[0])
        routes, sizes, left = best
        return ([routes[k, :sizes[k]].tolist() for k in range(vans)], left[:counters[5]].tolist(), int(counters[3]))


def improve(model: IntModel, routes: Sequence[Sequence[int]], time_left: Callable[[], float], seed: int = 1,
            start_temperature: float = 10.0, end_temperature: float = 0.1, patience: int | None = None
            ) -> tuple[list[list[int]], list[int], int]:
    """Better routes (per vehicle, model nodes) from `routes`, until `time_left()` reaches 0 or `patience`
    iterations in a row found nothing better. Temperatures are in true distance units at the cheapest vehicle's
    rate. Returns routes, nodes left out, and iterations."""
    search = Search(model, routes, seed)
    unit = SCALE * min(v.cost_per_unit for v in model.vehicles)  # one true distance unit, in cost units
    best, left, _ = search.run(time_left, start_temperature * unit, end_temperature * unit, patience)
    return best, left, search.iterations


def warm_up() -> None:
    """Compiles the search's iterations (about 15 s, once: Numba keeps them in __pycache__), or loads them (under
    a second), so the first wave is not the one that waits: a routing worker does this before it consumes."""
    stops = [Stop(f"S{i}", Point(i, 1), Window(0, 100)) for i in range(3)]
    vans = [Vehicle("V", 10, 10.0, Window(0, 100)), Vehicle("R", 10, 10.0, Window(0, 100), rest=Break(Window(5, 9), 1))]
    model = build(Problem.build(Point(0, 0), Window(0, 100), stops, vans, Euclidean()))
    improve(model, [[1, 2, 3], []], lambda: 1.0, patience=10)
