"""Order intake throughput and latency: shop.orders -> orders worker(s) -> orders.events.

Starts Apache Kafka (deploy/kafka/broker.sh) and an embedded PostgreSQL unless given external ones,
publishes N orders (optionally at a fixed rate), and prints sustained orders/s and p50/p99/max
latency from the order.placed record's timestamp to its order.accepted record's timestamp, plus
the workers' peak memory. Figures, never pass/fail.

    python bench/orders_intake.py --orders 20000 --workers 2
    python bench/orders_intake.py --orders 5000 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.embedded import EmbeddedPostgres, free_port  # noqa: E402
from services.common.kafka_io import partitions_of  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.common.topics import apply_spec, load_spec  # noqa: E402


def order(i: int, now: datetime) -> bytes:
    lines = [{"line_id": str(n), "sku": f"SKU-{(i * 7 + n) % 2000:04d}", "quantity": 1 + n % 3,
              "unit_price": "4.50"} for n in range(1 + i % 5)]
    total = sum(4.5 * line["quantity"] for line in lines)  # type: ignore[misc]
    start = now + timedelta(days=1)
    return json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": "order.placed", "schema_version": 1,
        "occurred_at": now.isoformat(), "source": "shop:bench", "correlation_id": f"b-{i}",
        "payload": {"order_id": f"b-{i}", "shop_id": "bench", "placed_at": now.isoformat(), "currency": "EUR",
                    "customer": {"name": "Bench"},
                    "delivery_address": {"line1": "x", "city": "Gent", "postcode": "9000", "country": "BE",
                                         "latitude": 51.05, "longitude": 3.72},
                    "delivery_window": {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
                    "lines": lines, "total": f"{total:.2f}"}}).encode()


async def publish(settings: Settings, count: int, rate: float) -> dict[str, int]:
    """Send orders; returns order id -> send timestamp (ms) as the broker recorded it."""
    producer = AIOKafkaProducer(**settings.aiokafka_options(), acks="all", linger_ms=5)
    await producer.start()
    sent: dict[str, int] = {}
    try:
        now = datetime.now(UTC)
        started = time.monotonic()
        pending = []
        for i in range(count):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append((f"b-{i}", await producer.send(settings.topic("shop.orders"), order(i, now),
                                                          key=f"b-{i}".encode())))
        for order_id, future in pending:
            sent[order_id] = (await future).timestamp
    finally:
        await producer.stop()
    return sent


async def collect(settings: Settings, count: int, timeout_s: float) -> dict[str, int]:
    topic = settings.topic("orders.events")
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, int] = {}
    try:
        parts = [TopicPartition(topic, p) for p in await partitions_of(settings, topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout_s
        while len(seen) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    seen.setdefault(record.key.decode(), record.timestamp)
    finally:
        await consumer.stop()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0, help="orders/s to publish at; 0 = as fast as possible")
    parser.add_argument("--kafka-bootstrap", help="use this broker instead of starting Apache Kafka")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fulfil-bench-"))
    broker_port = None
    bootstrap = args.kafka_bootstrap
    if not bootstrap:
        broker_port = free_port()
        subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "start", str(broker_port)], check=True)
        bootstrap = f"127.0.0.1:{broker_port}"
    postgres = EmbeddedPostgres(work / "pg")
    postgres.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        postgres.create_database("bench")
        namespace = f"bench{uuid.uuid4().hex[:6]}."
        env = {"FULFIL_KAFKA_BOOTSTRAP": bootstrap, "FULFIL_DATABASE_URL": postgres.url("bench"),
               "FULFIL_TOPIC_NAMESPACE": namespace, "FULFIL_LOG_LEVEL": "warning", "FULFIL_LOG_FORMAT": "json"}
        settings = Settings(kafka_bootstrap=bootstrap, database_url=postgres.url("bench"), topic_namespace=namespace)
        upgrade(settings)
        asyncio.run(apply_spec(settings, load_spec()))
        for n in range(args.workers):
            workers.append(subprocess.Popen([sys.executable, "-m", "services.cli", "worker", "orders"],
                                            env={**os.environ, **env}, cwd=ROOT,
                                            stdout=(work / f"worker-{n}.log").open("wb"), stderr=subprocess.STDOUT))
        time.sleep(8)  # group join and assignment
        peak_rss = [0] * len(workers)
        t0 = time.monotonic()
        sent = asyncio.run(publish(settings, args.orders, args.rate))
        t_sent = time.monotonic() - t0
        seen = asyncio.run(collect(settings, args.orders, timeout_s=max(120, args.orders / 50)))
        for i, w in enumerate(workers):
            peak_rss[i] = max(peak_rss[i], psutil.Process(w.pid).memory_info().rss)
        latencies = sorted(seen[k] - sent[k] for k in seen if k in sent)
        span_ms = max(seen.values()) - min(sent.values()) if seen else 0
        print(f"orders: {args.orders}  workers: {args.workers}  publish rate: {args.rate or 'max'}/s  "
              f"broker: {'Apache Kafka ' + bootstrap if broker_port else bootstrap}")
        print(f"published in {t_sent:.1f} s; processed {len(seen)}/{args.orders}")
        if latencies:
            print(f"sustained throughput: {len(seen) / (span_ms / 1000):.0f} orders/s "
                  f"(first send to last order.accepted: {span_ms / 1000:.1f} s)")
            q = statistics.quantiles(latencies, n=100)
            print(f"latency placed->accepted: p50 {q[49]:.0f} ms  p99 {q[98]:.0f} ms  max {latencies[-1]} ms")
        print("worker RSS: " + ", ".join(f"{r / 2**20:.0f} MiB" for r in peak_rss))
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        postgres.stop()
        if broker_port:
            subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "stop", str(broker_port)], check=False)


if __name__ == "__main__":
    main()
