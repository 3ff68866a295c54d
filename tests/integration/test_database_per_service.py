"""Services on two PostgreSQL servers: orders, warehouse and routing keep the shared database, tracking and returns
each point FULFIL_<SERVICE>_DATABASE_URL at a second server. Migrations bring both databases up, the pipeline runs
across them on real Apache Kafka, each service writes only its own, and the operators' commands (status, orders
show, kpis, dlq) read every service where it lives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.common.embedded import EmbeddedPostgres
from services.migrations import upgrade
from tests.eventually import eventually
from tests.factories import order_placed
from tests.integration.conftest import Stack, fulfil, load_layout, make_stack

pytestmark = pytest.mark.integration
MOVED = ("tracking", "returns")
LAYOUT = {"warehouses": [{"id": "W-1", "name": "One", "latitude": 52.52, "longitude": 13.40, "priority": 1,
                          "grid": {"zones": ["A"], "aisles": 1, "bays": 2, "levels": 1},
                          "stock": [{"sku": "SKU-RED", "bin": "A-01-01-1", "on_hand": 5}]}]}


@pytest.fixture
def split(kafka_bootstrap: str, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    second = EmbeddedPostgres(tmp_path / "second-server")
    second.start()
    try:
        second.create_database("moved")
        stack = make_stack(kafka_bootstrap, postgres, tmp_path / "logs", warehouse_wave_interval_s=1)
        elsewhere = second.url("moved")
        stack.env.update({f"FULFIL_{name.upper()}_DATABASE_URL": elsewhere for name in MOVED})
        stack.settings = stack.settings.model_copy(update={"database_urls": dict.fromkeys(MOVED, elsewhere)})
        upgrade(stack.settings)  # the second server gets the history too
        load_layout(stack, LAYOUT)
        try:
            yield stack, elsewhere
        finally:
            stack.stop_workers()
    finally:
        second.stop()


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def test_the_pipeline_runs_with_services_on_two_database_servers(split: tuple[Stack, str]) -> None:
    stack, elsewhere = split
    shared = stack.settings.database_url
    for name in ("orders", "warehouse", "routing", "tracking", "returns"):
        stack.start_worker(name)
    stack.send("shop.orders", [order_placed("o-split", lines=[
        {"line_id": "1", "sku": "SKU-RED", "quantity": 1, "unit_price": "9.99"}]), b"not an event"])

    # Tracking learns of the reservation and returns of the order, each in its own database (each consumes at
    # its own pace: one being done says nothing of the other); the shared one's tables of theirs stay empty.
    def arrived() -> tuple[int, int]:
        return (count(elsewhere, "SELECT count(*) FROM tracking.shipments WHERE order_id = 'o-split'"),
                count(elsewhere, "SELECT count(*) FROM returns.orders WHERE order_id = 'o-split'"))
    eventually(arrived, lambda n: n == (1, 1), timeout_s=60, context=stack.log_tail)
    assert count(shared, "SELECT count(*) FROM warehouse.shipments WHERE order_id = 'o-split'") == 1
    assert count(shared, "SELECT count(*) FROM tracking.shipments") == 0, "tracking wrote where it does not live"
    assert count(shared, "SELECT count(*) FROM tracking.inbox") == 0
    assert count(shared, "SELECT count(*) FROM returns.orders") == 0, "returns wrote where it does not live"
    assert count(elsewhere, "SELECT count(*) FROM warehouse.shipments") == 0

    drained = fulfil(stack, "status", "--wait-drained", "--timeout", "45", "--json")
    assert drained.returncode == 0, drained.stderr
    assert {s["service"] for s in json.loads(drained.stdout)["services"]} >= {"orders", "tracking", "returns"}
    story = fulfil(stack, "orders", "show", "acme", "o-split")
    assert story.returncode == 0, story.stderr
    assert "reserved in W-1" in story.stdout and "tracking  allocated" in story.stdout, story.stdout
    kpis = fulfil(stack, "kpis", "--json")
    assert kpis.returncode == 0, kpis.stderr
    assert json.loads(kpis.stdout)["events_processed"] >= 4
    dead = fulfil(stack, "dlq", "list", "--json")
    assert dead.returncode == 0 and '"topic": "shop.orders"' in dead.stdout, dead.stdout + dead.stderr
    keys = fulfil(stack, "signing-key", "list")
    assert keys.returncode == 0 and "acme" in keys.stdout
    assert count(elsewhere, "SELECT count(*) FROM returns.signing_keys") == count(
        shared, "SELECT count(*) FROM orders.signing_keys") == 1, "a shop's key is registered where each service lives"
