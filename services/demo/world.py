"""A city-sized world from a seed: three warehouses around the centre with bins in zones and aisles, a
catalogue of SKUs with weights, stock and reorder points, vans per depot, and customers' addresses."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

CENTRE = (52.52, 13.405)  # Berlin
RADIUS_KM = 14.0
TIME_ZONE = "Europe/Berlin"


@dataclass(frozen=True)
class Sku:
    sku: str
    price: str
    weight_kg: float
    volume_m3: float


@dataclass(frozen=True)
class World:
    seed: int
    warehouses: list[dict[str, Any]]  # the layout file's warehouses, with stock
    skus: list[Sku]
    stocked: dict[str, list[str]]  # sku -> warehouses holding it

    def layout(self) -> dict[str, Any]:
        return {"warehouses": self.warehouses, "shops": {"demo-shop": "ship_available"}}

    def fleet(self) -> dict[str, Any]:
        return {"depots": [{
            "id": w["id"], "latitude": w["latitude"], "longitude": w["longitude"], "time_zone": TIME_ZONE,
            "service_radius_km": 16, "cutoffs": [],  # the simulator closes waves itself
            "vehicles": [{"id": f"VAN-{w['id'][-1]}", "count": 4, "capacity_kg": 400, "capacity_m3": 4,
                          "shift": "08:00-20:00", "break": {"between": "12:00-14:00", "minutes": 30},
                          "cost_per_km": 0.35, "fixed_cost": 40}]} for w in self.warehouses]}

    def address(self, rng: random.Random) -> tuple[float, float]:
        """A point in the city (a few just outside the vans' area: they go to a carrier)."""
        r = RADIUS_KM * math.sqrt(rng.random()) * (1.5 if rng.random() < 0.03 else 1.0)
        a = rng.uniform(0, 2 * math.pi)
        return (CENTRE[0] + r * math.cos(a) / 111.0,
                CENTRE[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(CENTRE[0]))))


def offset(km_north: float, km_east: float) -> tuple[float, float]:
    return (round(CENTRE[0] + km_north / 111.0, 5),
            round(CENTRE[1] + km_east / (111.0 * math.cos(math.radians(CENTRE[0]))), 5))


def generate(seed: int, skus: int = 520) -> World:
    rng = random.Random(seed)
    catalogue = [Sku(f"SKU-{i:04d}", f"{rng.choice([4.99, 9.99, 14.5, 19.99, 29.0, 49.9]):.2f}",
                     round(rng.uniform(0.1, 4.0), 3), round(rng.uniform(0.001, 0.02), 4)) for i in range(1, skus + 1)]
    sites = [("WH-N", "North", offset(7, -1)), ("WH-SE", "South-East", offset(-4, 6)), ("WH-SW", "South-West", offset(-4, -7))]
    warehouses: list[dict[str, Any]] = []
    stocked: dict[str, list[str]] = {}
    for priority, (wid, name, (lat, lon)) in enumerate(sites, 1):
        zones, aisles, bays, levels = ["A", "B", "C"], 8, 12, 3
        bins = [f"{z}-{a:02d}-{b:02d}-{lv}" for z in zones for a in range(1, aisles + 1)
                for b in range(1, bays + 1) for lv in range(1, levels + 1)]
        rng.shuffle(bins)
        held = [s for s in catalogue if rng.random() < 0.7]
        stock = []
        for sku, bin_id in zip(held, bins, strict=False):  # as many SKUs as there are bins
            on_hand = rng.choice([0, 2, 5, 10, 20, 40]) if rng.random() < 0.9 else 0
            stock.append({"sku": sku.sku, "bin": bin_id, "on_hand": on_hand, "reorder_point": 3})
            stocked.setdefault(sku.sku, []).append(wid)
        warehouses.append({"id": wid, "name": f"Demo {name}", "latitude": lat, "longitude": lon, "priority": priority,
                           "grid": {"zones": zones, "aisles": aisles, "bays": bays, "levels": levels}, "stock": stock})
    return World(seed, warehouses, catalogue, stocked)
