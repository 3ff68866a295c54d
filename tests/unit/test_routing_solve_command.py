"""`fulfil routing solve`: a fleet of its own size or the one asked for, a seed, a time limit counted from the
command's start, and a failing exit that names the customers a plan leaves unserved."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 30


def instance(directory: Path) -> Path:
    """A Solomon-format instance: 30 customers of 40 units around the depot, vans of 200, wide windows."""
    coords = [(40, 50)] + [(10 + (7 * n) % 60, 10 + (11 * n) % 70) for n in range(1, CUSTOMERS + 1)]
    lines = ["NAME : T30", "TYPE : CVRPTW", f"DIMENSION : {CUSTOMERS + 1}", "VEHICLES : 6", "CAPACITY : 200",
             "SERVICE_TIME : 10", "EDGE_WEIGHT_TYPE : EXACT_2D", "NODE_COORD_SECTION"]
    lines += [f"{n} {x} {y}" for n, (x, y) in enumerate(coords, 1)]
    lines += ["DEMAND_SECTION"] + [f"{n} {0 if n == 1 else 40}" for n in range(1, CUSTOMERS + 2)]
    lines += ["DEPOT_SECTION", "1", "-1", "TIME_WINDOW_SECTION"]
    lines += [f"{n} 0 1000" for n in range(1, CUSTOMERS + 2)] + ["EOF"]
    path = directory / "T30.vrp"
    path.write_text("\n".join(lines) + "\n")
    return path


def classic_instance(directory: Path, fleet: int) -> Path:
    """The same 30 customers in the classic text, whose VEHICLE section gives the fleet (customer 0 the depot)."""
    rows = [(0, 40, 50, 0, 0, 1000, 0)] + [(n, 10 + (7 * n) % 60, 10 + (11 * n) % 70, 40, 0, 1000, 10)
                                          for n in range(1, CUSTOMERS + 1)]
    text = (f"T30\n\nVEHICLE\nNUMBER     CAPACITY\n  {fleet}         200\n\nCUSTOMER\n"
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
            + "\n".join("  ".join(f"{v:>6}" for v in row) for row in rows) + "\n")
    path = directory / "T30.txt"
    path.write_text(text)
    return path


def solve(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "routing", "solve", str(path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_every_customer_is_served_by_default(tmp_path: Path) -> None:
    done = solve(instance(tmp_path), "--time-limit", "2", "--json", "--seed", "7")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["unserved"] == [] and plan["feasible"]
    assert sorted(c for route in plan["routes"] for c in route) == list(range(2, CUSTOMERS + 2))
    assert plan["vehicles"] >= 6  # 30 x 40 units in vans of 200: the file's VEHICLES (6) is not a cap


def test_the_time_limit_counts_from_the_start_of_the_command(tmp_path: Path) -> None:
    """What the command spent before solving (starting Python, reading the file) comes off the solver's time:
    with 2 s asked for and 1.5 s gone, the solver is given the least it ever gets, half a second."""
    from services.routing.domain.model import IntModel
    from services.routing.solomon import parse
    from services.routing.solver import RawSolution, SolverParams
    from services.routing.waves import solve as solve_problem

    given: list[float] = []

    class Recorder:
        def solve(self, model: IntModel, params: SolverParams) -> RawSolution:
            given.append(params.time_limit_s)
            return RawSolution([[] for _ in model.vehicles], list(range(1, len(model.distance))), 0, 0.0, "fake")

    problem = parse(instance(tmp_path))
    solve_problem(problem, SolverParams(time_limit_s=2), solver=Recorder(), started=time.monotonic() - 1.5)
    solve_problem(problem, SolverParams(time_limit_s=60), solver=Recorder(), started=time.monotonic() - 10)
    assert given[0] == 0.5 and 49 < given[1] <= 50


def test_too_few_vehicles_exit_1_naming_the_unserved_customers(tmp_path: Path) -> None:
    done = solve(instance(tmp_path), "--time-limit", "1", "--vehicles", "3")
    assert done.returncode == 1
    assert "customer(s) unserved with 3 vehicle(s):" in done.stderr
    named = done.stderr.split("vehicle(s):")[1].split()
    assert len(named) == CUSTOMERS - 15 and all(2 <= int(n) <= CUSTOMERS + 1 for n in named)  # 3 vans x 5


def test_the_classic_texts_fleet_is_the_default_and_vehicles_overrides_it(tmp_path: Path) -> None:
    short = solve(classic_instance(tmp_path, fleet=3), "--time-limit", "1")
    assert short.returncode == 1
    assert "customer(s) unserved with 3 vehicle(s):" in short.stderr  # the file's fleet, not one van per stop
    assert len(short.stderr.split("vehicle(s):")[1].split()) == CUSTOMERS - 15
    enough = solve(classic_instance(tmp_path, fleet=3), "--time-limit", "1", "--vehicles", "8", "--json")
    assert enough.returncode == 0, enough.stderr
    plan = json.loads(enough.stdout)
    assert plan["unserved"] == [] and plan["feasible"]
    assert sorted(c for route in plan["routes"] for c in route) == list(range(1, CUSTOMERS + 1))


def test_a_file_that_is_no_instance_gets_a_precise_message(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("VEHICLE\nNUMBER CAPACITY\n25 200\nCUSTOMER\n0 40 50 0 0 1236\n")
    done = solve(path)
    assert done.returncode != 0 and "line 5 is not a customer row" in done.stderr and "Traceback" not in done.stderr
