"""The processor's error policy against real PostgreSQL, with handlers that fail on purpose."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from schemas.envelope import Event
from schemas.signing import Signer
from services.common.db import make_engine, unit_of_work_factory
from services.common.dead_letters import Incoming
from services.common.embedded import EmbeddedPostgres
from services.common.handling import Context, Emit
from services.common.health import Health
from services.common.processor import Processor
from services.common.settings import Settings
from services.common.unit_of_work import UnitOfWork
from services.migrations import upgrade
from services.orders import tables
from services.orders.handlers import handlers, place_orders
from services.orders.settings import OrdersSettings
from services.orders.store import Store
from tests.factories import order_placed

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(postgres: EmbeddedPostgres) -> Iterator[Settings]:
    name = f"p{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    configured = OrdersSettings(database_url=postgres.url(name), db_retry_attempts=4)
    upgrade(configured)
    engine = make_engine(configured)
    with engine.begin() as connection:
        tables.keyring.add(Session(bind=connection), "acme", ACME.public_key, datetime.now(UTC))
    engine.dispose()
    yield configured


ACME = Signer.generate()
"""acme's signing key, registered in every test's database."""


def message(document: dict[str, object] | bytes, offset: int, signer: Signer | None = ACME,
            partition: int = 0) -> Incoming:
    """A record on shop.orders, signed by `signer`."""
    value = document if isinstance(document, bytes) else json.dumps(document).encode()
    return Incoming("shop.orders", partition, offset, b"k", value,
                    signer.headers("shop.orders", value) if signer else ())


def processor(settings: Settings, handler: object, sleeps: list[float] | None = None,
              health: Health | None = None) -> Processor:
    table = {"shop.orders": {"order.placed": handler}}
    return Processor("orders", unit_of_work_factory(make_engine(settings)), tables.messaging, table,  # type: ignore[arg-type]
                     settings, lambda: datetime.now(UTC), sleep=(sleeps.append if sleeps is not None else lambda s: None),
                     health=health, keyring=tables.keyring, store=Store)


def count(settings: Settings, sql: str) -> int:
    from sqlalchemy import create_engine, text
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(value)


def test_a_failing_handler_dead_letters_only_its_event_and_the_rest_commit(settings: Settings) -> None:
    def picky(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        if event.envelope.correlation_id == "acme/o-bug":
            raise KeyError("a bug in the handler")
        place_orders(uow, [event], ctx)

    outcome = processor(settings, picky).run(
        [message(order_placed("o-1"), 0), message(order_placed("o-bug"), 1), message(order_placed("o-2"), 2)])
    assert (outcome.processed, outcome.dead) == (2, 1)
    dead = [r for r in outcome.to_publish if r.topic == "shop.orders.dlq"]
    assert len(dead) == 1 and b"o-bug" in dead[0].value and dead[0].id is not None
    assert "KeyError('a bug in the handler')" in dict(dead[0].headers)["fulfil.error"].decode()
    assert count(settings, "SELECT count(*) FROM orders.orders") == 2
    assert count(settings, "SELECT count(*) FROM orders.inbox") == 3, "the dead event must not be retried forever"


def test_the_same_event_twice_in_one_batch_is_processed_once(settings: Settings) -> None:
    placed = order_placed("o-twice")
    outcome = processor(settings, handlers["shop.orders"]["order.placed"]).run(
        [message(placed, 0), message(placed, 1)])
    assert (outcome.processed, outcome.duplicates, len(outcome.to_publish)) == (1, 1, 1)


def test_transient_database_errors_are_retried_with_backoff(settings: Settings) -> None:
    failures = [2]

    def flaky(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, psycopg2.OperationalError("server closed the connection"))
        place_orders(uow, [event], ctx)

    sleeps: list[float] = []
    outcome = processor(settings, flaky, sleeps).run([message(order_placed("o-flaky"), 0)])
    assert outcome.processed == 1 and sleeps == [0.1, 0.2]
    assert count(settings, "SELECT count(*) FROM orders.orders") == 1


def test_a_database_outage_of_any_length_is_waited_out_and_nothing_is_dead_lettered(settings: Settings) -> None:
    """Far past the old retry budget (settings here allow 4 attempts): the batch waits, capped back-off."""
    failures = [40]

    def down_for_a_while(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, psycopg2.OperationalError("could not connect to server"))
        place_orders(uow, [event], ctx)

    sleeps: list[float] = []
    health = Health(60)
    seen_down: list[bool] = []
    run = processor(settings, down_for_a_while, sleeps, health)
    run.sleep = lambda s: (sleeps.append(s), seen_down.append(health.outage))  # type: ignore[assignment,func-returns-value]
    outcome = run.run([message(b"garbage", 0), message(order_placed("o-a"), 1), message(order_placed("o-b"), 2)])
    assert len(sleeps) == 40 and max(sleeps) == settings.db_retry_max_delay_s
    assert all(seen_down) and not health.outage, "not ready during the outage, ready again after"
    assert (outcome.processed, outcome.dead) == (2, 1), "only the undecodable message is a dead letter"
    assert count(settings, "SELECT count(*) FROM orders.orders") == 2
    assert count(settings, "SELECT count(*) FROM orders.dead_letters") == 1
    assert count(settings, "SELECT next_offset FROM orders.consumer_offsets WHERE topic = 'shop.orders'") == 3


def test_a_handler_error_that_does_not_repeat_is_not_a_dead_letter(settings: Settings) -> None:
    failed = set()

    def once(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        if event.envelope.correlation_id not in failed:
            failed.add(event.envelope.correlation_id)
            raise RuntimeError("a hiccup")
        place_orders(uow, [event], ctx)

    outcome = processor(settings, once).run([message(order_placed("o-1"), 0), message(order_placed("o-2"), 1)])
    assert (outcome.processed, outcome.dead) == (2, 0)


def test_an_answer_too_large_to_publish_dead_letters_its_cause_and_commits_nothing_of_it(settings: Settings) -> None:
    def bloated(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        place_orders(uow, [event], ctx)
        answers = uow.events(event).emits
        if event.envelope.correlation_id == "acme/o-huge":  # an answer keyed by 6.6 MB: over any broker's limit
            answers[0] = Emit(answers[0].topic, answers[0].key * 600_000, answers[0].event)

    outcome = processor(settings, bloated).run([message(order_placed("o-huge"), 0), message(order_placed("o-2"), 1)])
    assert (outcome.processed, outcome.dead) == (1, 1)
    dead = [r for r in outcome.to_publish if r.topic == "shop.orders.dlq"]
    assert b"the broker takes at most" in dict(dead[0].headers)["fulfil.error"]
    assert count(settings, "SELECT count(*) FROM orders.orders") == 1, "the oversized answer's order rolled back"


def test_undecodable_messages_are_dead_lettered_through_the_outbox(settings: Settings) -> None:
    outcome = processor(settings, handlers["shop.orders"]["order.placed"]).run(
        [message(b"{", 0), message(order_placed("o-ok"), 1)])
    assert (outcome.processed, outcome.dead) == (1, 1)
    assert count(settings, "SELECT count(*) FROM orders.outbox WHERE topic = 'shop.orders.dlq'") == 1


def test_only_a_live_key_of_the_events_shop_gets_it_handled_and_a_refusal_claims_nothing(
        settings: Settings) -> None:
    """Forged by another shop's key, unsigned, signed by an unregistered key: each is a dead letter with its
    reason, and none claims its event id, so the shop's own event with that id is still taken afterwards."""
    run = processor(settings, handlers["shop.orders"]["order.placed"])
    genuine = order_placed("o-g", shop_id="globex")
    globex = Signer.generate()
    forged = [message(genuine, 0), message(genuine, 1, signer=None), message(genuine, 2, signer=globex)]
    refused = run.run(forged)
    assert (refused.processed, refused.dead) == (0, 3)
    reasons = [dict(r.headers)["fulfil.error"].decode() for r in refused.to_publish]
    assert "a key of shop 'acme'; it may not act for shop 'globex'" in reasons[0]
    assert reasons[1].startswith("not signed") and "not a live signing key" in reasons[2]
    assert count(settings, "SELECT count(*) FROM orders.inbox") == 0
    engine = make_engine(settings)
    with engine.begin() as connection:
        tables.keyring.add(Session(bind=connection), "globex", globex.public_key, datetime.now(UTC))
    engine.dispose()
    taken = run.run([message(genuine, 3, signer=globex)])
    assert (taken.processed, taken.dead) == (1, 0)
    assert count(settings, "SELECT count(*) FROM orders.orders WHERE shop_id = 'globex'") == 1


