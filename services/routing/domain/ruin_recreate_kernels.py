"""The ruin-and-recreate search's iterations, compiled by Numba: the search in Python made about 1,000 of them a
second on a hundred stops and stalled far from where PyVRP's compiled search got in the same time.

Everything here works on plain integer arrays (the model's, and the search's state, which it changes in place)
and follows ruin_recreate's rules exactly: the same string removal, insertion test, break rule (domain.timeline's,
checked against it by tests/unit/test_ruin_recreate_kernels.py) and annealing. A route k is `routes[k, :sizes[k]]`;
`earliest[k, j]` and `latest[k, j]` are the earliest service start and the latest allowed start at position j of
its path [depot, *route, depot]."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

NEVER = np.iinfo(np.int64).max
NONE = -1
MODEL = ("distance", "transit", "service", "opens", "closes", "weight", "volume", "from_depot", "penalty", "near",
         "pinned", "capacity_weight", "capacity_volume", "shift_start", "shift_end", "rate", "fixed_cost", "kind",
         "has_rest", "rest", "locked")
"""The model's arrays, in the order `iterate` takes them."""


@njit(cache=True, nogil=True)
def seed(value: int) -> None:
    """Numba keeps its own random state: seeded here, a search repeats itself."""
    np.random.seed(value)


@njit(cache=True, nogil=True)
def _node(route: np.ndarray, at: int, u: int, p: int) -> int:
    """Position p of the route with u inserted at `at` (at < 0: nothing inserted)."""
    if at < 0 or p < at:
        return int(route[p])
    if p == at:
        return u
    return int(route[p - 1])


@njit(cache=True, nogil=True)
def break_fits(route: np.ndarray, size: int, at: int, u: int, depart: int, end: int, transit: np.ndarray,
               service: np.ndarray, opens: np.ndarray, closes: np.ndarray, rest_from: int, rest_until: int,
               rest_for: int) -> bool:
    """Whether a van with a break can drive the route (with u inserted at `at`, if at >= 0): every stop
    served by its close, the break started inside its window at a place, back by the shift's end. The same
    sweep as domain.timeline.drive, keeping only what decides feasibility: the earliest day with the break still
    to take, the earliest with it taken and where that one took it, and the first stop the first one is late at."""
    m = size + (1 if at >= 0 else 0)
    free, here = depart, 0
    rested, free_rested, rested_at = False, 0, 0
    first_late = m + 1
    for p in range(m + 1):
        node = 0 if p == m else _node(route, at, u, p)
        leg = transit[here, node] - service[here]
        arrive = free + leg
        have, start_rested, taken = False, 0, 0
        if rested:
            have, start_rested, taken = True, free_rested + leg, rested_at
        if free <= rest_until:
            at_place = max(free, rest_from)
            reached = at_place + rest_for + leg
            if not have or reached < start_rested:
                have, start_rested, taken = True, reached, p
            on_arrival = max(arrive, rest_from)
            if on_arrival <= rest_until and on_arrival + rest_for < start_rested:
                start_rested, taken = on_arrival + rest_for, p
        if p == m:
            if arrive <= rest_from:  # back before the break's window opens: the day is over, no break
                return first_late == m + 1 and arrive <= end
            return have and first_late >= taken and start_rested <= end
        opening = opens[node]
        start = max(arrive, opening)
        if start > closes[node] and first_late == m + 1:
            first_late = p
        free = start + service[node]
        rested = False
        if have:
            begin = max(start_rested, opening)
            if begin <= closes[node]:
                rested, free_rested, rested_at = True, begin + service[node], taken
        here = node
    return False


@njit(cache=True, nogil=True)
def time_route(k: int, routes: np.ndarray, sizes: np.ndarray, earliest: np.ndarray, latest: np.ndarray,
               transit: np.ndarray, opens: np.ndarray, closes: np.ndarray, shift_start: np.ndarray,
               shift_end: np.ndarray) -> None:
    size = sizes[k]
    t = shift_start[k]
    earliest[k, 0] = t
    before = 0
    for j in range(1, size + 2):
        node = routes[k, j - 1] if j <= size else 0
        t = max(t + transit[before, node], opens[node])
        earliest[k, j] = t
        before = node
    t = shift_end[k]
    latest[k, size + 1] = t
    after = 0
    for j in range(size, 0, -1):
        node = routes[k, j - 1]
        t = min(closes[node], t - transit[node, after])
        latest[k, j] = t
        after = node
    latest[k, 0] = t - transit[0, routes[k, 0] if size else 0]


@njit(cache=True, nogil=True)
def route_cost(k: int, routes: np.ndarray, sizes: np.ndarray, distance: np.ndarray, rate: np.ndarray,
               fixed_cost: np.ndarray) -> int:
    size = sizes[k]
    if size == 0:
        return 0
    total, before = 0, 0
    for j in range(size):
        total += distance[before, routes[k, j]]
        before = routes[k, j]
    return int(fixed_cost[k] + rate[k] * (total + distance[before, 0]))


