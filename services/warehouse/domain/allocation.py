"""Multi-warehouse allocation: which warehouses ship which lines of an order, and why.

The rule chain, each rule a tie-breaker for the one before:
  1. single_warehouse   the whole order from one warehouse, where any can;
  2. fewest_shipments   otherwise the smallest set of warehouses that ships the most;
  3. shortest_distance  then the shortest total distance to the customer;
  4. priority           then warehouse priority (lower number first), then warehouse id.
The rule that finally told the candidates apart is reported, with a sentence a person can read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations

from services.warehouse.domain.errors import WarehouseError

EARTH_RADIUS_KM = 6371.0088
MAX_SUBSETS = 20_000
"""Past this many warehouse combinations the split search turns greedy (it stays correct, maybe not minimal)."""


class Policy(StrEnum):
    """A shop's choice when an order cannot ship complete now."""

    SHIP_AVAILABLE = "ship_available"  # ship what is in stock, backorder the rest
    SHIP_COMPLETE = "ship_complete"  # hold the whole order until every unit can ship


class Rule(StrEnum):
    SINGLE_WAREHOUSE = "single_warehouse"
    FEWEST_SHIPMENTS = "fewest_shipments"
    SHORTEST_DISTANCE = "shortest_distance"
    PRIORITY = "priority"
    NO_STOCK = "no_stock"
    HELD_FOR_COMPLETE = "held_for_complete"


@dataclass(frozen=True, slots=True)
class Line:
    line_id: str
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise WarehouseError(f"line {self.line_id}: quantity must be positive, got {self.quantity}")


@dataclass(frozen=True, slots=True)
class Site:
    """A warehouse as allocation sees it."""

    warehouse_id: str
    latitude: float
    longitude: float
    priority: int = 100


@dataclass(frozen=True, slots=True)
class PlannedShipment:
    warehouse_id: str
    lines: tuple[Line, ...]
    distance_km: float