def test_a_revoked_key_signs_nothing_from_the_next_batch(settings: Settings) -> None:
    run = processor(settings, handlers["shop.orders"]["order.placed"])
    assert run.run([message(order_placed("o-1"), 0)]).processed == 1
    engine = make_engine(settings)
    with engine.begin() as connection:
        assert tables.keyring.revoke(Session(bind=connection), ACME.key_id, datetime.now(UTC))
    engine.dispose()
    after = run.run([message(order_placed("o-2"), 1)])
    assert (after.processed, after.dead) == (0, 1)
    assert "not a live signing key" in dict(after.to_publish[0].headers)["fulfil.error"].decode()


def test_abandon_keeps_every_message_of_a_batch(settings: Settings) -> None:
    batch = [message(order_placed("o-x"), 0), message(b"junk", 1)]
    outcome = processor(settings, handlers["shop.orders"]["order.placed"]).abandon(batch, "processing failed: boom")
    assert [r.value for r in outcome.to_publish] == [m.value for m in batch]
    assert all(dict(r.headers)["fulfil.error"] == b"processing failed: boom" for r in outcome.to_publish)
    assert count(settings, "SELECT count(*) FROM orders.dead_letters") == 2, "kept whole in the database"


def test_an_undecodable_message_redelivered_after_a_rebalance_goes_to_the_dead_letters_once(
        settings: Settings) -> None:
    run = processor(settings, handlers["shop.orders"]["order.placed"])
    first = run.run([message(b"{", 7)])
    again = run.run([message(b"{", 7)])
    assert (first.dead, len(first.to_publish)) == (1, 1)
    assert (again.dead, again.duplicates, again.to_publish) == (0, 1, [])
    assert count(settings, "SELECT count(*) FROM orders.dead_letters") == 1