@njit(cache=True, nogil=True)
def _uniform(low: float, high: float) -> float:
    return low + (high - low) * np.random.random()


@njit(cache=True, nogil=True)
def _index(routes: np.ndarray, sizes: np.ndarray, k: int, node: int) -> int:
    for j in range(sizes[k]):
        if routes[k, j] == node:
            return j
    return -1


@njit(cache=True, nogil=True)
def _cut(k: int, begin: int, span: int, stay: int, kept: int, routes: np.ndarray, sizes: np.ndarray,
         owner: np.ndarray, removed: np.ndarray, n_removed: int) -> int:
    """Takes positions begin..begin+span off route k but the kept run from `stay`; returns the new count."""
    size, write = sizes[k], begin
    for j in range(begin, size):
        node = routes[k, j]
        if j < begin + span and not (stay <= j < stay + kept):
            removed[n_removed] = node
            n_removed += 1
            owner[node] = NONE
        else:
            routes[k, write] = node
            write += 1
    sizes[k] = write
    return n_removed


@njit(cache=True, nogil=True)
def ruin(routes: np.ndarray, sizes: np.ndarray, owner: np.ndarray, locked: np.ndarray, pinned: np.ndarray,
         near: np.ndarray, removed: np.ndarray, ruined: np.ndarray, average_removed: float, longest_string: float,
         bypass: float, empty_route_rate: float) -> int:
    """Cuts strings of stops near a random seed stop out of a few routes (some strings split, keeping a run
    in the middle), now and then also empties one of the three shortest routes; marks the routes it touched
    in `ruined` and returns how many stops it put in `removed`."""
    vans = sizes.shape[0]
    used, stops = 0, 0
    for k in range(vans):
        ruined[k] = False
        if sizes[k]:
            used += 1
            stops += sizes[k]
    if used == 0:
        return 0
    longest = min(longest_string, stops / used)
    most = 4 * average_removed / (1 + longest) - 1
    strings = int(_uniform(1, most + 1))
    candidates = 0
    for node in range(1, owner.shape[0]):
        if owner[node] != NONE and not pinned[node]:
            candidates += 1
    if candidates == 0:
        return 0
    pick = np.random.randint(candidates)
    seed_stop = 0
    for node in range(1, owner.shape[0]):
        if owner[node] != NONE and not pinned[node]:
            if pick == 0:
                seed_stop = node
                break
            pick -= 1
    n_removed, n_ruined = 0, 0
    for c in near[seed_stop]:  # the seed itself comes first: it is at distance 0
        if n_ruined >= strings:
            break
        k = owner[c]
        if k == NONE or ruined[k]:
            continue
        first = locked[k]
        free = sizes[k] - first
        at = _index(routes, sizes, k, c)
        if free <= 0 or at < first:
            continue
        length = int(_uniform(1, min(free, longest) + 1))
        kept = 0
        if 1 < length < free and np.random.random() < 0.5:  # a split string: a run in the middle stays
            kept = 1
            while length + kept < free and np.random.random() >= bypass * np.random.random():
                kept += 1
        span = length + kept
        lo, hi = max(first, at - span + 1), min(at, sizes[k] - span)
        begin = np.random.randint(lo, hi + 1) if hi >= lo else first
        stay = np.random.randint(begin + 1, begin + span - kept) if kept else begin + span
        n_removed = _cut(k, begin, span, stay, kept, routes, sizes, owner, removed, n_removed)
        ruined[k] = True
        n_ruined += 1
    if np.random.random() < empty_route_rate:
        n_removed = _empty_a_short_route(routes, sizes, owner, locked, removed, ruined, n_removed)
    return n_removed


@njit(cache=True, nogil=True)
def _empty_a_short_route(routes: np.ndarray, sizes: np.ndarray, owner: np.ndarray, locked: np.ndarray,
                         removed: np.ndarray, ruined: np.ndarray, n_removed: int) -> int:
    """Strings cut near one another seldom empty a route, so a van once opened stays open: this takes every
    free stop off one of the three shortest routes, so the search can find the plan without that van."""
    shortest = np.full(3, -1, dtype=np.int64)
    for k in range(sizes.shape[0]):
        free = sizes[k] - locked[k]
        if free <= 0 or ruined[k]:
            continue
        for slot in range(3):  # kept sorted by (free stops, van)
            other = shortest[slot]
            if other == -1 or free < sizes[other] - locked[other]:
                for move in range(2, slot, -1):
                    shortest[move] = shortest[move - 1]
                shortest[slot] = k
                break
    found = 0
    for slot in range(3):
        if shortest[slot] != -1:
            found += 1
    if found == 0:
        return n_removed
    k = shortest[np.random.randint(found)]
    first = locked[k]
    ruined[k] = True
    return _cut(k, first, sizes[k] - first, sizes[k], 0, routes, sizes, owner, removed, n_removed)


