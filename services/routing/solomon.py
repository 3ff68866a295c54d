"""Solomon VRPTW instances as a routing Problem, so that the benchmark and `fulfil routing solve` go through the
same model building, solver and plan reading as the service. Two spellings are read: the VRPLIB-style text of
../shared/data/solomon (node 1 the depot) and the classic text Solomon and Gehring & Homberger published
(a VEHICLE section with the fleet, then one CUSTOMER row a node, customer 0 the depot)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from services.routing.domain.problem import Break, Euclidean, Point, Problem, Stop, Vehicle, Window

FLEET = 25
"""The classic Solomon fleet, which the benchmark plans with; a VRPLIB-style file's VEHICLES field is the
best-known solution's count (a target), not the fleet."""


class InstanceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Instance:
    depot: Point
    hours: Window
    stops: list[Stop]
    capacity: float
    fleet: int | None
    """Vans the file gives the fleet (the classic text's VEHICLE NUMBER); None where its format has no fleet."""

    def __post_init__(self) -> None:
        if self.capacity <= 0:
            raise ValueError(f"the vans' capacity must be above 0, not {self.capacity:g}")
        for stop in self.stops:
            if stop.weight < 0 or stop.service < 0:
                raise ValueError(f"customer {stop.id} has a negative demand or service time")

    def problem(self, vans: int | None = None, rest: Break | None = None) -> Problem:
        """With `vans` vans; by default the file's fleet, else one per stop (always enough to serve every stop);
        each driver takes `rest`, if given."""
        count = vans if vans is not None else self.fleet if self.fleet is not None else len(self.stops)
        vehicles = [Vehicle(id=f"V{k + 1}", capacity_weight=self.capacity, capacity_volume=0.0, shift=self.hours,
                            rest=rest) for k in range(count)]
        return Problem.build(self.depot, self.hours, self.stops, vehicles, Euclidean())


def parse(path: Path, fleet: int | None = None, rest: Break | None = None) -> Problem:
    """The instance as the benchmark plans it: with `fleet` vans, by default the file's own fleet, else FLEET."""
    instance = read(path)
    return instance.problem(fleet if fleet is not None else instance.fleet if instance.fleet is not None else FLEET,
                            rest)


def parse_break(text: str) -> Break:
    """`START-END/MINUTES`, in the instance's time units: a break of MINUTES starting between START and END."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*", text)
    if found is None:
        raise ValueError(f"a break is START-END/MINUTES, e.g. 92-138/30, not {text!r}")
    start, end, duration = (float(g) for g in found.groups())
    if end < start:
        raise ValueError(f"a break's window cannot end ({end:g}) before it starts ({start:g})")
    if duration <= 0:
        raise ValueError(f"a break lasts more than 0, not {duration:g}")
    return Break(Window(start, end), duration)


def read(path: Path) -> Instance:
    text = path.read_text()
    try:
        if "NODE_COORD_SECTION" in text:
            return _vrplib(text, path)
        if "CUSTOMER" in text.upper() and "VEHICLE" in text.upper():
            return _classic(text, path)
    except InstanceError:
        raise
    except (KeyError, IndexError, ValueError) as exc:
        raise InstanceError(f"{path}: not a Solomon-format instance ({exc})") from None
    raise InstanceError(f"{path}: not a Solomon-format instance (neither a NODE_COORD_SECTION nor VEHICLE and "
                        "CUSTOMER sections)")


def _number(token: str) -> float:
    """A figure of the file; nan and inf parse as floats but are no figure of an instance."""
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"{token!r} is not a finite number")
    return value


def _vrplib(text: str, path: Path) -> Instance:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in text.splitlines():
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
    coords = {int(r[0]): Point(_number(r[1]), _number(r[2])) for r in sections["NODE_COORD_SECTION"]}
    demand = {int(r[0]): _number(r[1]) for r in sections["DEMAND_SECTION"]}
    windows = {int(r[0]): Window(_number(r[1]), _number(r[2])) for r in sections["TIME_WINDOW_SECTION"]}
    service = _number(header.get("SERVICE_TIME", "0"))
    capacity = _number(header["CAPACITY"])
    if 1 not in coords:
        raise InstanceError(f"{path}: node 1 (the depot) is missing")
    stops = [Stop(id=str(node), at=coords[node], window=windows[node], service=service, weight=demand[node])
             for node in sorted(coords) if node != 1]
    return Instance(coords[1], windows[1], stops, capacity, None)


def _numbers(line: str) -> list[float] | None:
    try:
        return [_number(token) for token in line.split()]
    except ValueError:
        return None


def _classic(text: str, path: Path) -> Instance:
    """VEHICLE, a NUMBER CAPACITY heading and the two figures; CUSTOMER, a heading, then rows of CUST NO., X, Y,
    DEMAND, READY TIME, DUE DATE, SERVICE TIME, the depot first."""
    lines = [line.strip() for line in text.splitlines()]
    upper = [line.upper() for line in lines]
    vehicle = next((i for i, line in enumerate(upper) if line.startswith("VEHICLE")), None)
    customer = next((i for i, line in enumerate(upper) if line.startswith("CUSTOMER")), None)
    if vehicle is None or customer is None or customer < vehicle:
        raise InstanceError(f"{path}: a VEHICLE section, then a CUSTOMER section, are needed")
    fleet_line = next((n for line in lines[vehicle + 1:customer] if (n := _numbers(line)) and len(n) == 2), None)
    if fleet_line is None:
        raise InstanceError(f"{path}: the VEHICLE section has no NUMBER and CAPACITY line")
    if fleet_line[0] < 1 or fleet_line[0] != int(fleet_line[0]):
        raise InstanceError(f"{path}: VEHICLE NUMBER must be a whole number of vans, at least 1, not {fleet_line[0]:g}")
    rows: list[list[float]] = []
    for number, line in enumerate(lines[customer + 1:], customer + 2):
        if not line or line.upper().startswith("CUST"):
            continue
        values = _numbers(line)
        if values is None or len(values) != 7:
            raise InstanceError(f"{path}: line {number} is not a customer row (CUST NO., XCOORD., YCOORD., DEMAND, "
                                f"READY TIME, DUE DATE, SERVICE TIME): {line[:80]!r}")
        rows.append(values)
    if len(rows) < 2:
        raise InstanceError(f"{path}: a depot and at least one customer are needed, found {len(rows)} row(s)")
    seen: set[float] = set()
    for row in rows:
        if row[0] != int(row[0]) or row[0] < 0:
            raise InstanceError(f"{path}: customer number {row[0]:g} is not a whole number of at least 0")
        if row[0] in seen:
            raise InstanceError(f"{path}: customer number {row[0]:g} repeats")
        seen.add(row[0])
    depot, customers = rows[0], rows[1:]
    stops = [Stop(id=str(int(c[0])), at=Point(c[1], c[2]), window=Window(c[4], c[5]), service=c[6], weight=c[3])
             for c in customers]
    return Instance(Point(depot[1], depot[2]), Window(depot[4], depot[5]), stops, fleet_line[1], int(fleet_line[0]))
