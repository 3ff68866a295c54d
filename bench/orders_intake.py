"""Order intake throughput and latency: shop.orders -> orders worker(s) -> orders.events.

Starts Apache Kafka (deploy/kafka/broker.sh) and an embedded PostgreSQL unless given a broker,
publishes N orders (optionally at a fixed rate), and prints sustained orders/s and p50/p99/max
latency from the order.placed record's timestamp to its order.accepted record's timestamp, plus
the workers' memory. Figures, never pass/fail.

    python bench/orders_intake.py --orders 20000 --workers 2
    python bench/orders_intake.py --orders 5000 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import collect, infrastructure, publish, report, wait_until_counted


def order(i: int, now: datetime, skus: int = 2000, shops: int = 1, prefix: str = "b", sku_prefix: str = "SKU"
          ) -> bytes:
    lines = [{"line_id": str(n), "sku": f"{sku_prefix}-{(i * 7 + n * 131) % skus:04d}", "quantity": 1 + (i + n) % 3,
              "unit_price": "4.50"} for n in range(1 + i % 5)]
    total = sum(4.5 * line["quantity"] for line in lines)  # type: ignore[misc]
    start = now + timedelta(days=1)
    return json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": "order.placed", "schema_version": 1,
        "occurred_at": now.isoformat(), "source": f"shop:shop-{i % shops}", "correlation_id": f"{prefix}-{i}",
        "payload": {"order_id": f"{prefix}-{i}", "shop_id": f"shop-{i % shops}", "placed_at": now.isoformat(),
                    "currency": "EUR", "customer": {"name": "Bench"},
                    "delivery_address": {"line1": "x", "city": "Gent", "postcode": "9000", "country": "BE",
                                         "latitude": 50.5 + (i % 97) / 97, "longitude": 3.5 + (i % 89) / 89},
                    "delivery_window": {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
                    "lines": lines, "total": f"{total:.2f}"}}).encode()


def orders(count: int, prefix: str = "b", **kwargs: Any) -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    return [(f"{prefix}-{i}", order(i, now, prefix=prefix, **kwargs)) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0, help="orders/s to publish at; 0 = as fast as possible")
    parser.add_argument("--shops", type=int, default=1, help="shops the orders come from, each with its own key")
    parser.add_argument("--kafka-bootstrap", help="use this broker instead of starting Apache Kafka")
    args = parser.parse_args()
    with infrastructure(args.kafka_bootstrap) as bench:
        for _ in range(args.workers):
            bench.start_worker("orders")
        time.sleep(8)  # group join and assignment
        t0 = time.monotonic()
        sent = asyncio.run(publish(bench, "shop.orders", orders(args.orders, shops=args.shops), args.rate))
        print(f"orders: {args.orders}  shops: {args.shops}  workers: {args.workers}  publish rate: {args.rate or 'max'}/s  "
              f"broker: {bench.broker}; published in {time.monotonic() - t0:.1f} s")
        wait_until_counted(bench.settings, "orders.orders", args.orders,
                           timeout_s=max(120, args.orders / 50))
        time.sleep(1)  # the last batch's events are published just after its commit
        seen = asyncio.run(collect(bench.settings, "orders.events", args.orders, timeout_s=60,
                                   key_of=lambda key, _: key.decode().rpartition("/")[2]))  # <shop>/<order>
        report(sent, seen, "placed->accepted")
        print("worker RSS: " + ", ".join(f"{r:.0f} MiB" for r in bench.rss_mib()))


if __name__ == "__main__":
    main()
