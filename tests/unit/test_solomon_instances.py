"""Solomon instances in both spellings read to the same problem; the classic text's fleet is the default one, and
a file that is neither says where it goes wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.routing.solomon import FLEET, InstanceError, parse, read

DEPOT = (0, 40, 50, 0, 0, 1236, 0)
CUSTOMERS = [(1, 45, 68, 10, 912, 967, 90), (2, 45, 70, 30, 825, 870, 90), (3, 42, 66, 10, 65, 146, 60),
             (4, 42, 68, 10, 727, 782, 90)]


def classic(fleet: int = 7, capacity: int = 200, rows: list[tuple[float, ...]] | None = None) -> str:
    """The text Solomon published: blank lines, headings and right-aligned columns as in C101.txt."""
    body = "\n".join("  ".join(f"{v:>6}" for v in row) for row in [DEPOT, *(CUSTOMERS if rows is None else rows)])
    return (f"C101\n\nVEHICLE\nNUMBER     CAPACITY\n  {fleet:>3}         {capacity}\n\nCUSTOMER\n"
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n" + body + "\n")


def vrplib() -> str:
    """The same instance as ../shared/data/solomon spells it: node 1 the depot, one service time for all."""
    nodes = [DEPOT, *CUSTOMERS]
    return "\n".join(["NAME : C101", "TYPE : CVRPTW", f"DIMENSION : {len(nodes)}", "VEHICLES : 2", "CAPACITY : 200",
                      "SERVICE_TIME : 90", "EDGE_WEIGHT_TYPE : EXACT_2D", "NODE_COORD_SECTION",
                      *(f"{n[0] + 1} {n[1]} {n[2]}" for n in nodes), "DEMAND_SECTION",
                      *(f"{n[0] + 1} {n[3]}" for n in nodes), "DEPOT_SECTION", "1", "-1", "TIME_WINDOW_SECTION",
                      *(f"{n[0] + 1} {n[4]} {n[5]}" for n in nodes), "EOF"]) + "\n"


def write(tmp_path: Path, text: str, name: str = "instance.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_both_spellings_read_to_the_same_depot_stops_and_capacity(tmp_path: Path) -> None:
    old, new = read(write(tmp_path, classic(), "C101.txt")), read(write(tmp_path, vrplib(), "C101.vrp"))
    assert (old.depot, old.hours, old.capacity) == (new.depot, new.hours, new.capacity)
    assert [(s.at, s.window, s.weight) for s in old.stops] == [(s.at, s.window, s.weight) for s in new.stops]
    assert [s.id for s in old.stops] == ["1", "2", "3", "4"]  # the file's own customer numbers
    assert [s.id for s in new.stops] == ["2", "3", "4", "5"]


def test_the_classic_text_keeps_each_customers_own_service_time(tmp_path: Path) -> None:
    assert [s.service for s in read(write(tmp_path, classic())).stops] == [90, 90, 60, 90]


def test_the_classic_fleet_is_the_default_and_a_vrplib_file_has_none(tmp_path: Path) -> None:
    old, new = read(write(tmp_path, classic(fleet=7), "a.txt")), read(write(tmp_path, vrplib(), "b.vrp"))
    assert old.fleet == 7 and len(old.problem().vehicles) == 7 and len(old.problem(3).vehicles) == 3
    assert new.fleet is None and len(new.problem().vehicles) == len(new.stops)  # VEHICLES 2 is a target
    assert len(parse(tmp_path / "a.txt").vehicles) == 7
    assert len(parse(tmp_path / "b.vrp").vehicles) == FLEET and len(parse(tmp_path / "b.vrp", 4).vehicles) == 4


@pytest.mark.parametrize(("text", "says"), [
    ("just some words\n", "neither a NODE_COORD_SECTION nor VEHICLE and CUSTOMER sections"),
    (classic().replace("  7         200", "seven vans"), "the VEHICLE section has no NUMBER and CAPACITY line"),
    (classic(fleet=0), "VEHICLE NUMBER must be a whole number of vans, at least 1, not 0"),
    (classic(capacity=0), "the vans' capacity must be above 0, not 0"),
    (classic(rows=[(1, 45, 68, -10, 912, 967, 90)]), "customer 1 has a negative demand or service time"),
    (classic().replace("  912  ", "  nan  "), "line 11 is not a customer row"),
    (vrplib().replace("CAPACITY : 200", "CAPACITY : inf"), "'inf' is not a finite number"),
    (classic(rows=[(1, 45, 68, 10, 912, 967)]), "line 11 is not a customer row"),
    (classic(rows=[]), "a depot and at least one customer are needed, found 1 row(s)"),
    (classic(rows=[CUSTOMERS[0], CUSTOMERS[0]]), "customer number 1 repeats"),
    (classic(rows=[(1.5, 45, 68, 10, 912, 967, 90)]), "customer number 1.5 is not a whole number"),
    (classic(rows=[(1, 45, 68, 10, 967, 912, 90)]), "a window cannot end (912.0) before it starts (967.0)"),
    ("CUSTOMER\n0 40 50 0 0 1236 0\nVEHICLE\n25 200\n", "a VEHICLE section, then a CUSTOMER section"),
    (vrplib().replace("CAPACITY : 200\n", ""), "not a Solomon-format instance ('CAPACITY')"),
])
def test_a_file_that_is_not_an_instance_is_refused_saying_why(tmp_path: Path, text: str, says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InstanceError) as refused:
        read(path)
    assert str(path) in str(refused.value) and says in str(refused.value)
