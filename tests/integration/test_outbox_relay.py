"""The outbox relay against real PostgreSQL: what became of each record is settled row by row, nothing blocks,
nothing is retried in a loop. The broker here is a stand-in that refuses what the test says (the real one is
in test_edges.py and the fault suite)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.common.db import make_engine, unit_of_work_factory
from services.common.embedded import EmbeddedPostgres
from services.common.messaging import OutboxRecord
from services.common.relay import Failure, OutboxRelay
from services.common.retry import RetryPolicy
from services.common.settings import Settings
from services.migrations import upgrade
from services.orders import tables
from tests.eventually import eventually

pytestmark = pytest.mark.integration


class Broker:
    def __init__(self) -> None:
        self.refuse_for_good: set[bytes] = set()
        self.refuse_for_now: set[bytes] = set()
        self.wire: list[bytes] = []

    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        outcomes: list[Failure | None] = []
        for r in records:
            if r.value in self.refuse_for_good:
                outcomes.append(Failure("MessageSizeTooLargeError: too large", permanent=True))
            elif r.value in self.refuse_for_now:
                outcomes.append(Failure("KafkaConnectionError: broker away", permanent=False))
            else:
                self.wire.append(r.value)
                outcomes.append(None)
        return outcomes


async def run_here(fn: Callable[[], Any]) -> Any:
    return fn()


@pytest.fixture
def relay(postgres: EmbeddedPostgres) -> Iterator[tuple[OutboxRelay, Broker, Callable[[str], Any]]]:
    name = f"r{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    settings = Settings(database_url=postgres.url(name))
    upgrade(settings)
    engine = make_engine(settings)
    sessions = unit_of_work_factory(engine)
    broker = Broker()

    def sql(statement: str) -> Any:
        with engine.begin() as connection:
            return connection.execute(text(statement)).all()

    yield OutboxRelay(broker, sessions, tables.messaging, run_here, grace_s=0), broker, sql
    engine.dispose()


def id_of(record: OutboxRecord) -> int:
    assert record.id is not None, "an enqueued record has its row's id"
    return record.id


def enqueue(relay: OutboxRelay, *items: tuple[str, str]) -> list[OutboxRecord]:
    with relay.sessions() as session:
        records = tables.messaging.enqueue(session, [
            OutboxRecord("orders.events", key.encode(), value.encode(), uuid.uuid4()) for key, value in items])
        session.commit()
    return records


def test_acknowledged_rows_are_deleted_even_when_others_in_the_batch_fail(relay: Any) -> None:
    outbox, broker, sql = relay
    broker.refuse_for_good.add(b"huge")
    broker.refuse_for_now.add(b"later")
    records = enqueue(outbox, ("a", "one"), ("b", "huge"), ("c", "later"), ("d", "two"))
    asyncio.run(outbox.publish_committed(records))
    assert broker.wire == [b"one", b"two"]
    assert sql("SELECT convert_from(value, 'UTF8'), attempts, next_attempt_at > now(), last_error "
               "FROM orders.outbox") == [("later", 1, True, "KafkaConnectionError: broker away")]
    assert sql("SELECT convert_from(value, 'UTF8'), reason FROM orders.outbox_parked") == [
        ("huge", "MessageSizeTooLargeError: too large")]


def test_a_failed_row_waits_for_its_back_off_and_holds_back_its_key_only(relay: Any) -> None:
    outbox, broker, sql = relay
    broker.refuse_for_now.add(b"first")
    asyncio.run(outbox.publish_committed(enqueue(outbox, ("k", "first"))))
    asyncio.run(outbox.publish_committed(enqueue(outbox, ("k", "second"), ("other", "free"))))
    assert broker.wire == [b"free"], "'second' must not overtake 'first' on the wire"
    report = asyncio.run(outbox.sweep())
    assert report.sent == [] and broker.wire == [b"free"], "the sweep leaves a row alone during its back-off"

    broker.refuse_for_now.clear()
    sql("UPDATE orders.outbox SET next_attempt_at = now() - interval '1 second' RETURNING id")
    asyncio.run(outbox.sweep())
    assert broker.wire == [b"free", b"first", b"second"]
    assert sql("SELECT count(*) FROM orders.outbox") == [(0,)]
    asyncio.run(outbox.publish_committed(enqueue(outbox, ("k", "third"))))
    assert broker.wire[-1] == b"third", "the key flows directly again once its backlog is through"


def test_parked_records_are_never_retried(relay: Any) -> None:
    outbox, broker, sql = relay
    broker.refuse_for_good.add(b"huge")
    asyncio.run(outbox.publish_committed(enqueue(outbox, ("a", "huge"))))
    for _ in range(3):
        asyncio.run(outbox.sweep())
    assert broker.wire == [] and sql("SELECT count(*) FROM orders.outbox_parked") == [(1,)]
    with outbox.sessions() as session:
        assert tables.messaging.backlog(session).parked == 1


def test_rows_a_sweeper_holds_are_left_to_it_and_their_key_waits_behind_them(relay: Any) -> None:
    outbox, broker, sql = relay
    first, second, other = enqueue(outbox, ("k", "first"), ("k", "second"), ("o", "other"))
    with outbox.sessions() as sweeper:
        assert tables.messaging.lock_ids(sweeper, [id_of(first)]) == {first.id}
        asyncio.run(outbox.publish_committed([first, second, other]))
        assert broker.wire == [b"other"], "the sweeper's row is not sent twice, and 'second' waits behind it"
        sweeper.rollback()
    asyncio.run(outbox.sweep())
    assert broker.wire == [b"other", b"first", b"second"]
    assert sql("SELECT count(*) FROM orders.outbox") == [(0,)]


def test_deleting_sent_rows_takes_its_own_locked_rows_and_leaves_the_ones_another_holds(relay: Any) -> None:
    outbox, _, sql = relay
    mine, theirs, free = enqueue(outbox, ("a", "mine"), ("b", "theirs"), ("c", "free"))
    with outbox.sessions() as other, outbox.sessions() as session:
        assert tables.messaging.lock_ids(other, [id_of(theirs)]) == {theirs.id}
        assert tables.messaging.lock_ids(session, [id_of(mine)]) == {mine.id}
        tables.messaging.delete_sent(session, [id_of(mine), id_of(theirs), id_of(free), 10**12])  # one never existed
        session.commit()
        other.rollback()
    assert sql("SELECT convert_from(value, 'UTF8') FROM orders.outbox") == [("theirs",)]


def test_a_later_record_never_overtakes_one_that_a_frozen_publisher_holds(relay: Any) -> None:
    """Another worker's relay locked the first record of a key and froze mid-publish: neither this relay's own
    publish nor its sweep may send the key's later record until the first one is out; other keys go on."""
    outbox, broker, _ = relay
    (first,) = enqueue(outbox, ("k", "first"))
    frozen = outbox.sessions()
    assert tables.messaging.lock_ids(frozen, [id_of(first)]) == {first.id}
    try:
        (second,) = enqueue(outbox, ("k", "second"))
        asyncio.run(outbox.publish_committed([second]))
        asyncio.run(outbox.sweep())
        (other,) = enqueue(outbox, ("j", "other"))
        asyncio.run(outbox.publish_committed([other]))
        assert broker.wire == [b"other"], "a later record of a held key went out, or another key was held up"
    finally:
        frozen.rollback()  # the frozen publisher's transaction ends (PostgreSQL ends it, or it dies)
        frozen.close()
    asyncio.run(outbox.sweep())
    assert broker.wire == [b"other", b"first", b"second"]