def test_two_topics_shares_of_a_fetch_commit_together_each_with_its_own_outcome(settings: Settings) -> None:
    """What the worker does with one fetch of two topics (here two partitions): one transaction, outcomes kept
    apart (metrics and logs are per topic), every partition's position recorded."""
    placed = order_placed("o-2")
    first = [message(order_placed("o-1"), 0), message(b"not json", 1)]
    second = [message(placed, 7, partition=1), message(placed, 8, partition=1)]
    a, b = processor(settings, handlers["shop.orders"]["order.placed"]).run_together([first, second])
    assert (a.processed, a.dead, a.duplicates) == (1, 1, 0)
    assert (b.processed, b.dead, b.duplicates) == (1, 0, 1)
    assert sorted(r.topic for r in a.to_publish) == ["orders.events", "shop.orders.dlq"]
    assert [r.topic for r in b.to_publish] == ["orders.events"] and b"o-2" in b.to_publish[0].value
    assert all(r.id is not None for r in a.to_publish + b.to_publish)
    assert count(settings, "SELECT count(*) FROM orders.orders") == 2
    assert count(settings, "SELECT sum(next_offset) FROM orders.consumer_offsets") == 2 + 9


def test_a_fault_in_one_topics_share_rolls_back_the_others_until_it_passes(settings: Settings) -> None:
    failures = [1]

    def flaky_for_o2(uow: UnitOfWork[Any], event: Event, ctx: Context) -> None:
        if event.envelope.correlation_id == "acme/o-2" and failures[0]:
            failures[0] -= 1
            assert count(settings, "SELECT count(*) FROM orders.orders") == 0, "o-1 is not committed on its own"
            raise OperationalError("INSERT", {}, psycopg2.OperationalError("server closed the connection"))
        place_orders(uow, [event], ctx)

    sleeps: list[float] = []
    outcomes = processor(settings, flaky_for_o2, sleeps).run_together(
        [[message(order_placed("o-1"), 0)],
         [message(order_placed("o-2"), 0, partition=1)]])
    assert [o.processed for o in outcomes] == [1, 1] and sleeps == [0.1]
    assert count(settings, "SELECT count(*) FROM orders.orders") == 2
