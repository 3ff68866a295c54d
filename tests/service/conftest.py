"""The service layer, tested between pure domain unit tests and Kafka round trips: each handler is called as its
worker calls it (its service's handler table, a unit of work, a context) on the migrated real PostgreSQL, with a
fixed clock, and the test asserts on the events it emits and the rows it leaves. Every test runs in a transaction
that is rolled back, so tests share one database and need no broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import sessionmaker

from schemas.base import Payload
from schemas.envelope import Event, make_event
from schemas.registry import TOPIC_OF
from services import catalog
from services.common.embedded import EmbeddedPostgres
from services.common.handling import Context, Emit
from services.common.processor import invoke
from services.common.settings import Settings
from services.common.unit_of_work import UnitOfWork
from services.migrations import upgrade
from tests.integration.conftest import postgres  # noqa: F401  (the session's embedded PostgreSQL)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SOURCES = {"shop.orders": "shop:acme", "shop.returns": "shop:acme", "warehouse.scans": "device:scanner",
           "carrier.scans": "carrier:own-fleet"}


@pytest.fixture(scope="session")
def engine(postgres: EmbeddedPostgres) -> Iterator[Engine]:  # noqa: F811
    postgres.create_database("service_layer")
    upgrade(Settings(database_url=postgres.url("service_layer")))
    created = create_engine(postgres.url("service_layer"))
    yield created
    created.dispose()


@dataclass
class Harness:
    """One service's handlers on one rolled-back transaction."""

    service: str
    sessions: sessionmaker[Any]
    settings: Settings
    now: datetime = NOW
    emitted: list[Emit] = field(default_factory=list)

    def handle(self, *payloads: Payload, source: str | None = None) -> list[Payload]:
        """Each payload as one event through the handler its service registered for it (one it has none for is
        skipped, as its worker skips it); what it emitted."""
        handlers = catalog.service(self.service).handlers
        out: list[Emit] = []
        for payload in payloads:
            topic = TOPIC_OF[type(payload)]
            if payload.EVENT_TYPE not in handlers.get(topic, {}):
                continue
            event: Event[Payload] = make_event(
                payload, source=source or SOURCES.get(topic, "service:test"), correlation_id="test",
                occurred_at=self.now, event_id=uuid.uuid4())
            with self.unit_of_work() as uow:
                out += invoke(handlers[topic][payload.EVENT_TYPE], uow, [event], self.context())
                uow.commit()
        self.emitted += out
        return [emit.event.payload for emit in out]

    def run(self, job: Any) -> list[Payload]:
        """A timer's job, as the worker's timer runs it."""
        with self.unit_of_work() as uow:
            job(uow, self.context())
            out = uow.collect_new_events()
            uow.commit()
        self.emitted += out
        return [emit.event.payload for emit in out]

    def unit_of_work(self) -> UnitOfWork[Any]:
        """The service's own, as its worker makes it."""
        return UnitOfWork(self.sessions, catalog.service(self.service).store, source=f"service:{self.service}",
                          now=self.now)

    def context(self) -> Context[Any]:
        return Context(now=self.now, settings=self.settings, service=self.service)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.sessions() as session:
            return [tuple(row) for row in session.execute(text(sql), params)]

    def session(self) -> Any:
        return self.sessions.begin()


@pytest.fixture
def harness(engine: Engine) -> Iterator[Any]:
    """`harness("warehouse", **settings)` for a service's handlers; everything is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                            autoflush=False)

    def make(service: str, **settings: Any) -> Harness:
        return Harness(service, sessions, catalog.service(service).settings(**settings))

    yield make
    outer.rollback()
    connection.close()


def of(payloads: list[Payload], kind: type[Payload]) -> list[Any]:
    return [p for p in payloads if isinstance(p, kind)]
