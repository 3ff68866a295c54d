"""Allocation throughput and latency: shop.orders -> orders worker(s) -> orders.events -> warehouse worker(s)
-> warehouse.events, on Apache Kafka and an embedded PostgreSQL.

A generated network of W warehouses stocks S SKUs (each warehouse holds about 70% of them, 0-40 units
each, so some orders ship from one warehouse, some split and some backorder). N orders of 1-5 lines are
published (optionally at a fixed rate); the figures are sustained orders/s from the first order.placed to
the last order's first warehouse answer (stock.reserved, or order.backordered when nothing is in stock),
p50/p99 latency between the two, CPU per order of each worker, of PostgreSQL and of the broker, and how the orders were
allocated. Pick waves close as configured.

With --base REV it compares: the base revision (a git worktree of it, migrating its own schema) and this
checkout run alternately, each round on fresh infrastructure, and it prints every run, the medians and the ratio;
--profile records each worker with py-spy (running threads, not the GIL's last holder) during the measured orders and says
where its CPU went.

    python bench/warehouse_allocation.py                       # 20,000 orders, as fast as possible
    python bench/warehouse_allocation.py --orders 10000 --rate 500
    python bench/warehouse_allocation.py --base 5e3af55 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness import (
    ROOT,
    Waits,
    checkout,
    collect,
    infrastructure,
    profile,
    profile_summary,
    publish,
    report,
    runtime_share,
    wait_until_counted,
)
from orders_intake import orders
from sqlalchemy import create_engine, text


def bin_of(s: int) -> str:
    return f"A-{1 + s // 200:02d}-{1 + s % 200 // 10:02d}-{1 + s % 10 // 3}"


def network(warehouses: int, skus: int, seed: int) -> dict[str, Any]:
    """The measured SKU-* stock, plus plenty of WARM-* stock everywhere for the warm-up orders, which so leave
    the measured stock alone yet fill shipments, lines and pick lists as real traffic does."""
    rng = random.Random(seed)
    sites = []
    for w in range(warehouses):
        stock = [{"sku": f"SKU-{s:04d}", "bin": bin_of(s), "on_hand": rng.randint(0, 40), "reorder_point": 5}
                 for s in range(skus) if rng.random() < 0.7]
        stock += [{"sku": f"WARM-{s:04d}", "bin": bin_of(s), "on_hand": 1_000_000} for s in range(skus)]
        sites.append({"id": f"WH-{w + 1}", "name": f"Warehouse {w + 1}", "latitude": 50.5 + rng.random(),
                      "longitude": 3.5 + rng.random() * 2, "priority": w + 1,
                      "grid": {"zones": ["A"], "aisles": 1 + skus // 200, "bays": 20, "levels": 4}, "stock": stock})
    return {"warehouses": sites}


def first_answer(*event_types: str) -> Callable[[bytes, bytes], str | None]:
    """A record's measured order id when it is one of `event_types` (keyed by `<shop>/<order>`, or by the order id
    in revisions before per-shop identity); cheap, so that the benchmark's own reader takes little CPU from the
    system it measures."""
    wanted = [f'"event_type":"{t}"'.encode() for t in event_types]

    def order_of(key: bytes, value: bytes) -> str | None:
        head, order = value[:200], key.rpartition(b"/")[2]
        return order.decode() if order[:2] == b"b-" and any(w in head for w in wanted) else None

    return order_of


warehouse_answer = first_answer("stock.reserved", "order.backordered")
"""The warehouse's first answer to a measured order."""
orders_answer = first_answer("order.accepted", "order.rejected")
"""The orders worker's answer: when it published its verdict."""


def _quantiles(values: Iterable[float]) -> list[float]:
    found = list(values)
    return statistics.quantiles(found, n=100) if len(found) > 1 else [0.0] * 99


