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


def solve(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "routing", "solve", str(path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_every_customer_is_served_by_default_and_the_time_limit_counts_from_the_start(tmp_path: Path) -> None:
    began = time.monotonic()
    done = solve(instance(tmp_path), "--time-limit", "2", "--json", "--seed", "7")
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["unserved"] == [] and plan["feasible"]
    assert sorted(c for route in plan["routes"] for c in route) == list(range(2, CUSTOMERS + 2))
    assert plan["vehicles"] >= 6  # 30 x 40 units in vans of 200: the file's VEHICLES (6) is not a cap
    assert took < 2 + 1.5, f"a 2 s limit took {took:.1f} s from the start of the command"


def test_too_few_vehicles_exit_1_naming_the_unserved_customers(tmp_path: Path) -> None:
    done = solve(instance(tmp_path), "--time-limit", "1", "--vehicles", "3")
    assert done.returncode == 1
    assert "customer(s) unserved with 3 vehicle(s):" in done.stderr
    named = done.stderr.split("vehicle(s):")[1].split()
    assert len(named) == CUSTOMERS - 15 and all(2 <= int(n) <= CUSTOMERS + 1 for n in named)  # 3 vans x 5
