"""The fault suite: Fulfil under load with faults, audited from outside.

Real Apache Kafka (or the embedded Tansu) and real PostgreSQL; two workers each for orders, warehouse and
tracking. A shop places orders with exact re-sends, cancellations and poison messages (including ones just under
the broker's size limit) while warehouse staff receive stock; meanwhile workers are killed with -9 at random,
PostgreSQL is stopped for longer than any retry budget and the broker is killed with -9 and restarted on its data.
Then the suite waits for the system to drain and audits what came out, reading topics from the beginning and the
database read-only: orders lost, orders answered twice, units oversold, outbox rows stranded, poison messages
missing from their dead-letter topic, seconds to drain after the last fault. Any of the first five above 0 fails.

    python -m tests.faults.suite [--broker kafka|tansu] [--orders 3000] [--outage-s 80] ...   (make faults)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import create_engine, text

from schemas.registry import SHOP_BOUND
from services.catalog import consumers
from services.cli.signing import enrol
from services.common.embedded import EmbeddedPostgres, Tansu, free_ports
from services.common.kafka_io import tail
from services.common.settings import Settings
from services.common.status import wait_drained
from services.common.topics import apply_spec, load_spec, message_max_bytes
from services.migrations import upgrade
from tests.factories import cancellation, order_placed, scan

ROOT = Path(__file__).resolve().parents[2]
BROKER = ROOT / "deploy" / "kafka" / "broker.sh"
SERVICES = {s: topics for s, topics in consumers().items() if s in ("orders", "warehouse", "tracking")}
WAREHOUSES = {"WH-A": (52.52, 13.40), "WH-B": (52.40, 13.45), "WH-C": (51.34, 12.37)}
SKUS = [f"SKU-{n:02d}" for n in range(20)]


@dataclass(frozen=True)
class Plan:
    """What to throw at the system."""

    broker: str = "kafka"
    orders: int = 3000
    load_s: float = 150.0
    workers: int = 2
    kill_every_s: float = 6.0
    outage_s: float = 80.0
    broker_kill: bool = True
    seed: int = 1
    drain_timeout_s: float = 600.0

    @classmethod
    def short(cls, broker: str = "kafka") -> Plan:
        """The run inside `make test`: fewer orders, every kind of fault, an outage still past any old budget."""
        return cls(broker=broker, orders=300, load_s=100.0, kill_every_s=8.0, outage_s=75.0)


@dataclass
class Journal:
    """What the shop sent and which faults happened when."""

    placed: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    poison: list[tuple[str, str]] = field(default_factory=list)
    """(topic, sha256 of the bytes)."""
    kills: Counter[str] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)
    last_fault_at: float = 0.0
    big_faults_done: threading.Event = field(default_factory=threading.Event)
    """The outage and the broker kill are over."""
    sends: list[float] = field(default_factory=list)
    """Seconds each of the shop's sends took until the broker acknowledged it (retries through outages included)."""

    def fault(self, what: str) -> None:
        self.faults.append(f"{time.strftime('%H:%M:%S')} {what}")
        self.last_fault_at = time.monotonic()
        print(f"  fault: {what}", flush=True)


def layout() -> dict[str, Any]:
    rng = random.Random(7)
    return {"warehouses": [
        {"id": wh, "name": wh, "latitude": lat, "longitude": lon, "priority": n + 1,
         "grid": {"zones": ["A"], "aisles": 4, "bays": 10, "levels": 2},
         "stock": [{"sku": sku, "bin": f"A-0{1 + i % 4}-{1 + i // 4:02d}-1", "on_hand": rng.randint(40, 160)}
                   for i, sku in enumerate(SKUS)]}
        for n, (wh, (lat, lon)) in enumerate(WAREHOUSES.items())]}