def measure(args: argparse.Namespace, code: Path, label: str) -> dict[str, Any]:
    """One run on fresh infrastructure: the figures, also printed."""
    with infrastructure(args.kafka_bootstrap, code, **dict(s.split("=", 1) for s in args.set)) as bench:
        engine = create_engine(bench.settings.database_url)
        spec = bench.work / "network.json"
        spec.write_text(json.dumps(network(args.warehouses, args.skus, args.seed)))
        bench.fulfil("warehouses", "load", str(spec))
        for _ in range(args.orders_workers):
            bench.start_worker("orders")
        for _ in range(args.warehouse_workers):
            bench.start_worker("warehouse")
        time.sleep(10)  # group joins and assignment
        bench.check_workers()
        if args.warmup:
            asyncio.run(publish(bench, "shop.orders", orders(args.warmup, prefix="w", sku_prefix="WARM",
                                                                      skus=args.skus, shops=args.shops), 0))
            wait_until_counted(bench.settings, "warehouse.orders", args.warmup, timeout_s=300)
            time.sleep(3)
            # Steady state: a database that has run for a minute has been analysed by autovacuum. Without
            # statistics (tables filled within seconds) PostgreSQL guesses and scans whole tables.
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        spy = None
        if args.profile:
            pids = {f"{label}-{w.args[-1]}-{i}": w.pid for i, w in enumerate(bench.workers)}
            spy = profile(pids, max(5.0, args.orders / 1000), bench.work)
        waits = Waits(bench.settings) if args.waits else None
        cpu_before = bench.cpu_seconds()
        t0 = time.monotonic()
        sent = asyncio.run(publish(bench, "shop.orders", orders(args.orders, skus=args.skus,
                                                                         shops=args.shops), args.rate))
        print(f"[{label}] orders: {args.orders}  warehouses: {args.warehouses}  skus: {args.skus}  workers: "
              f"{args.orders_workers} orders + {args.warehouse_workers} warehouse  publish rate: "
              f"{args.rate or 'max'}/s  broker: {bench.broker}; published in {time.monotonic() - t0:.1f} s")
        wait_until_counted(bench.settings, "warehouse.orders", args.warmup + args.orders,
                           timeout_s=max(180, args.orders / 40))
        time.sleep(1)  # the last batch's events are published just after its commit
        cpu = {k: v - cpu_before.get(k, 0) for k, v in bench.cpu_seconds().items()}
        if waits is not None:
            print(f"PostgreSQL's active backends waited on: {waits.summary()}")
        seen = asyncio.run(collect(bench.settings, "warehouse.events", args.orders,
                                   timeout_s=max(180, args.orders / 40), key_of=warehouse_answer))
        figures = report(sent, seen, "order.placed->stock.reserved")
        accepted = asyncio.run(collect(bench.settings, "orders.events", args.orders,
                                       timeout_s=max(180, args.orders / 40), key_of=orders_answer))
        print("stages (p50/p99 ms): " + ", ".join(
            f"{name} {q[49]:.0f}/{q[98]:.0f}" for name, q in (
                ("placed->accepted", _quantiles(accepted[k] - sent[k] for k in accepted if k in sent)),
                ("accepted->reserved", _quantiles(seen[k] - accepted[k] for k in seen if k in accepted)))))
        print("worker RSS: " + ", ".join(f"{r:.0f} MiB" for r in bench.rss_mib()))
        if batches := bench.batches():
            print(f"batches: {batches}")
        per_order = {k: 1000 * v / args.orders for k, v in cpu.items()}
        print("CPU per order: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_order.items()))
        with engine.connect() as connection:
            shipments = Counter(dict(connection.execute(text(
                "SELECT n, count(*) FROM (SELECT count(*) AS n FROM warehouse.shipments WHERE order_id LIKE 'b-%' "
                "GROUP BY order_id) x "
                "GROUP BY n")).all()))
            rules = dict(connection.execute(text(
                "SELECT rule, count(DISTINCT order_id) FROM warehouse.shipments WHERE order_id LIKE 'b-%' GROUP BY rule")).all())
            waiting = connection.execute(text(
                "SELECT count(DISTINCT order_id) FROM warehouse.backorders WHERE order_id LIKE 'b-%'")).scalar()
            lists = connection.execute(text("SELECT count(DISTINCT picklist_id) FROM warehouse.shipments "
                                            "WHERE order_id LIKE 'b-%'")).scalar()
        print(f"orders by shipment count: {dict(sorted(shipments.items()))}; deciding rule: {rules}; "
              f"orders with a backorder: {waiting}; pick lists issued: {lists}")
        engine.dispose()
        if spy is not None:
            spy.wait(60)
            for name in pids:
                if (bench.work / f"{name}.txt").exists():
                    kept = Path(tempfile.gettempdir()) / "fulfil-profiles" / f"{name}.txt"
                    kept.parent.mkdir(exist_ok=True)
                    shutil.copy(bench.work / f"{name}.txt", kept)
                    print(f"profile {name}: {profile_summary(kept)} (collapsed stacks: {kept})")
                    runtime, loop = runtime_share(kept)
                    print(f"profile {name}: the stream runtime (Faust, mode, its consumer thread) owns {100 * runtime:.0f}% "
                          f"of the samples, the event loop on its own {100 * loop:.0f}%")
        return {**figures, "cpu_ms": per_order}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--warehouses", type=int, default=5)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0, help="orders/s to publish at; 0 = as fast as possible")
    parser.add_argument("--orders-workers", type=int, default=1)
    parser.add_argument("--warehouse-workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20000,
                        help="orders sent first, not measured, so that the broker's JVM and the workers are warm "
                             "and the tables hold history (their WARM-* SKUs leave the measured stock alone)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every worker, e.g. --set batch_size=500")
    parser.add_argument("--kafka-bootstrap", help="use this broker instead of starting Apache Kafka")
    parser.add_argument("--shops", type=int, default=1, help="orders spread over this many shops")
    parser.add_argument("--base", help="a git revision to compare with, e.g. 5e3af55 (the code before Faust came back)")
    parser.add_argument("--rounds", type=int, default=2, help="with --base: runs of each, alternating")
    parser.add_argument("--profile", action="store_true", help="py-spy each worker during the measured orders")
    parser.add_argument("--waits", action="store_true",
                        help="sample what PostgreSQL's active backends wait on during the measured orders")
    args = parser.parse_args()
    if not args.base:
        measure(args, ROOT, "current")
        return
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "current": []}
    with checkout(args.base) as base:
        for n in range(args.rounds):
            for label, code in (("base", base), ("current", ROOT)) if n % 2 == 0 else (("current", ROOT), ("base", base)):
                runs[label].append(measure(args, code, label))
    print(f"\n{'':8} {'run':>4} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7}   CPU per order (ms)")
    for label, found in runs.items():
        for i, r in enumerate(found, 1):
            print(f"{label:8} {i:>4} {r['throughput']:>9.0f} {r['p50']:>7.0f} {r['p99']:>7.0f}   "
                  + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms"].items()))
    base_rate = statistics.median(r["throughput"] for r in runs["base"])
    rate = statistics.median(r["throughput"] for r in runs["current"])
    print(f"median orders/s: base {args.base} {base_rate:.0f}, current {rate:.0f}; ratio {rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
