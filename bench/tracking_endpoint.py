"""The customer's tracking endpoint under polling load: `GET /track/{n}` with N shipments (default 100,000,
each with 5 checkpoints) in an embedded PostgreSQL, served by `fulfil api tracking` (one uvicorn process).

Two paths: 200 (a full answer: shipment and checkpoints read, JSON written) and 304 (the client sends the
ETag it has; the shipment is read, nothing is written). Clients pick tracking numbers at random. Reports
requests/s and p50/p99 latency per path. The load generator runs on the same machine (2 cores here), so the
figures are what one API process serves while sharing the CPU with its clients.

    python bench/tracking_endpoint.py
    python bench/tracking_endpoint.py --shipments 100000 --seconds 15 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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
INSERT INTO tracking.orders (order_id, shop_id, status, accepted_at, updated_at)
SELECT 'o-' || i, 'shop-' || (i % 50), 'accepted', now(), now() FROM generate_series(1, :n) AS i;
INSERT INTO tracking.shipments (shipment_id, shop_id, order_id, warehouse_id, tracking_number, status, status_at,
                                eta_start, eta_end, version, updated_at)
SELECT 'SH-' || i, 'shop-' || (i % 50), 'o-' || i, 'WH-' || (i % 5), 'FL' || lpad(i::text, 16, '0') || 'X', 'planned', now(),
       now() + interval '2 hours', now() + interval '4 hours', 1, now() FROM generate_series(1, :n) AS i;
INSERT INTO tracking.checkpoints (shipment_id, at, status, place, source_event_id)
SELECT 'SH-' || i, now() - (5 - k) * interval '1 hour',
       (ARRAY['allocated', 'picking', 'packed', 'planned', 'planned'])[k], 'WH-' || (i % 5), gen_random_uuid()
  FROM generate_series(1, :n) AS i, generate_series(1, 5) AS k;
ANALYZE;
"""


def number(i: int) -> str:
    return f"FL{i:016d}X"


async def load(base: str, shipments: int, seconds: float, concurrency: int, etag: bool) -> tuple[int, list[float]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    rng = random.Random(1)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as http:
        async def client() -> None:
            headers = {"If-None-Match": '"1"'} if etag else {}
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.get(f"/track/{number(rng.randint(1, shipments))}", headers=headers) as answer:
                    await answer.read()
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1
                latencies.append(time.perf_counter() - started)
        await asyncio.gather(*(client() for _ in range(concurrency)))
    expected = 304 if etag else 200
    if set(statuses) != {expected}:
        raise SystemExit(f"unexpected answers: {statuses}")
    return len(latencies), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fulfil-bench-"))
    postgres = EmbeddedPostgres(work / "pg")
    postgres.start()
    server = None
    try:
        postgres.create_database("bench")
        env = {"FULFIL_DATABASE_URL": postgres.url("bench"), "FULFIL_LOG_FORMAT": "json",
               "FULFIL_TRACKING_RATE_PER_S": "1000000000", "FULFIL_TRACKING_RATE_BURST": "1000000000"}
        settings = Settings(database_url=env["FULFIL_DATABASE_URL"])
        upgrade(settings)
        engine = create_engine(settings.database_url)
        t0 = time.monotonic()
        with engine.begin() as connection:
            for statement in FILL.split(";"):
                if statement.strip():
                    connection.execute(text(statement), {"n": args.shipments})
        engine.dispose()
        print(f"shipments: {args.shipments} (5 checkpoints each), loaded in {time.monotonic() - t0:.1f} s; "
              f"concurrency {args.concurrency}, {args.seconds:.0f} s per path")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "services.cli", "api", "tracking", "--port", str(port)],
                                  env={**os.environ, **env}, cwd=ROOT, stdout=(work / "api.log").open("wb"),
                                  stderr=subprocess.STDOUT)
        wait_for_port(port, 30, server)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(load(base, args.shipments, 2, args.concurrency, etag=False))  # warm-up
        for label, etag in (("200 (full answer)", False), ("304 (If-None-Match)", True)):
            count, latencies = asyncio.run(load(base, args.shipments, args.seconds, args.concurrency, etag))
            q = statistics.quantiles(latencies, n=100)
            print(f"{label}: {count / args.seconds:.0f} requests/s  p50 {q[49] * 1000:.1f} ms  "
                  f"p99 {q[98] * 1000:.1f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        postgres.stop()


if __name__ == "__main__":
    main()