@dataclass(frozen=True, slots=True)
class Plan:
    shipments: tuple[PlannedShipment, ...]
    backordered: tuple[Line, ...]
    rule: Rule
    explanation: str

    def taken(self) -> dict[tuple[str, str], int]:
        """(warehouse_id, sku) -> units this plan reserves."""
        totals: dict[tuple[str, str], int] = {}
        for shipment in self.shipments:
            for line in shipment.lines:
                key = (shipment.warehouse_id, line.sku)
                totals[key] = totals.get(key, 0) + line.quantity
        return totals


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(a_lat), math.radians(b_lat)
    dphi, dlmb = phi2 - phi1, math.radians(b_lon - a_lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


Stock = Mapping[tuple[str, str], int]
"""(warehouse_id, sku) -> units available (on hand minus reserved)."""


class _Instance:
    """One allocation problem with the per-SKU demand and the sites' distances worked out once."""

    def __init__(self, lines: Sequence[Line], customer: tuple[float, float], sites: Sequence[Site],
                 available: Stock) -> None:
        self.lines = lines
        self.demand: dict[str, int] = {}
        for line in lines:
            self.demand[line.sku] = self.demand.get(line.sku, 0) + line.quantity
        self.available = available
        self.distance = {s.warehouse_id: distance_km(s.latitude, s.longitude, *customer) for s in sites}
        skus = list(self.demand)
        self.needs = [self.demand[sku] for sku in skus]
        # Per site, units it could give of each demanded SKU (capped at the demand): coverage is then sums.
        self.gives = {s.warehouse_id: [min(need, max(0, available.get((s.warehouse_id, sku), 0)))
                                       for sku, need in zip(skus, self.needs, strict=True)] for s in sites}
        self.sites = sorted((s for s in sites if any(self.gives[s.warehouse_id])), key=self.site_key)

    def site_key(self, site: Site) -> tuple[float, int, str]:
        return (round(self.distance[site.warehouse_id], 6), site.priority, site.warehouse_id)

    def coverage(self, subset: Iterable[Site]) -> int:
        columns = [self.gives[s.warehouse_id] for s in subset]
        if not columns:
            return 0
        if len(columns) == 1:
            return sum(columns[0])
        return sum(min(need, sum(units)) for need, units in zip(self.needs, zip(*columns, strict=True), strict=True))

    def subset_key(self, subset: Sequence[Site]) -> tuple[float, tuple[int, ...], tuple[str, ...]]:
        return (round(sum(self.distance[s.warehouse_id] for s in subset), 6),
                tuple(sorted(s.priority for s in subset)), tuple(sorted(s.warehouse_id for s in subset)))


def allocate(lines: Sequence[Line], customer: tuple[float, float], sites: Sequence[Site], available: Stock,
             policy: Policy) -> Plan:
    """Plan the shipments of one order against `available`; never plans more than is available."""
    if not lines:
        raise WarehouseError("an order needs at least one line to allocate")
    problem = _Instance(lines, customer, sites, available)
    total = sum(problem.demand.values())
    best_coverage = problem.coverage(problem.sites)
    if best_coverage == 0:
        return Plan((), tuple(lines), Rule.NO_STOCK,
                    "No warehouse has any of these SKUs available; every line is backordered.")
    if policy is Policy.SHIP_COMPLETE and best_coverage < total:
        short = total - best_coverage
        return Plan((), tuple(lines), Rule.HELD_FOR_COMPLETE,
                    f"The shop ships orders complete and {short} of {total} unit(s) are not in stock in any "
                    f"warehouse; the whole order is held until they are.")
    chosen, rule, why = _choose_sites(problem, best_coverage, total)
    shipments, backordered = _assign(problem, chosen)
    explanation = why
    if backordered:
        units = sum(line.quantity for line in backordered)
        explanation += f" {units} unit(s) on {len(backordered)} line(s) are not in stock anywhere and are backordered."
    return Plan(shipments, backordered, rule, explanation)


def _choose_sites(problem: _Instance, best: int, total: int) -> tuple[tuple[Site, ...], Rule, str]:
    sites = problem.sites
    whole = best == total
    for size in range(1, len(sites) + 1):
        if math.comb(len(sites), size) > MAX_SUBSETS:
            return _greedy(problem, best)
        candidates = [c for c in combinations(sites, size) if problem.coverage(c) == best]
        if candidates:
            candidates.sort(key=problem.subset_key)
            return candidates[0], *_why(problem, candidates, whole)
    raise AssertionError("the set of every site reaches the best coverage")  # pragma: no cover


def _why(problem: _Instance, candidates: list[tuple[Site, ...]], whole: bool) -> tuple[Rule, str]:
    winner = candidates[0]
    names = " + ".join(s.warehouse_id for s in winner)
    size = len(winner)
    km = sum(problem.distance[s.warehouse_id] for s in winner)
    if size == 1:
        scope = "can ship the whole order" if whole else "holds everything that is in stock"
        first_rule, opening = Rule.SINGLE_WAREHOUSE, f"{names} {scope}"
    else:
        scope = "" if whole else " of what is in stock"
        first_rule = Rule.FEWEST_SHIPMENTS
        opening = (f"No single warehouse holds every line{scope}; {names} ship it in {size} shipments, "
                   f"the fewest possible")
    if len(candidates) == 1:
        return first_rule, f"{opening} ({km:.1f} km); no other choice does."
    runner = candidates[1]
    runner_km = sum(problem.distance[s.warehouse_id] for s in runner)
    others = f"{len(candidates)} choices qualify"
    if round(km, 6) < round(runner_km, 6):
        return Rule.SHORTEST_DISTANCE, (f"{opening}; {others} and it is the nearest ({km:.1f} km, next "
                                        f"{' + '.join(s.warehouse_id for s in runner)} at {runner_km:.1f} km).")
    priorities = ", ".join(str(s.priority) for s in winner)
    return Rule.PRIORITY, (f"{opening}; {others} at the same distance ({km:.1f} km) and it has the best "
                           f"warehouse priority ({priorities}).")


def _greedy(problem: _Instance, best: int) -> tuple[tuple[Site, ...], Rule, str]:
    """Too many warehouses to try every combination: add the one that covers most, nearest first."""
    chosen: list[Site] = []
    while problem.coverage(chosen) < best:
        gain = min((s for s in problem.sites if s not in chosen),
                   key=lambda s: (-problem.coverage([*chosen, s]), problem.site_key(s)))
        chosen.append(gain)
    names = " + ".join(s.warehouse_id for s in chosen)
    return tuple(chosen), Rule.FEWEST_SHIPMENTS, (
        f"No single warehouse holds every line; {names} ship it in {len(chosen)} shipments (chosen greedily "
        f"among {len(problem.sites)} warehouses).")


def _assign(problem: _Instance, chosen: Sequence[Site]) -> tuple[tuple[PlannedShipment, ...], tuple[Line, ...]]:
    """Lines to the chosen sites: a line goes whole to the nearest site that can fill it, else it is split
    nearest first; whatever no chosen site has is backordered."""
    left = {(s.warehouse_id, sku): max(0, problem.available.get((s.warehouse_id, sku), 0))
            for s in chosen for sku in problem.demand}
    order = sorted(chosen, key=problem.site_key)
    per_site: dict[str, list[Line]] = {s.warehouse_id: [] for s in order}
    backordered: list[Line] = []
    for line in problem.lines:
        whole = next((s for s in order if left[(s.warehouse_id, line.sku)] >= line.quantity), None)
        sources = [whole] if whole else order
        need = line.quantity
        for site in sources:
            take = min(need, left[(site.warehouse_id, line.sku)])
            if take:
                left[(site.warehouse_id, line.sku)] -= take
                per_site[site.warehouse_id].append(Line(line.line_id, line.sku, take))
                need -= take
        if need:
            backordered.append(Line(line.line_id, line.sku, need))
    shipments = tuple(PlannedShipment(wid, tuple(lines), problem.distance[wid])
                      for wid, lines in per_site.items() if lines)
    return shipments, tuple(backordered)
