"""Allocation throughput and latency: shop.orders -> orders worker(s) -> orders.events -> warehouse worker(s)
-> warehouse.events, on Apache Kafka and an embedded PostgreSQL.

A generated network of W warehouses stocks S SKUs (each warehouse holds about 70% of them, 0-40 units
each, so some orders ship from one warehouse, some split and some backorder). N orders of 1-5 lines are
published (optionally at a fixed rate); the figures are sustained orders/s from the first order.placed to
the last order's first warehouse answer (stock.reserved, or order.backordered when nothing is in stock),
p50/p99 latency between the two, and how the orders were allocated. Pick waves close as configured.

    python bench/warehouse_allocation.py                       # 20,000 orders, as fast as possible
    python bench/warehouse_allocation.py --orders 10000 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from datetime import UTC, datetime

from harness import collect, infrastructure, publish, report, wait_until_counted
from orders_intake import orders
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.warehouse import layout


def bin_of(s: int) -> str:
    return f"A-{1 + s // 200:02d}-{1 + s % 200 // 10:02d}-{1 + s % 10 // 3}"


def network(warehouses: int, skus: int, seed: int) -> layout.Layout:
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
    return layout.Layout.model_validate({"warehouses": sites})


def warehouse_answer(key: bytes, value: bytes) -> str | None:
    """The order id of a stock.reserved or order.backordered (keyed by order id); cheap, so that the
    benchmark's own reader takes little CPU from the system it measures."""
    head = value[:200]
    if (b'"event_type":"stock.reserved"' in head or b'"event_type":"order.backordered"' in head) and key[:2] == b"b-":
        return key.decode()
    return None


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
    args = parser.parse_args()
    with infrastructure(args.kafka_bootstrap, **dict(s.split("=", 1) for s in args.set)) as bench:
        engine = create_engine(bench.settings.database_url)
        with engine.begin() as connection:
            layout.apply(Session(bind=connection), network(args.warehouses, args.skus, args.seed), datetime.now(UTC))
        for _ in range(args.orders_workers):
            bench.start_worker("orders")
        for _ in range(args.warehouse_workers):
            bench.start_worker("warehouse")
        time.sleep(10)  # group joins and assignment
        if args.warmup:
            asyncio.run(publish(bench.settings, "shop.orders", orders(args.warmup, prefix="w", sku_prefix="WARM",
                                                                      skus=args.skus), 0))
            wait_until_counted(bench.settings, "warehouse.orders", args.warmup, timeout_s=300)
            time.sleep(3)
            # Steady state: a database that has run for a minute has been analysed by autovacuum. Without
            # statistics (tables filled within seconds) PostgreSQL guesses and scans whole tables.
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        cpu_before = bench.cpu_seconds()
        t0 = time.monotonic()
        sent = asyncio.run(publish(bench.settings, "shop.orders", orders(args.orders, skus=args.skus), args.rate))
        print(f"orders: {args.orders}  warehouses: {args.warehouses}  skus: {args.skus}  workers: "
              f"{args.orders_workers} orders + {args.warehouse_workers} warehouse  publish rate: "
              f"{args.rate or 'max'}/s  broker: {bench.broker}; published in {time.monotonic() - t0:.1f} s")
        wait_until_counted(bench.settings, "warehouse.orders", args.warmup + args.orders,
                           timeout_s=max(180, args.orders / 40))
        time.sleep(1)  # the last batch's events are published just after its commit
        seen = asyncio.run(collect(bench.settings, "warehouse.events", args.orders,
                                   timeout_s=max(180, args.orders / 40), key_of=warehouse_answer))
        report(sent, seen, "order.placed->stock.reserved")
        print("worker RSS: " + ", ".join(f"{r:.0f} MiB" for r in bench.rss_mib()))
        cpu = {k: v - cpu_before.get(k, 0) for k, v in bench.cpu_seconds().items()}
        print("CPU per order: " + ", ".join(f"{k} {1000 * v / args.orders:.2f} ms" for k, v in cpu.items()))
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


if __name__ == "__main__":
    main()
