"""One contract for `Messaging`, run against every service's own tables on real PostgreSQL: what the processor
and the relay rely on (claims, the outbox's order, SKIP LOCKED between sweepers, back-off, parking, dead
letters, positions) holds in each schema alike, so a service whose migration drifted fails here by name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services import catalog
from services.common.db import make_engine, unit_of_work_factory
from services.common.embedded import EmbeddedPostgres
from services.common.messaging import Messaging, OutboxRecord
from services.common.settings import Settings
from services.migrations import upgrade

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sessions(postgres: EmbeddedPostgres) -> Iterator[sessionmaker[Session]]:
    postgres.create_database("messaging_contract")
    settings = Settings(database_url=postgres.url("messaging_contract"))
    upgrade(settings)
    engine = make_engine(settings)
    yield unit_of_work_factory(engine)
    engine.dispose()


@pytest.fixture(params=[s.name for s in catalog.services()])
def messaging(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> Iterator[Messaging]:
    """One service's messaging tables, emptied before the test."""
    declared = catalog.service(request.param).messaging
    with sessions.begin() as session:
        for table in (declared.inbox, declared.outbox, declared.parked, declared.dead_letters, declared.offsets):
            session.execute(table.delete())
    yield declared


def record(key: bytes = b"k", value: bytes | None = None, topic: str = "t") -> OutboxRecord:
    event_id = uuid.uuid4()
    return OutboxRecord(topic, key, value or event_id.bytes, event_id, [("fulfil.h", b"v")])


def claim(event_id: uuid.UUID, offset: int = 0) -> dict[str, object]:
    return {"event_id": event_id, "event_type": "x.happened", "topic": "t", "partition": 0, "offset": offset}


def aged(session: Session, messaging: Messaging, seconds: int = 60) -> None:
    """Every outbox row written `seconds` ago: past any sweep's grace."""
    session.execute(messaging.outbox.update().values(created_at=text(f"now() - interval '{seconds} seconds'")))