@njit(cache=True, nogil=True)
def order(removed: np.ndarray, n_removed: int, weight: np.ndarray, from_depot: np.ndarray) -> None:
    """Random, heaviest, furthest or nearest first, 4:4:2:1."""
    draw = np.random.random() * 11
    part = removed[:n_removed]
    if draw < 4:
        np.random.shuffle(part)
        return
    if draw < 8:
        keys = -weight[part]
    elif draw < 10:
        keys = -from_depot[part]
    else:
        keys = from_depot[part]
    part[:] = part[np.argsort(keys, kind="mergesort")]


@njit(cache=True, nogil=True)
def recreate(removed: np.ndarray, n_removed: int, left: np.ndarray, routes: np.ndarray, sizes: np.ndarray,
             owner: np.ndarray, earliest: np.ndarray, latest: np.ndarray, load_weight: np.ndarray,
             load_volume: np.ndarray, touched: np.ndarray, distance: np.ndarray, transit: np.ndarray,
             service: np.ndarray, opens: np.ndarray, closes: np.ndarray, weight: np.ndarray, volume: np.ndarray,
             capacity_weight: np.ndarray, capacity_volume: np.ndarray, shift_start: np.ndarray,
             shift_end: np.ndarray, rate: np.ndarray, fixed_cost: np.ndarray, kind: np.ndarray, kinds: int,
             has_rest: np.ndarray, rest: np.ndarray, locked: np.ndarray, blink_rate: float,
             max_break_checks: int, spot_cost: np.ndarray, spot_van: np.ndarray, spot_at: np.ndarray) -> int:
    """Puts each removed stop where it costs least (each spot skipped now and then), the cheapest spot that
    also fits a van's break for a van with one; returns how many stops are left out (in `left`)."""
    vans = sizes.shape[0]
    tried_empty = np.zeros(kinds, dtype=np.bool_)
    n_left = 0
    for r in range(n_removed):
        u = removed[r]
        tried_empty[:] = False
        spots = 0
        for k in range(vans):
            size = sizes[k]
            if size == 0:  # one empty van of each kind is enough to try
                if tried_empty[kind[k]]:
                    continue
                tried_empty[kind[k]] = True
            if load_weight[k] + weight[u] > capacity_weight[k]:
                continue
            if volume[u] and load_volume[k] + volume[u] > capacity_volume[k]:
                continue
            v_rate = rate[k]
            opened = 0 if size else fixed_cost[k]
            before = routes[k, locked[k] - 1] if locked[k] else 0
            for j in range(locked[k], size + 1):
                after = routes[k, j] if j < size else 0
                arrive = max(earliest[k, j] + transit[before, u], opens[u])
                if (arrive <= closes[u] and arrive + transit[u, after] <= latest[k, j + 1]
                        and np.random.random() >= blink_rate):
                    detour = distance[before, u] + distance[u, after] - distance[before, after]
                    spot_cost[spots] = v_rate * detour + opened
                    spot_van[spots] = k
                    spot_at[spots] = j
                    spots += 1
                before = after
        chosen = -1
        for _ in range(max_break_checks):
            best, best_cost = -1, NEVER
            for s in range(spots):
                if spot_cost[s] < best_cost:
                    best, best_cost = s, spot_cost[s]
            if best == -1:
                break
            k = spot_van[best]
            if not has_rest[k] or break_fits(routes[k], sizes[k], spot_at[best], u, shift_start[k], shift_end[k],
                                             transit, service, opens, closes, rest[k, 0], rest[k, 1], rest[k, 2]):
                chosen = best
                break
            spot_cost[best] = NEVER
        if chosen == -1:
            left[n_left] = u
            n_left += 1
            continue
        k, j = spot_van[chosen], spot_at[chosen]
        size = sizes[k]
        for move in range(size, j, -1):
            routes[k, move] = routes[k, move - 1]
        routes[k, j] = u
        sizes[k] = size + 1
        owner[u] = k
        load_weight[k] += weight[u]
        load_volume[k] += volume[u]
        touched[k] = True
        time_route(k, routes, sizes, earliest, latest, transit, opens, closes, shift_start, shift_end)
    return n_left


