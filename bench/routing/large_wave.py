"""A 1,000-stop dispatch wave through the service's own path (shipment rows -> problem -> waves.solve: integer
model, PyVRP or OR-Tools with ruin and recreate, plan), within the configured time limit (FULFIL_ROUTING_TIME_LIMIT_S, default 10 s). Stops are
spread over a 25 km radius around a depot with 2-hour windows between 08:00 and 18:00; 45 vans of 800 kg.
Prints what the solve reached: stops routed and dropped (with reasons), vans used, distance, solver status,
and the time each phase took.

    python bench/routing/large_wave.py
    python bench/routing/large_wave.py --stops 1000 --vans 45 --seed 7
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.routing.domain.plan import violations  # noqa: E402
from services.routing.settings import RoutingSettings  # noqa: E402
from services.routing.waves import Wave, solve, solver_params, wave_problem  # noqa: E402

DEPOT = (52.52, 13.40)


def shipments(n: int, day: date, zone: ZoneInfo, rng: random.Random) -> list[SimpleNamespace]:
    rows = []
    for i in range(n):
        r, a = 25 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat = DEPOT[0] + r * math.cos(a) / 111.0
        lon = DEPOT[1] + r * math.sin(a) / (111.0 * math.cos(math.radians(DEPOT[0])))
        start = datetime(day.year, day.month, day.day, rng.randrange(8, 16), tzinfo=zone)
        rows.append(SimpleNamespace(shipment_id=f"S{i:04d}", latitude=lat, longitude=lon, window_start=start,
                                    window_end=start + timedelta(hours=2), weight_kg=rng.uniform(1, 20),
                                    volume_m3=rng.uniform(0.005, 0.1), priority=0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stops", type=int, default=1000)
    parser.add_argument("--vans", type=int, default=45)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-breaks", action="store_true", help="Vans without the 30-minute lunch break")
    args = parser.parse_args()
    settings = RoutingSettings()
    zone = ZoneInfo("Europe/Berlin")
    day = datetime.now(zone).date() + timedelta(days=1)
    rng = random.Random(args.seed)
    depot = SimpleNamespace(depot_id="WH-BIG", latitude=DEPOT[0], longitude=DEPOT[1], time_zone="Europe/Berlin")
    vans = [SimpleNamespace(vehicle_id=f"VAN-{k:02d}", capacity_kg=800.0, capacity_m3=6.0, shift_start="08:00",
                            shift_end="18:00", break_start="12:00", break_end="14:00",
                            break_minutes=None if args.no_breaks else 30,
                            cost_per_km=0.35, fixed_cost=40.0) for k in range(args.vans)]
    wave = Wave(depot, vans, shipments(args.stops, day, zone, rng), datetime.now(UTC).replace(microsecond=0), day)

    t0 = time.monotonic()
    problem = wave_problem(wave, settings)
    t1 = time.monotonic()
    params = solver_params(settings)
    plan, raw = solve(problem, params, eta_half_width_s=settings.routing_eta_half_width_min * 60, started=t0)
    t2 = time.monotonic()
    wrong = violations(problem, [[v.stop for v in route.visits] for route in plan.routes])
    routed = sum(len(r.visits) for r in plan.routes)
    print(f"{args.stops} stops, {args.vans} vans, time limit {params.time_limit_s:g} s (engine {params.engine}: "
          f"PyVRP without breaks, else OR-Tools {params.first_solution} then ruin and recreate)")
    print(f"routed {routed}, dropped {len(plan.dropped)} {dict(Counter(d.code for d in plan.dropped))}, "
          f"vans used {plan.vehicles}, distance {plan.distance:.1f} km, solver {raw.status}")
    print(f"matrix {t1 - t0:.2f} s, solver {raw.seconds:.2f} s ({raw.iterations} search iterations), "
          f"total {t2 - t0:.2f} s (limit {params.time_limit_s:g} s); peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print("plan feasible" if not wrong else f"PLAN NOT FEASIBLE: {wrong[:3]}")


if __name__ == "__main__":
    main()
