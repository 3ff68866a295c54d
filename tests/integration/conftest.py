"""Real infrastructure for integration tests: Apache Kafka (from its Maven artifacts, via
deploy/kafka/broker.sh) and PostgreSQL (the embedded wheel). If either cannot start, the tests
error out: they never skip."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from schemas.registry import SHOP_BOUND
from schemas.signing import Signer
from services.cli.signing import enrol
from services.common.embedded import EmbeddedPostgres, free_ports
from services.common.kafka_io import Outgoing, send_all, tail
from services.common.settings import Settings
from services.common.topics import apply_spec, load_spec
from services.migrations import upgrade
from tests.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]
BROKER = ROOT / "deploy" / "kafka" / "broker.sh"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A one-node Apache Kafka (KRaft) broker for the whole run."""
    external = os.environ.get("FULFIL_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    for _ in range(3):  # test processes running side by side may pick the same free ports: try others
        port = free_ports(2)
        started = subprocess.run([str(BROKER), "start", str(port)], capture_output=True, text=True, timeout=600)
        if started.returncode == 0:
            break
        subprocess.run([str(BROKER), "destroy", str(port)], capture_output=True, timeout=120)
    else:
        pytest.fail(f"Apache Kafka did not start:\n{started.stdout}\n{started.stderr}", pytrace=False)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(BROKER), "destroy", str(port)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Stack:
    """One test's slice of the infrastructure: its own topic namespace and its own database."""

    settings: Settings
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path = Path(".")
    signers: dict[str, Signer] = field(default_factory=dict)

    def start_worker(self, service: str = "orders", **extra_env: str) -> subprocess.Popen[bytes]:
        index = len(self.workers) + 1
        log = (self.logs / f"{service}-{index}.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "services.cli", "worker", service],
                                   env={**os.environ, **self.env, **extra_env}, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=ROOT)
        self.workers.append(process)
        return process

    def wait_for_assignments(self, topic: str, workers: int, timeout_s: float = 60) -> None:
        """Until each of the first `workers` workers' latest assignment holds a partition of `topic`."""
        def latest() -> list[Any]:
            self.assert_workers_alive()
            found = []
            for path in sorted(self.logs.glob("*.log"))[:workers]:
                lines = log_records(path.read_text(), "partitions.assigned")
                found.append(lines[-1]["partitions"].get(topic) if lines else None)
            return found

        eventually(latest, lambda found: len(found) == workers and all(found), timeout_s=timeout_s,
                   context=lambda: f"workers not all assigned {topic}: {self.log_tail()}")

    def send(self, topic: str, documents: Sequence[dict[str, Any] | bytes], key: str | None = None,
             signed: bool = True) -> None:
        """Publish as-is; on a shop's topic, each event is signed with a key of the shop its payload names (as a
        shop's producer would), unless `signed` is False or the document is raw bytes."""
        messages = []
        for document in documents:
            value = document if isinstance(document, bytes) else json.dumps(document).encode()
            routing_key = key if key is not None else (
                document.get("correlation_id") if isinstance(document, dict) else None)
            headers: tuple[tuple[str, bytes], ...] = ()
            if signed and topic in SHOP_BOUND and isinstance(document, dict):
                shop = document.get("payload", {}).get(SHOP_BOUND[topic])
                if isinstance(shop, str):
                    headers = self.signer(shop).headers(topic, value)
            messages.append(Outgoing(routing_key.encode() if routing_key else None, value, headers))
        asyncio.run(send_all(self.settings, self.settings.topic(topic), messages))

    def signer(self, shop: str) -> Signer:
        """The shop's signing key, registered in this stack's keyrings the first time it is asked for."""
        if shop not in self.signers:
            self.signers[shop] = enrol(self.settings, shop)
        return self.signers[shop]

    def read(self, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60,
             settle_s: float = 0.0) -> list[dict[str, Any]]:
        """Read the topic from the beginning until `until(records)` holds (then `settle_s` more seconds
        to catch anything extra, such as a duplicate), or fail with what was seen."""
        def records() -> list[dict[str, Any]]:
            self.assert_workers_alive()
            return asyncio.run(self._read_all(topic))

        found = eventually(records, until, timeout_s=timeout_s, every_s=0.5,
                           context=lambda: f"on {topic}; worker logs: {self.log_tail()}")
        if settle_s:
            time.sleep(settle_s)  # not a wait for readiness: room for what must not come (a duplicate, say)
            found = records()
        return found

    async def _read_all(self, topic: str) -> list[dict[str, Any]]:
        return [r async for r in tail(self.settings, self.settings.topic(topic), from_beginning=True,
                                      max_events=None, timeout_s=1.5)]

    def until_sql(self, statement: str, wanted: list[tuple[Any, ...]], timeout_s: float = 60) -> list[tuple[Any, ...]]:
        """Poll a query until its rows are `wanted`."""
        return eventually(lambda: [tuple(row) for row in self.sql(statement)], lambda rows: rows == wanted,
                          timeout_s=timeout_s, context=lambda: f"{statement} -> not {wanted}\n{self.log_tail()}")

    def sql(self, statement: str) -> list[Any]:
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(statement)))
        finally:
            engine.dispose()

    def assert_workers_alive(self) -> None:
        for process in self.workers:
            if process.poll() is not None and process.returncode not in (0, -9):
                raise AssertionError(f"a worker exited with {process.returncode}: {self.log_tail()}")

    def log_text(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.logs.glob("*.log")))

    def log_tail(self) -> str:
        return "\n".join(p.name + ":\n" + p.read_text()[-3000:] for p in sorted(self.logs.glob("*.log")))

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def make_stack(kafka_bootstrap: str, postgres: EmbeddedPostgres, logs: Path, **overrides: Any) -> Stack:
    name = f"t{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    env = {
        "FULFIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "FULFIL_DATABASE_URL": postgres.url(name),
        "FULFIL_TOPIC_NAMESPACE": f"{name}.",
        "FULFIL_LOG_FORMAT": "json",
        "FULFIL_OUTBOX_SWEEP_INTERVAL_S": "0.5",
        "FULFIL_OUTBOX_SWEEP_GRACE_S": "1",
        **{f"FULFIL_{k.upper()}": str(v) for k, v in overrides.items()},
    }
    fields: dict[str, Any] = {k.removeprefix("FULFIL_").lower(): v for k, v in env.items()}
    settings = Settings(**fields)
    upgrade(settings)
    asyncio.run(apply_spec(settings, load_spec()))
    logs.mkdir(parents=True, exist_ok=True)
    return Stack(settings=settings, env=env, logs=logs)