@njit(cache=True, nogil=True)
def _copy_route(k: int, routes: np.ndarray, sizes: np.ndarray, earliest: np.ndarray, latest: np.ndarray,
                load_weight: np.ndarray, load_volume: np.ndarray, costs: np.ndarray, to_routes: np.ndarray,
                to_sizes: np.ndarray, to_earliest: np.ndarray, to_latest: np.ndarray, to_load_weight: np.ndarray,
                to_load_volume: np.ndarray, to_costs: np.ndarray) -> None:
    size = sizes[k]
    to_routes[k, :size] = routes[k, :size]
    to_earliest[k, :size + 2] = earliest[k, :size + 2]
    to_latest[k, :size + 2] = latest[k, :size + 2]
    to_sizes[k], to_load_weight[k], to_load_volume[k], to_costs[k] = size, load_weight[k], load_volume[k], costs[k]


@njit(cache=True, nogil=True)
def iterate(count: int, temperature: float, patience: int, model: tuple[Any, ...], params: tuple[Any, ...],
            current: tuple[np.ndarray, ...], trial: tuple[np.ndarray, ...], best: tuple[np.ndarray, ...],
            counters: np.ndarray, scratch: tuple[np.ndarray, ...]) -> int:
    """Up to `count` iterations at `temperature` (cost units; the caller cools it between calls); stops early
    once `patience` iterations in a row (patience > 0) found nothing better than the best. `counters` holds the
    iterations done so far, the last one that found a better plan, the current plan's cost, the best's and how
    many stops each leaves out. Returns the iterations done in this call."""
    (distance, transit, service, opens, closes, weight, volume, from_depot, penalty, near, pinned,
     capacity_weight, capacity_volume, shift_start, shift_end, rate, fixed_cost, kind, has_rest, rest,
     locked) = model
    kinds = kind.max() + 1
    average_removed, longest_string, bypass, empty_route_rate, blink_rate, max_break_checks = params
    routes, sizes, earliest, latest, load_weight, load_volume, costs, left = current
    t_routes, t_sizes, t_earliest, t_latest, t_load_weight, t_load_volume, t_costs, owner, t_left = trial
    best_routes, best_sizes, best_left = best
    removed, ruined, touched, spot_cost, spot_van, spot_at = scratch
    vans = sizes.shape[0]
    for step in range(count):
        if patience > 0 and counters[0] - counters[1] >= patience:
            return step
        counters[0] += 1
        n_removed = ruin(t_routes, t_sizes, owner, locked, pinned, near, removed, ruined, average_removed,
                         longest_string, bypass, empty_route_rate)
        for k in range(vans):
            touched[k] = ruined[k]
            if ruined[k]:
                time_route(k, t_routes, t_sizes, t_earliest, t_latest, transit, opens, closes, shift_start,
                           shift_end)
                t_load_weight[k], t_load_volume[k] = 0, 0
                for j in range(t_sizes[k]):
                    t_load_weight[k] += weight[t_routes[k, j]]
                    t_load_volume[k] += volume[t_routes[k, j]]
        for i in range(counters[4]):  # the stops the current plan leaves out are tried again every time
            removed[n_removed] = left[i]
            n_removed += 1
        order(removed, n_removed, weight, from_depot)
        n_left = recreate(removed, n_removed, t_left, t_routes, t_sizes, owner, t_earliest, t_latest, t_load_weight,
                          t_load_volume, touched, distance, transit, service, opens, closes, weight, volume,
                          capacity_weight, capacity_volume, shift_start, shift_end, rate, fixed_cost, kind, kinds,
                          has_rest, rest, locked, blink_rate, max_break_checks, spot_cost, spot_van, spot_at)
        cost = 0
        for k in range(vans):
            if touched[k]:
                t_costs[k] = route_cost(k, t_routes, t_sizes, distance, rate, fixed_cost)
            cost += t_costs[k]
        for i in range(n_left):
            cost += penalty[t_left[i]]
        if cost < counters[2] - temperature * math.log(1 - np.random.random()):
            for k in range(vans):
                if touched[k]:
                    _copy_route(k, t_routes, t_sizes, t_earliest, t_latest, t_load_weight, t_load_volume, t_costs,
                                routes, sizes, earliest, latest, load_weight, load_volume, costs)
            left[:n_left] = t_left[:n_left]
            counters[2], counters[4] = cost, n_left
            if cost < counters[3]:
                best_routes[:, :] = routes
                best_sizes[:] = sizes
                best_left[:n_left] = left[:n_left]
                counters[1], counters[3], counters[5] = counters[0], cost, n_left
        else:
            for k in range(vans):
                if touched[k]:
                    for j in range(t_sizes[k]):
                        owner[t_routes[k, j]] = NONE
            for k in range(vans):
                if touched[k]:
                    _copy_route(k, routes, sizes, earliest, latest, load_weight, load_volume, costs,
                                t_routes, t_sizes, t_earliest, t_latest, t_load_weight, t_load_volume, t_costs)
                    for j in range(sizes[k]):
                        owner[routes[k, j]] = k
    return count