class Workers:
    """Worker processes, restarted when they die (as compose's restart policy or `fulfil up` would)."""

    def __init__(self, env: dict[str, str], logs: Path, plan: Plan) -> None:
        self.env, self.logs, self.plan = env, logs, plan
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.lock = threading.Lock()
        self.exited_alone = 0

    def start(self, name: str) -> None:
        service = name.rsplit("-", 1)[0]
        log = (self.logs / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", service], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def start_all(self) -> None:
        for service in SERVICES:
            for n in range(1, self.plan.workers + 1):
                self.start(f"{service}-{n}")

    def kill(self, name: str) -> None:
        with self.lock:
            process = self.processes[name]
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()

    def restart_dead(self) -> None:
        with self.lock:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    if process.returncode != -signal.SIGKILL:
                        self.exited_alone += 1
                        tail = (self.logs / f"{name}.log").read_bytes()[-1500:].decode(errors="replace")
                        print(f"  {name} exited by itself ({process.returncode}); its log ends:\n{tail}", flush=True)
                    self.start(name)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


class Infrastructure:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan, self.work = plan, work
        self.postgres = EmbeddedPostgres(work / "pg")
        span = 6 if plan.broker == "cluster" else 2
        self.kafka_port = free_ports(span)
        while self.kafka_port <= self.postgres.port < self.kafka_port + span:  # chosen, not yet bound: not ours
            self.kafka_port = free_ports(span)
        self.tansu: Tansu | None = None

    @property
    def bootstrap(self) -> str:
        if self.plan.broker == "cluster":
            return ",".join(f"127.0.0.1:{self.kafka_port + 2 * n}" for n in range(3))
        return f"127.0.0.1:{self.kafka_port}"

    def start(self) -> None:
        self.postgres.start()
        self.postgres.create_database("faults")
        if self.plan.broker == "tansu":
            self.tansu = Tansu(self.kafka_port, self.work / "tansu.log")
            self.tansu.start()
        elif self.plan.broker == "cluster":
            _broker_script("cluster", "start", str(self.kafka_port))
        else:
            _broker("start", self.kafka_port)

    def kill_node(self, node: int) -> None:
        _broker_script("cluster", "kill", str(node), str(self.kafka_port))

    def restart_node(self, node: int) -> None:
        _broker_script("cluster", "restart", str(node), str(self.kafka_port))

    def leader_of(self, settings: Settings, topics: list[str]) -> int:
        """The broker that leads most partitions of `topics`."""
        async def describe() -> list[Any]:
            admin = AIOKafkaAdminClient(**settings.aiokafka_options(), request_timeout_ms=15000)
            await admin.start()
            try:
                return list(await admin.describe_topics([settings.topic(t) for t in topics]))
            finally:
                await admin.close()
        leaders = Counter(p["leader"] for t in asyncio.run(describe()) for p in t["partitions"])
        return leaders.most_common(1)[0][0]

    def kill_broker(self) -> None:
        _broker("kill", self.kafka_port)

    def restart_broker(self) -> None:
        _broker("restart", self.kafka_port)

    def stop(self) -> None:
        if self.tansu is not None:
            self.tansu.stop()
        elif self.plan.broker == "cluster":
            _broker_script("cluster", "destroy", str(self.kafka_port))
        else:
            _broker("destroy", self.kafka_port)
        self.postgres.stop()


def _broker(command: str, port: int) -> None:
    _broker_script(command, str(port))


def _broker_script(*args: str) -> None:
    done = subprocess.run([str(BROKER), *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"broker.sh {' '.join(args)} failed: {done.stdout}{done.stderr}")


class Shop:
    """Places orders through Kafka, resends some exactly, cancels some, receives stock, sends poison."""

    def __init__(self, settings: Settings, plan: Plan, journal: Journal) -> None:
        self.settings, self.plan, self.journal = settings, plan, journal
        self.rng = random.Random(plan.seed)
        self.limit = message_max_bytes()
        self.signer = enrol(settings, "acme")

    async def run(self) -> None:
        producer = await self._producer()
        try:
            resend: list[tuple[int, bytes, bytes]] = []
            cancel: list[tuple[int, str]] = []
            pause = self.plan.load_s / self.plan.orders
            poison_at = {int(self.plan.orders * f) for f in (0.1, 0.45, 0.85)}
            for i in range(self.plan.orders):
                order_id = f"F-{i:05d}"
                lines = [{"line_id": str(n), "sku": sku, "quantity": self.rng.randint(1, 3), "unit_price": "10.00"}
                         for n, sku in enumerate(self.rng.sample(SKUS, self.rng.randint(1, 3)), 1)]
                value = json.dumps(order_placed(order_id, lines=lines)).encode()
                await self._send(producer, "shop.orders", order_id.encode(), value)
                self.journal.placed.add(order_id)
                if self.rng.random() < 0.1:
                    resend.append((i + self.rng.randint(1, 40), order_id.encode(), value))
                if self.rng.random() < 0.05:
                    cancel.append((i + self.rng.randint(0, 20), order_id))
                for item in [r for r in resend if r[0] <= i]:
                    resend.remove(item)
                    await self._send(producer, "shop.orders", item[1], item[2])
                for due in [c for c in cancel if c[0] <= i]:
                    cancel.remove(due)
                    await self._cancel(producer, due[1])
                if i % 25 == 0:
                    wh = self.rng.choice(list(WAREHOUSES))
                    received = scan("stock.received", wh, sku=self.rng.choice(SKUS), quantity=self.rng.randint(5, 30),
                                    reference=f"PO-{i}")
                    await self._send(producer, "warehouse.scans", wh.encode(), json.dumps(received).encode())
                if i in poison_at:
                    await self._poison(producer, i)
                await asyncio.sleep(pause)
            for _, key, value in resend:
                await self._send(producer, "shop.orders", key, value)
            for _, order_id in cancel:
                await self._cancel(producer, order_id)
        finally:
            await producer.stop()

    async def _cancel(self, producer: AIOKafkaProducer, order_id: str) -> None:
        await self._send(producer, "shop.orders", order_id.encode(), json.dumps(cancellation(order_id)).encode())
        self.journal.cancelled.add(order_id)

    async def _poison(self, producer: AIOKafkaProducer, i: int) -> None:
        invalid = order_placed(f"P-{i}")
        invalid["payload"]["lines"][0]["quantity"] = "lots"
        near = self.limit - 300  # with its key and the batch overhead, just under what the broker takes
        for topic, value in (("shop.orders", b"\x00not json"), ("shop.orders", json.dumps(invalid).encode()),
                             ("shop.orders", b"x" * 1_000_000), ("shop.orders", b"{" * near),
                             ("carrier.scans", b"[" * near), ("warehouse.scans", b"]" * near)):
            await self._send(producer, topic, f"poison-{i}".encode(), value)
            self.journal.poison.append((topic, hashlib.sha256(value).hexdigest()))

    async def _producer(self) -> AIOKafkaProducer:
        while True:
            producer = AIOKafkaProducer(**self.settings.aiokafka_options(), acks="all", enable_idempotence=False,
                                        max_request_size=self.limit, request_timeout_ms=10000)
            try:
                await producer.start()
                return producer
            except Exception:
                await producer.stop()
                await asyncio.sleep(1)

    async def _send(self, producer: AIOKafkaProducer, topic: str, key: bytes, value: bytes) -> None:
        """Like a shop would: keep trying through a broker outage (a retried send may arrive twice). How long each
        send took until the broker acknowledged it is the latency the shop saw."""
        headers = list(self.signer.headers(topic, value)) if topic in SHOP_BOUND else []
        began = time.monotonic()
        while True:
            try:
                await (await producer.send(self.settings.topic(topic), value, key=key, headers=headers))
                self.journal.sends.append(time.monotonic() - began)
                return
            except Exception:
                await asyncio.sleep(0.5)


@contextmanager
def running(plan: Plan, work: Path) -> Iterator[tuple[Infrastructure, Settings, Workers]]:
    infra = Infrastructure(plan, work)
    infra.start()
    workers: Workers | None = None
    try:
        env = {**os.environ, "FULFIL_KAFKA_BOOTSTRAP": infra.bootstrap, "FULFIL_DATABASE_URL": infra.postgres.url("faults"),
               "FULFIL_LOG_FORMAT": "json", "FULFIL_WAREHOUSE_WAVE_INTERVAL_S": "2"}
        settings = Settings(kafka_bootstrap=infra.bootstrap, database_url=infra.postgres.url("faults"))
        upgrade(settings)
        asyncio.run(apply_spec(settings, load_spec()))
        (work / "layout.json").write_text(json.dumps(layout()))
        subprocess.run([sys.executable, "-m", "services.cli", "warehouses", "load", str(work / "layout.json")],
                       env=env, cwd=ROOT, check=True, capture_output=True)
        (work / "logs").mkdir()
        workers = Workers(env, work / "logs", plan)
        workers.start_all()
        yield infra, settings, workers
    finally:
        if workers is not None:
            workers.stop_all()
        infra.stop()


def lost_brokers(infra: Infrastructure, settings: Settings, journal: Journal, stop: threading.Event) -> None:
    """The leader of shop.orders and orders.events dies (-9); while it is down a second broker dies too, so the
    one left is alone: with two copies wanted in sync, writes must wait for a second broker, not go to one."""
    first = infra.leader_of(settings, ["shop.orders", "orders.events"])
    journal.fault(f"broker {first} (leading shop.orders and orders.events) killed (-9)")
    infra.kill_node(first)
    stop.wait(10)
    second = next(n for n in (1, 2, 3) if n != first)
    journal.fault(f"broker {second} killed (-9) too: one broker of three left")
    infra.kill_node(second)
    stop.wait(10)
    infra.restart_node(first)
    journal.fault(f"broker {first} restarted on its data")
    stop.wait(5)
    infra.restart_node(second)
    journal.fault(f"broker {second} restarted on its data")


def chaos(plan: Plan, infra: Infrastructure, workers: Workers, journal: Journal, stop: threading.Event,
          started: float, settings: Settings) -> None:
    """Kill workers at random throughout; stop PostgreSQL at a quarter of the load, kill the broker at 3/4."""
    rng = random.Random(plan.seed + 1)
    outage_at, broker_at = started + plan.load_s * 0.25, started + plan.load_s * 0.75
    next_kill = started + plan.kill_every_s
    outage_done = False
    broker_done = not (plan.broker_kill and plan.broker in ("kafka", "cluster"))
    while not stop.is_set():
        now = time.monotonic()
        workers.restart_dead()
        if outage_done and broker_done:
            journal.big_faults_done.set()
        if not outage_done and now >= outage_at:
            journal.fault(f"PostgreSQL stopped for {plan.outage_s:.0f} s")
            infra.postgres.stop()
            stop.wait(plan.outage_s)
            infra.postgres.start()
            journal.fault("PostgreSQL back")
            outage_done = True
        elif not broker_done and now >= broker_at and plan.broker == "cluster":
            lost_brokers(infra, settings, journal, stop)
            broker_done = True
        elif not broker_done and now >= broker_at:
            journal.fault("broker killed (-9)")
            infra.kill_broker()
            stop.wait(5)
            infra.restart_broker()
            journal.fault("broker restarted on its data")
            broker_done = True
        elif now >= next_kill:
            name = rng.choice(sorted(workers.processes))
            workers.kill(name)
            journal.kills[name] += 1
            journal.fault(f"{name} killed (-9)")
            next_kill = now + plan.kill_every_s * rng.uniform(0.5, 1.5)
        stop.wait(0.5)
    workers.restart_dead()


def audit(settings: Settings, journal: Journal) -> dict[str, int]:
    async def read(topic: str) -> list[dict[str, Any]]:
        return [r async for r in tail(settings, settings.topic(topic), from_beginning=True, max_events=None,
                                      timeout_s=8)]

    answers: dict[str, set[str]] = {}
    accepted: set[str] = set()
    wire = 0
    for record in asyncio.run(read("orders.events")):
        event = record["value"]
        if isinstance(event, dict) and event.get("event_type") in ("order.accepted", "order.rejected"):
            wire += 1
            order_id = event["payload"]["order_id"]
            answers.setdefault(order_id, set()).add(event["event_id"])
            if event["event_type"] == "order.accepted":
                accepted.add(order_id)
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as db:
            in_warehouse = {row[0] for row in db.execute(text("SELECT order_id FROM warehouse.orders"))}
            oversold = db.execute(text("SELECT coalesce(sum(greatest(reserved - on_hand, 0) + greatest(-on_hand, 0)"
                                       " + greatest(-reserved, 0)), 0) FROM warehouse.stock")).scalar_one()
            from tests.integration.conftest import STOCK_INVARIANTS
            broken = sum(1 for query in STOCK_INVARIANTS.values() if db.execute(text(query)).first())
            stranded = sum(db.execute(text(f"SELECT (SELECT count(*) FROM {s}.outbox) + "
                                           f"(SELECT count(*) FROM {s}.outbox_parked)")).scalar_one()
                           for s in SERVICES)
    finally:
        engine.dispose()
    seen: dict[str, set[str]] = {}
    for topic in {t for t, _ in journal.poison}:
        for record in asyncio.run(read(f"{topic}.dlq")):
            headers = record["headers"]
            raw = record["value"]
            value = raw if isinstance(raw, str) else json.dumps(raw)
            seen.setdefault(topic, set()).update({headers.get("fulfil.original.sha256", ""),
                                                  hashlib.sha256(value.encode()).hexdigest()})
    missing_poison = [p for p in journal.poison if p[1] not in seen.get(p[0], set())]
    lost = [o for o in journal.placed if o not in answers] + sorted(accepted - in_warehouse)
    twice = [o for o, ids in answers.items() if len(ids) > 1]
    if lost or twice or missing_poison:
        print(f"  lost: {sorted(lost)[:20]}  answered twice: {sorted(twice)[:20]}  poison missing: {missing_poison[:5]}")
    return {"orders lost": len(lost), "orders answered twice": len(twice), "units oversold": int(oversold),
            "stock invariants broken": broken, "outbox rows stranded": int(stranded),
            "poison messages missing from their dead-letter topic": len(missing_poison),
            "orders placed": len(journal.placed), "orders accepted": len(accepted),
            "answers on the wire": wire,
            "  of which re-published (same event id; consumers drop them)": wire - sum(map(len, answers.values()))}


MUST_BE_ZERO = ("orders lost", "orders answered twice", "units oversold", "stock invariants broken",
                "outbox rows stranded", "poison messages missing from their dead-letter topic")


def run(plan: Plan) -> dict[str, Any]:
    """Run the plan; returns the audit's figures, the faults and the drain time."""
    journal = Journal()
    with tempfile.TemporaryDirectory(prefix="fulfil-faults-") as tmp, running(plan, Path(tmp)) as (infra, settings, workers):
        print(f"fault suite: {plan}", flush=True)
        time.sleep(8)  # workers join their groups
        shop = Shop(settings, plan, journal)  # its key is registered before any fault
        stop = threading.Event()
        started = time.monotonic()
        thread = threading.Thread(target=chaos, args=(plan, infra, workers, journal, stop, started, settings),
                                  daemon=True)
        thread.start()
        asyncio.run(shop.run())
        journal.big_faults_done.wait()  # the shop may finish early; the faults still come
        time.sleep(plan.kill_every_s)  # and a last kill or two
        stop.set()
        thread.join()
        done, snapshot = wait_drained(settings, SERVICES, plan.drain_timeout_s)
        drain_s = time.monotonic() - journal.last_fault_at
        figures: dict[str, Any] = audit(settings, journal) if done else {"drained": 0}
        figures["seconds to drain after the last fault"] = round(drain_s, 1) if done else None
        figures["workers killed (-9)"] = sum(journal.kills.values())
        figures["workers that exited by themselves"] = workers.exited_alone
        figures["dead letters (once per message)"] = sum(snapshot.dead_letters.values())
        if journal.sends:
            waits = sorted(journal.sends)
            figures["shop's send, acknowledged after: p50 ms"] = round(1000 * waits[len(waits) // 2])
            figures["  p99 ms"] = round(1000 * waits[int(len(waits) * 0.99)])
            figures["  longest s"] = round(waits[-1], 1)
        if not done:
            print(f"  did not drain within {plan.drain_timeout_s:.0f} s: {snapshot}")
            logs = sorted((Path(tmp) / "logs").glob("*.log"))
            for path in logs:
                print(f"--- {path.name}\n{path.read_text()[-3000:]}")
        return figures


def table(plan: Plan, figures: dict[str, Any]) -> str:
    where = {"kafka": "Apache Kafka", "cluster": "a three-broker Apache Kafka cluster (3 copies, 2 in sync)",
             "tansu": "the embedded broker (Tansu)"}[plan.broker]
    rows = [f"Fault suite on {where}: "
            f"{plan.orders} orders over {plan.load_s:.0f} s, {plan.workers} workers each for "
            f"{', '.join(SERVICES)}, PostgreSQL away {plan.outage_s:.0f} s"
            + (", broker kill -9 and restart" if plan.broker == "kafka" and plan.broker_kill else "")
            + (", the leader killed -9 then a second broker while it was down, both restarted"
               if plan.broker == "cluster" and plan.broker_kill else "")]
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        flag = "  <- must be 0" if name in MUST_BE_ZERO and value else ""
        rows.append(f"  {name:<{width}}  {'-' if value is None else value:>8}{flag}")
    return "\n".join(rows)


def failed(figures: dict[str, Any]) -> list[str]:
    if "drained" in figures:
        return ["the system did not drain"]
    return [name for name in MUST_BE_ZERO if figures.get(name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=("kafka", "cluster", "tansu"), default="kafka")
    parser.add_argument("--orders", type=int, default=Plan.orders)
    parser.add_argument("--load-s", type=float, default=Plan.load_s)
    parser.add_argument("--outage-s", type=float, default=Plan.outage_s)
    parser.add_argument("--kill-every-s", type=float, default=Plan.kill_every_s)
    parser.add_argument("--seed", type=int, default=Plan.seed)
    args = parser.parse_args(argv)
    plan = Plan(broker=args.broker, orders=args.orders, load_s=args.load_s, outage_s=args.outage_s,
                kill_every_s=args.kill_every_s, seed=args.seed, broker_kill=args.broker in ("kafka", "cluster"))
    figures = run(plan)
    print(table(plan, figures))
    if problems := failed(figures):
        print(f"FAILED: {', '.join(problems)}")
        return 1
    print("passed: nothing lost, nothing doubled, nothing oversold, nothing stranded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
