"""Solomon VRPTW instances in the VRPLIB-style text of ../shared/data/solomon, as a routing Problem: the
benchmark goes through the same model building, solver and plan reading as the service."""

from __future__ import annotations

from pathlib import Path

from services.routing.domain.problem import Euclidean, Point, Problem, Stop, Vehicle, Window

FLEET = 25
"""The classic Solomon fleet, which the benchmark plans with; a file's VEHICLES field is the best-known
solution's count (a target), not the fleet."""


class InstanceError(ValueError):
    pass


def parse(path: Path, fleet: int | None = FLEET) -> Problem:
    """The instance as a Problem with `fleet` vans (None: one per stop, always enough to serve every stop)."""
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = line
            sections[current] = []
        elif ":" in line and current is None:
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
        elif current is not None:
            sections[current].append(line.split())
    try:
        coords = {int(r[0]): Point(float(r[1]), float(r[2])) for r in sections["NODE_COORD_SECTION"]}
        demand = {int(r[0]): float(r[1]) for r in sections["DEMAND_SECTION"]}
        windows = {int(r[0]): Window(float(r[1]), float(r[2])) for r in sections["TIME_WINDOW_SECTION"]}
        service = float(header.get("SERVICE_TIME", "0"))
        capacity = float(header["CAPACITY"])
    except (KeyError, IndexError, ValueError) as exc:
        raise InstanceError(f"{path}: not a Solomon-format instance ({exc!r})") from None
    if 1 not in coords:
        raise InstanceError(f"{path}: node 1 (the depot) is missing")
    stops = [Stop(id=str(node), at=coords[node], window=windows[node], service=service, weight=demand[node])
             for node in sorted(coords) if node != 1]
    hours = windows[1]
    vehicles = [Vehicle(id=f"V{k + 1}", capacity_weight=capacity, capacity_volume=0.0, shift=hours)
                for k in range(len(stops) if fleet is None else fleet)]
    return Problem.build(coords[1], hours, stops, vehicles, Euclidean())