@pytest.fixture
def stack(kafka_bootstrap: str, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Stack]:
    created = make_stack(kafka_bootstrap, postgres, tmp_path / "logs")
    try:
        yield created
    finally:
        created.stop_workers()


def values(records: list[dict[str, Any]], event_type: str | None = None) -> list[dict[str, Any]]:
    return [r["value"] for r in records
            if isinstance(r["value"], dict) and (event_type is None or r["value"].get("event_type") == event_type)]


def log_records(text: str, event: str) -> list[dict[str, Any]]:
    """A worker log's JSON records of one event (a terminal escape code may precede a line's JSON)."""
    return [json.loads(line[line.index("{"):]) for line in text.splitlines() if f'"{event}"' in line and "{" in line]


def load_layout(stack: Stack, document: dict[str, Any]) -> None:
    """Load a warehouse layout the way `fulfil warehouses load` does."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from services.warehouse import layout
    engine = create_engine(stack.settings.database_url)
    try:
        with engine.begin() as connection:
            layout.apply(Session(bind=connection), layout.Layout.model_validate(document), datetime.now(UTC))
    finally:
        engine.dispose()


STOCK_INVARIANTS = {
    "reserved is never negative nor above on_hand":
        "SELECT warehouse_id, sku, on_hand, reserved FROM warehouse.stock WHERE NOT (on_hand >= reserved AND reserved >= 0)",
    "on_hand is the sum of its ledger (every unit that came or went is recorded)": """
        SELECT s.warehouse_id, s.sku, s.on_hand, coalesce(sum(l.delta), 0) FROM warehouse.stock s
        LEFT JOIN warehouse.stock_ledger l USING (warehouse_id, sku)
        GROUP BY s.warehouse_id, s.sku, s.on_hand HAVING s.on_hand <> coalesce(sum(l.delta), 0)""",
    "reserved equals the units of open shipments": """
        SELECT s.warehouse_id, s.sku, s.reserved, coalesce(o.units, 0) FROM warehouse.stock s
        LEFT JOIN (SELECT sh.warehouse_id, l.sku, sum(l.quantity) AS units FROM warehouse.shipment_lines l
                   JOIN warehouse.shipments sh USING (shipment_id)
                   WHERE sh.status IN ('reserved', 'picking', 'picked') GROUP BY 1, 2) o USING (warehouse_id, sku)
        WHERE s.reserved <> coalesce(o.units, 0)""",
    "every ordered unit of an open order is in a shipment or a backorder, once": """
        SELECT o.shop_id, o.order_id, x.line_id, x.quantity, coalesce(sh.units, 0) + coalesce(b.units, 0)
        FROM warehouse.orders o
        CROSS JOIN LATERAL jsonb_to_recordset(o.lines) AS x(line_id text, sku text, quantity int)
        LEFT JOIN (SELECT s.shop_id, s.order_id, l.line_id, sum(l.quantity) AS units FROM warehouse.shipment_lines l
                   JOIN warehouse.shipments s USING (shipment_id) WHERE s.status <> 'cancelled' GROUP BY 1, 2, 3) sh
               ON (sh.shop_id, sh.order_id) = (o.shop_id, o.order_id) AND sh.line_id = x.line_id
        LEFT JOIN (SELECT shop_id, order_id, line_id, sum(quantity) AS units FROM warehouse.backorders
                   GROUP BY 1, 2, 3) b
               ON (b.shop_id, b.order_id) = (o.shop_id, o.order_id) AND b.line_id = x.line_id
        WHERE o.status = 'open' AND x.quantity <> coalesce(sh.units, 0) + coalesce(b.units, 0)""",
    "a cancelled order holds nothing": """
        SELECT o.shop_id, o.order_id FROM warehouse.orders o WHERE o.status = 'cancelled' AND (
            EXISTS (SELECT 1 FROM warehouse.backorders b WHERE (b.shop_id, b.order_id) = (o.shop_id, o.order_id)) OR
            EXISTS (SELECT 1 FROM warehouse.shipments s WHERE (s.shop_id, s.order_id) = (o.shop_id, o.order_id)
                    AND s.status IN ('reserved', 'picking', 'picked')))""",
}


def stock_violations(stack: Stack) -> dict[str, list[Any]]:
    return {name: rows for name, query in STOCK_INVARIANTS.items() if (rows := stack.sql(query))}


@pytest.fixture
def warehouse_stack(kafka_bootstrap: str, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Stack]:
    """A stack whose stock invariants are checked after the test, whatever the test did."""
    created = make_stack(kafka_bootstrap, postgres, tmp_path / "logs", warehouse_wave_interval_s=1,
                         warehouse_wave_max_orders=50)
    try:
        yield created
    finally:
        created.stop_workers()
    violations = stock_violations(created)
    assert not violations, f"stock invariants broken: {violations}"


def get(port: int, path: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fulfil(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          env={**stack.env, "PATH": "/usr/bin:/bin"}, cwd=ROOT, timeout=60)
