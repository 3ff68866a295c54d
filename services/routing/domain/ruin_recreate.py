"""Improving a plan by ruin and recreate: remove a few strings of nearby stops from a few routes, put them back
one by one where they cost least (sometimes skipping a spot, so the search does not always repeat itself),
and keep the result by simulated annealing. This is the SISR scheme of Christiaens and Vanden Berghe
(Transportation Science, 2020), written for the integer model, so every route it returns is feasible in it.

OR-Tools' local search finds a good plan quickly and then moves slowly; this search keeps moving. It works on
the model's integers, honours capacities, windows, shifts, per-vehicle rates and fixed costs and fixed route
prefixes, and driver breaks as domain.timeline places them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np

from services.routing.domain.model import SCALE, IntModel, fixed_routes, route_cost
from services.routing.domain.timeline import drive

AVERAGE_REMOVED = 10  # c-bar in the paper
LONGEST_STRING = 10  # L-max
BLINK_RATE = 0.01
MAX_BREAK_CHECKS = 20  # spots tried for a van with a break before the stop waits
BYPASS = 0.01  # the paper's alpha: how rarely a split string keeps few stops
EMPTY_ROUTE_RATE = 0.05  # how often a ruin also empties one of the shortest routes, to try doing without its van
NEVER = np.iinfo(np.int64).max


class Search:
    def __init__(self, model: IntModel, routes: Sequence[Sequence[int]], seed: int = 1) -> None:
        self.m = model
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.D = np.array(model.distance, dtype=np.int64)
        self.T = np.array(model.transit, dtype=np.int64)
        self.opens = [0] + [w[0] for w in model.windows[1:]]
        self.closes = [w[1] for w in model.windows]
        self.ws, self.we = np.array(self.opens, dtype=np.int64), np.array(self.closes, dtype=np.int64)
        self.weight = [load[0] for load in model.loads]
        self.volume = [load[1] for load in model.loads]
        vehicles = model.vehicles
        self.dist = model.distance
        self.Tt, self.Dt = np.ascontiguousarray(self.T.T), np.ascontiguousarray(self.D.T)
        self.transit = model.transit
        self.locked = {vehicle: len(nodes) for vehicle, nodes in fixed_routes(model).items()}
        self.pinned = set(model.fixed)
        self.kind = [(*v.capacity, *v.shift, v.cost_per_unit, v.fixed_cost, k in self.locked)
                     for k, v in enumerate(vehicles)]
        n = len(model.distance)
        # Each stop's neighbours, nearest first: where strings are cut around a seed.
        self.near = [(np.argsort(self.D[i, 1:], kind="stable") + 1).tolist() for i in range(n)]
        self.routes = [list(r) for r in routes]
        for k, route in enumerate(self.routes):  # another solver may have put a break where our rule would not
            while route and self.m.vehicles[k].rest is not None and not self.fits(k, route) and len(route) > self.locked.get(k, 0):
                route.pop()
        self.unassigned = sorted(set(range(1, n)) - {i for r in self.routes for i in r})
        self.timing = [self._timing(k, r) for k, r in enumerate(self.routes)]

    # -- evaluation -----------------------------------------------------------------------------------
    def _timing(self, k: int, route: list[int]) -> np.ndarray:
        """The route's insertion spots, one column each, from the earliest service starts and the latest allowed
        starts along [depot, *route, depot] and the room left in the van."""
        path = [0, *route, 0]
        start, end = self.m.vehicles[k].shift
        transit, opens, closes = self.transit, self.opens, self.closes
        earliest = [start]
        t = start
        for a, b in pairwise(path):
            t = max(t + transit[a][b], opens[b])
            earliest.append(t)
        latest = [end] * len(path)
        t = end
        for i in range(len(path) - 2, 0, -1):
            t = min(closes[path[i]], t - transit[path[i]][path[i + 1]])
            latest[i] = t
        latest[0] = t - transit[0][path[1]]
        first = self.locked.get(k, 0)
        size = len(path) - 1 - first
        v = self.m.vehicles[k]
        weight, volume = sum(self.weight[i] for i in route), sum(self.volume[i] for i in route)
        before, after = path[first:-1], path[first + 1:]
        # Rows: before, after, earliest start at before, latest start at after, route, index, rate, the cost of
        # the arc the stop would break (negated, plus the van's fixed cost if it is empty), room left by weight
        # and by volume. Everything a candidate stop's insertion test needs but its own numbers.
        spots = np.empty((10, size), dtype=np.int64)
        spots[0], spots[1] = before, after
        spots[2], spots[3] = earliest[first:-1], latest[first + 1:]
        spots[4] = k
        spots[5] = np.arange(first, len(path) - 1)
        spots[6] = v.cost_per_unit
        spots[7] = (0 if route else v.fixed_cost) - v.cost_per_unit * self.D[spots[0], spots[1]]
        spots[8] = v.capacity[0] - weight
        spots[9] = v.capacity[1] - volume
        return spots

    def fits(self, k: int, route: Sequence[int]) -> bool:
        """The exact test for a van with a break (the spots' test leaves the break out, so it can only
        let through too much, never too little)."""
        v = self.m.vehicles[k]
        transit, service, closes = self.transit, self.m.service, self.closes
        day = drive(v.shift[0], route, lambda a, b: transit[a][b] - service[a], self.opens.__getitem__,
                    service.__getitem__, v.rest, closes.__getitem__)
        return (day.rest_fits and day.back <= v.shift[1]
                and all(start <= closes[node] for node, (_, start) in zip(route, day.visits, strict=True)))

    # -- ruin ------------------------------------------------------------------------------------------
    def _ruin(self, routes: list[list[int]]) -> list[int]:
        used = [r for r in routes if r]
        if not used:
            return []
        average = sum(len(r) for r in used) / len(used)
        longest = min(LONGEST_STRING, average)
        most = 4 * AVERAGE_REMOVED / (1 + longest) - 1
        strings = int(self.rng.uniform(1, most + 1))
        where = {i: k for k, r in enumerate(routes) for i in r}
        candidates = [i for i in where if i not in self.pinned]
        if not candidates:
            return []
        seed = self.rng.choice(candidates)
        removed: list[int] = []
        ruined: set[int] = set()
        for c in self.near[seed]:  # the seed itself comes first: it is at distance 0
            if len(ruined) >= strings:
                break
            k = where.get(c)
            if k is None or k in ruined or c in removed:
                continue
            route, first = routes[k], self.locked.get(k, 0)
            free = len(route) - first
            if free <= 0 or route.index(c) < first:
                continue
            length = int(self.rng.uniform(1, min(free, longest) + 1))
            kept = 0
            if 1 < length < free and self.rng.random() < 0.5:  # a split string: a run in the middle stays
                kept = 1
                while length + kept < free and self.rng.random() >= BYPASS * self.rng.random():
                    kept += 1
            span = length + kept
            at = route.index(c)
            lo = max(first, at - span + 1)
            hi = min(at, len(route) - span)
            begin = self.rng.randint(lo, hi) if hi >= lo else first
            stay = self.rng.randint(begin + 1, begin + span - kept - 1) if kept else begin + span
            cut = [i for j, i in enumerate(route[begin:begin + span], begin) if not stay <= j < stay + kept]
            removed.extend(cut)
            route[begin:begin + span] = [i for i in route[begin:begin + span] if i not in cut]
            ruined.add(k)
        if self.rng.random() < EMPTY_ROUTE_RATE:
            removed.extend(self._empty_a_short_route(routes, ruined))
        return removed

    def _empty_a_short_route(self, routes: list[list[int]], ruined: set[int]) -> list[int]:
        """Strings cut near one another seldom empty a route, so a van once opened stays open; this takes every
        free stop off one of the three shortest routes, so the search can find the plan without that van."""
        shortest = sorted((len(r) - self.locked.get(k, 0), k) for k, r in enumerate(routes)
                          if len(r) > self.locked.get(k, 0) and k not in ruined)[:3]
        if not shortest:
            return []
        _, k = self.rng.choice(shortest)
        first = self.locked.get(k, 0)
        cut, routes[k][first:] = routes[k][first:], []
        return cut

    # -- recreate --------------------------------------------------------------------------------------
    def _edges(self, routes: list[list[int]], timing: list[np.ndarray]) -> np.ndarray:
        """Every spot a stop could go (the columns of _timing), built with one concatenation."""
        active, kinds = [], set()
        for k, route in enumerate(routes):
            if not route:  # one empty van of each kind is enough to try
                if self.kind[k] in kinds:
                    continue
                kinds.add(self.kind[k])
            active.append(timing[k])
        return np.concatenate(active, axis=1)

    def _recreate(self, routes: list[list[int]], timing: list[np.ndarray], removed: list[int]) -> list[int]:
        left = []
        edges = self._edges(routes, timing)
        Tt, Dt, T, D = self.Tt, self.Dt, self.T, self.D
        for u in removed:
            prev, nxt, e_prev, l_next, owner, position, rate, base, room_w, room_v = edges
            arrive = np.maximum(e_prev + Tt[u][prev], self.ws[u])
            ok = (arrive <= self.we[u]) & (arrive + T[u][nxt] <= l_next) & (room_w >= self.weight[u])
            if self.volume[u]:
                ok &= room_v >= self.volume[u]
            ok &= self.np_rng.random(len(ok)) >= BLINK_RATE
            if not ok.any():
                left.append(u)
                continue
            delta = np.where(ok, rate * (Dt[u][prev] + D[u][nxt]) + base, NEVER)
            spot = None
            for _ in range(MAX_BREAK_CHECKS):  # the cheapest spot that also fits a van's break
                best = int(np.argmin(delta))
                if delta[best] == NEVER:
                    break
                k, i = int(owner[best]), int(position[best])
                if self.m.vehicles[k].rest is None or self.fits(k, routes[k][:i] + [u] + routes[k][i:]):
                    spot = (k, i)
                    break
                delta[best] = NEVER
            if spot is None:
                left.append(u)
                continue
            k, i = spot
            opened = not routes[k]
            routes[k].insert(i, u)
            timing[k] = self._timing(k, routes[k])
            if opened:  # another empty van of its kind now stands in for it
                edges = self._edges(routes, timing)
            else:  # only this route's columns change: splice them in
                lo, hi = np.searchsorted(owner, k, "left"), np.searchsorted(owner, k, "right")
                edges = np.concatenate((edges[:, :lo], timing[k], edges[:, hi:]), axis=1)
        return left

    def _order(self, removed: list[int]) -> list[int]:
        how = self.rng.choices(("random", "demand", "far", "close"), weights=(4, 4, 2, 1))[0]
        if how == "random":
            self.rng.shuffle(removed)
        elif how == "demand":
            removed.sort(key=lambda i: -self.weight[i])
        elif how == "far":
            removed.sort(key=lambda i: -self.dist[0][i])
        else:
            removed.sort(key=lambda i: self.dist[0][i])
        return removed

    # -- the loop --------------------------------------------------------------------------------------
    def run(self, time_left: Callable[[], float], start_temperature: float, end_temperature: float,
            patience: int | None = None) -> tuple[list[list[int]], list[int], int]:
        """Until the time is up or `patience` iterations in a row have found nothing better than the best."""
        current = [list(r) for r in self.routes]
        current_left = list(self.unassigned)
        penalty = self.m.penalties
        costs = [route_cost(self.m, k, r) for k, r in enumerate(current)]
        current_cost = sum(costs) + sum(penalty[i] for i in current_left)
        best, best_left, best_cost = [list(r) for r in current], list(current_left), current_cost
        total = max(time_left(), 1e-9)
        iterations = last_better = 0
        while (remaining := time_left()) > 0 and (patience is None or iterations - last_better < patience):
            iterations += 1
            progress = 1 - remaining / total
            temperature = start_temperature * (end_temperature / start_temperature) ** progress
            routes = [list(r) for r in current]
            removed = self._ruin(routes) + list(current_left)
            timing = [self.timing[k] if r == current[k] else self._timing(k, r) for k, r in enumerate(routes)]
            left = self._recreate(routes, timing, self._order(removed))
            route_costs = [costs[k] if r == current[k] else route_cost(self.m, k, r) for k, r in enumerate(routes)]
            cost = sum(route_costs) + sum(penalty[i] for i in left)
            if cost < current_cost - temperature * math.log(1 - self.rng.random()):
                current, current_left, current_cost, costs = routes, left, cost, route_costs
                self.timing = timing
                if cost < best_cost:
                    best, best_left, best_cost = [list(r) for r in routes], list(left), cost
                    last_better = iterations
        self.iterations = iterations
        return best, best_left, best_cost


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