def test_an_event_is_claimed_once_whatever_the_calls(messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with sessions.begin() as session:
        assert messaging.claim(session, a, "x.happened", "t", 0, 1) is True
        assert messaging.claim(session, a, "x.happened", "t", 0, 1) is False
        assert messaging.claim_many(session, [claim(a), claim(b), claim(c)]) == {b, c}
        assert messaging.claim_many(session, [claim(b), claim(c)]) == set()
        assert messaging.claim_many(session, []) == set()
    with sessions.begin() as session:  # claims commit with their transaction, and only then
        assert messaging.claim(session, a, "x.happened", "t", 0, 1) is False
        rolled_back = uuid.uuid4()
        savepoint = session.begin_nested()
        messaging.claim(session, rolled_back, "x.happened", "t", 0, 2)
        savepoint.rollback()
        assert messaging.claim(session, rolled_back, "x.happened", "t", 0, 2) is True


def test_the_outbox_keeps_the_order_records_are_enqueued_in_and_each_event_once(
        messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    records = [record(key=bytes([i % 3])) for i in range(7)]
    with sessions.begin() as session:
        stored = messaging.enqueue(session, records)
        again = messaging.enqueue(session, [records[2], record()])
        aged(session, messaging)
    assert [r.event_id for r in stored] == [r.event_id for r in records]
    ids = [r.id or 0 for r in stored]
    assert all(ids) and ids == sorted(ids), "ids count up in the order given"
    assert [r.event_id for r in again] != [records[2].event_id] and len(again) == 1, "an event already there is skipped"
    with sessions.begin() as session:
        unsent = messaging.lock_unsent(session, timedelta(seconds=1))
    assert [r.event_id for r in unsent[:7]] == [r.event_id for r in records]
    assert unsent[0].headers == [("fulfil.h", b"v")] and unsent[0].value == records[0].value


def test_a_row_one_sweeper_holds_is_skipped_by_the_next(messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        stored = messaging.enqueue(session, [record(key=bytes([i])) for i in range(4)])
        aged(session, messaging)
    first, second = sessions(), sessions()
    second.execute(text("SET LOCAL lock_timeout = '5s'"))  # waiting for the first's rows fails instead of hanging
    try:
        taken = messaging.lock_unsent(first, timedelta(seconds=1), limit=2)
        rest = messaging.lock_unsent(second, timedelta(seconds=1))
        assert {r.id for r in taken} | {r.id for r in rest} == {r.id for r in stored}
        assert not {r.id for r in taken} & {r.id for r in rest}, "SKIP LOCKED: no row goes to two sweepers"
        assert messaging.lock_ids(second, [r.id for r in taken if r.id]) == set()
        messaging.delete_sent(second, [r.id for r in stored if r.id])  # leaves what the first sweeper holds
        second.commit()
        assert messaging.still_unsent(second, [r.id for r in stored if r.id]) == {r.id for r in taken}
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()


def test_a_young_row_waits_for_its_grace(messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        messaging.enqueue(session, [record()])
        assert messaging.lock_unsent(session, timedelta(seconds=30)) == []


def test_a_deferred_row_backs_off_doubling_to_its_cap_and_holds_back_its_key(
        messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first, later, other = messaging.enqueue(session, [record(b"same"), record(b"same"), record(b"other")])
        aged(session, messaging)
    waits = []
    for _ in range(4):
        with sessions.begin() as session:
            messaging.defer(session, [(first.id or 0, "broker away")], base_s=10, cap_s=30)
            waits.append(session.execute(text(
                f"SELECT round(extract(epoch FROM next_attempt_at - now())), attempts, last_error "
                f"FROM {messaging.outbox.schema}.outbox WHERE id = {first.id}")).one())
    assert [int(w[0]) for w in waits] == [10, 20, 30, 30] and waits[-1][1:] == (4, "broker away")
    with sessions.begin() as session:
        due = {r.id for r in messaging.lock_unsent(session, timedelta(seconds=1))}
    assert due == {other.id}, "neither the deferred row nor the later row of its key goes ahead of it"


def test_a_row_that_can_never_go_is_parked_with_its_reason_and_counted(
        messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        kept, parked = messaging.enqueue(session, [record(), record(value=b"x" * 100)])
        messaging.park(session, [(parked.id or 0, "MessageSizeTooLargeError: " + "e" * 5000)])
        backlog = messaging.backlog(session)
        row = session.execute(text(f"SELECT value, reason FROM {messaging.parked.schema}.outbox_parked")).one()
    assert (backlog.rows, backlog.parked) == (1, 1)
    assert bytes(row[0]) == b"x" * 100 and row[1].startswith("MessageSizeTooLargeError") and len(row[1]) == 4000
    with sessions.begin() as session:
        assert messaging.still_unsent(session, [kept.id or 0, parked.id or 0]) == {kept.id}


def test_a_dead_letter_is_kept_once_per_source_position(messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    def letter(offset: int) -> dict[str, Any]:
        return {"id": uuid.uuid4(), "source_topic": "t", "source_partition": 0, "source_offset": offset,
                "key": None, "value": b"bad", "headers": [], "reason": "undecodable", "service": "x",
                "failed_at": datetime.now(UTC), "size": 3, "sha256": "0" * 64}

    first, same_place, elsewhere = letter(5), letter(5), letter(6)
    with sessions.begin() as session:
        assert messaging.store_dead_letters(session, [first]) == {first["id"]}
        assert messaging.store_dead_letters(session, [same_place, elsewhere]) == {elsewhere["id"]}
        assert messaging.store_dead_letters(session, []) == set()


def test_a_partitions_position_only_moves_forward(messaging: Messaging, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        messaging.record_offsets(session, {("t", 0): 10, ("t", 1): 3})
        messaging.record_offsets(session, {("t", 0): 7, ("t", 1): 4})  # a stale batch after a rebalance
        assert messaging.positions(session) == {("t", 0): 10, ("t", 1): 4}
