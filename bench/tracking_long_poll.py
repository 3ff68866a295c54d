"""Idle long polls: what holding them costs the tracking API process, and how fast a waiting client hears of a
change. N clients hold `GET /track/{n}?wait=60` with the current ETag (each on its own parcel) against one
`fulfil api tracking` process; the process's CPU is measured over a quiet stretch; then one parcel changes (its
row and a NOTIFY in one transaction, as the tracking handler does) and the time until its client answers is
measured, several times.

With --base REV the same runs first against that git revision's code (exported beside), back to back, and the
ratio is printed: the machine is shared and noisy, so the comparison is what counts.

    python bench/tracking_long_poll.py [--polls 1000] [--seconds 20] [--base 94834cd]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.embedded import EmbeddedPostgres, free_port, wait_for_port  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.migrations import upgrade  # noqa: E402

FILL = """
INSERT INTO tracking.shipments (shipment_id, shop_id, order_id, warehouse_id, tracking_number, status, status_at,
                                eta_start, eta_end, version, updated_at)
SELECT 'SH-' || i, 'shop-1', 'o-' || i, 'WH-1', 'FL' || lpad(i::text, 16, '0') || 'X', 'planned', now(),
       now() + interval '2 hours', now() + interval '4 hours', 1, now() FROM generate_series(1, :n) AS i
"""
CHANGE = """
UPDATE tracking.shipments SET version = version + 1, status = 'out_for_delivery' WHERE tracking_number = :n;
SELECT pg_notify('tracking_changed', :n)
"""


def number(i: int) -> str:
    return f"FL{i:016d}X"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hold(base: str, polls: int, seconds: float, pid: int, engine_url: str, changes: int) -> dict[str, float]:
    engine = create_engine(engine_url)
    connector = aiohttp.TCPConnector(limit=0)
    answered: dict[str, float] = {}
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:
        async def poll(i: int) -> None:
            async with http.get(f"/track/{number(i)}", params={"wait": "60"},
                                headers={"If-None-Match": '"1"'}) as answer:
                await answer.read()
                answered[number(i)] = time.perf_counter()

        tasks = [asyncio.create_task(poll(i)) for i in range(1, polls + 1)]
        await asyncio.sleep(5)  # every poll connected and waiting
        before, t0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(seconds)
        idle_cpu = (cpu_seconds(pid) - before) / (time.perf_counter() - t0)
        latencies = []
        for k in range(1, changes + 1):
            changed = number(k)
            started = time.perf_counter()
            with engine.begin() as connection:
                for statement in CHANGE.split(";"):
                    connection.execute(text(statement), {"n": changed})
            while changed not in answered and time.perf_counter() - started < 60:
                await asyncio.sleep(0.005)
            latencies.append(answered.get(changed, float("inf")) - started)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    engine.dispose()
    return {"cpu": idle_cpu, "p50": statistics.median(latencies), "max": max(latencies)}


def run(tree: Path, polls: int, seconds: float, changes: int, work: Path, label: str) -> dict[str, float]:
    postgres = EmbeddedPostgres(work / f"pg-{label}")
    postgres.start()
    server = None
    try:
        postgres.create_database("bench")
        url = postgres.url("bench")
        upgrade(Settings(database_url=url))
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(FILL), {"n": polls})
        engine.dispose()
        port = free_port()
        env = {**os.environ, "FULFIL_DATABASE_URL": url, "FULFIL_LOG_FORMAT": "json",
               "FULFIL_TRACKING_RATE_PER_S": "1000000", "FULFIL_TRACKING_RATE_BURST": "1000000",
               "PYTHONPATH": str(tree)}
        server = subprocess.Popen([sys.executable, "-m", "services.cli", "api", "tracking", "--port", str(port)],
                                  env=env, cwd=tree, stdout=(work / f"api-{label}.log").open("wb"),
                                  stderr=subprocess.STDOUT)
        wait_for_port(port, 30, server)
        return asyncio.run(hold(f"http://127.0.0.1:{port}", polls, seconds, server.pid, url, changes))
    finally:
        if server is not None:
            server.kill()  # a thousand held requests would only slow a polite stop
            server.wait(10)
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--base", help="a git revision to run the same against first")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fulfil-bench-"))
    trees = [("current", ROOT)]
    if args.base:
        base_tree = work / "base"
        base_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(base_tree)], input=archive.stdout, check=True)
        trees.insert(0, (f"base {args.base}", base_tree))
    results = {}
    for label, tree in trees:
        results[label] = run(tree, args.polls, args.seconds, args.changes, work, label.split()[0])
        r = results[label]
        print(f"{label:>16}: {args.polls} idle long polls cost {r['cpu'] * 100:.1f}% of a core; a change reached "
              f"its client in {r['p50'] * 1000:.0f} ms (median of {args.changes}), {r['max'] * 1000:.0f} ms at most",
              flush=True)
    if args.base:
        base, current = results[f"base {args.base}"], results["current"]
        print(f"ratio current/base: CPU {current['cpu'] / max(base['cpu'], 1e-9):.3f}, "
              f"median wake-up {current['p50'] / max(base['p50'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