class Gate(sessionmaker[Session]):
    """A relay's way to the database, which the test can close: while closed, a new session fails as a dead
    server's would. Sessions already open die with their connections (the test terminates them)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(**sessions.kw)
        self.open = True

    def __call__(self, **local_kw: Any) -> Session:
        if not self.open:
            raise OperationalError("connect", {}, Exception("server closed the connection unexpectedly"))
        return super().__call__(**local_kw)


def test_rows_published_as_the_database_went_are_sent_once_when_it_comes_back(relay: Any) -> None:
    """Relay A's records reach the broker, and the database goes before A can delete their rows: the rows'
    locks die with A's connection, and A retries deleting them until the database is back. Relay B met the
    outage in its sweep; the database answers B first. B must leave those rows to A (not send them again),
    yet send what nobody holds once A had its chance."""
    outbox, broker, sql = relay
    policy = RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.2)
    to_a, to_b = Gate(outbox.sessions), Gate(outbox.sessions)
    a = OutboxRelay(broker, to_a, tables.messaging, run_here, grace_s=0, retry=policy)
    b = OutboxRelay(broker, to_b, tables.messaging, run_here, grace_s=0, retry=policy)
    records = enqueue(outbox, ("k", "one"), ("j", "two"))
    sent_by_broker = broker.send

    async def send_then_lose_the_database(batch: list[OutboxRecord]) -> list[Failure | None]:
        outcomes = await sent_by_broker(batch)
        to_a.open = to_b.open = False
        sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return outcomes

    broker.send = send_then_lose_the_database
    a_done = threading.Thread(target=lambda: asyncio.run(a.publish_committed(records)))
    a_done.start()
    try:
        deadline = time.monotonic() + 10
        while broker.wire != [b"one", b"two"] and time.monotonic() < deadline:
            time.sleep(0.01)
        broker.send = sent_by_broker
        with pytest.raises(OperationalError):
            asyncio.run(b.sweep())  # B meets the outage

        to_b.open = True  # the database is back, and B hears of it before A retries; B's first sweep may meet a
        # connection the outage killed in its pool, and fails as the scheduler's would, to be tried again
        back = eventually(lambda: asyncio.run(b.sweep()), lambda _: True, timeout_s=10, ignoring=(OperationalError,))
        assert back.sent == [] and broker.wire == [b"one", b"two"], "B sent A's rows again"
        (stranded,) = enqueue(outbox, ("s", "nobody holds me"))
    finally:
        to_a.open = True
        a_done.join(timeout=10)
    assert not a_done.is_alive() and sql("SELECT count(*) FROM orders.outbox") == [(1,)], "A settled its rows"
    time.sleep(policy.max_delay_s)  # B's quiet: one back-off delay and the grace (0 here)
    assert [r.id for r in asyncio.run(b.sweep()).sent] == [stranded.id]
    assert broker.wire == [b"one", b"two", b"nobody holds me"]
