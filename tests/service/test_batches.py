"""A batch behaves as if its events were handled one at a time, in every service: the same events (an exact
duplicate and several shops using one order id among them) go through the processor once as one batch and once
one by one, from the same state, and must leave the same rows and publish the same events, key by key.

The worker hands the processor a fetch's share of each topic, so the batch here is one list per topic, and the
one-by-one run takes the events in the order the batch handles them: each topic's in turn."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select

from schemas.base import Payload
from schemas.carrier import ShipmentDelivered, ShipmentOutForDelivery
from schemas.envelope import Event, make_event
from schemas.registry import SHOP_BOUND, TOPIC_OF, correlation_of, message_key
from schemas.signing import Signer
from services import catalog
from services.common.dead_letters import Incoming
from services.common.processor import Processor
from services.common.signing_keys import register
from services.warehouse import layout
from tests.service.builders import (
    accepted,
    cancel_request,
    cancelled,
    parcel,
    picklist,
    placed,
    reserved,
    return_requested,
    scan,
    shipment_packed,
    status_changed,
    stock_counted,
    stock_received,
)
from tests.service.conftest import NOW, SOURCES
from tests.service.test_warehouse import LAYOUT

pytestmark = pytest.mark.service

SHOPS = ("acme", "globex")
SIGNERS = {shop: Signer.generate() for shop in SHOPS}
MESSAGING = ("inbox", "outbox", "outbox_parked", "consumer_offsets")


def orders() -> list[Payload]:
    """Two shops' A-1, an id used again by a new placement, a rejected order placed again corrected, a
    cancellation in the same batch as its order, a pick list that starts one order's picking."""
    return [placed("A-1", "acme"), placed("A-1", "globex"), placed("A-1", "acme", ("SKU-BLUE", 1)),
            placed("A-2", "acme", total="1.00"), placed("A-2", "acme"), placed("A-3", "acme"),
            cancel_request("A-3", "acme"), cancel_request("A-1", "globex"), picklist(("acme", "A-1"))]


def warehouse() -> list[Payload]:
    """Orders of two shops for the same few units, a cancellation, stock in and counted, a parcel packed."""
    return [accepted("A-1", "acme", ("SKU-RED", 2)), accepted("A-1", "globex", ("SKU-RED", 2)),
            accepted("A-2", "acme", ("SKU-BLUE", 1)), accepted("A-3", "globex", ("SKU-RED", 9)),
            cancelled("A-2", "acme"), stock_received("WH-1", "SKU-RED", 4), stock_counted("WH-2", "SKU-RED", 8),
            parcel("A-1", ("SKU-RED", 2))]


def tracking() -> list[Payload]:
    """Orders, their reservations and parcels, a carrier's scans, one of them before its parcel is known."""
    return [accepted("A-1", "acme"), accepted("A-1", "globex"), scan(ShipmentOutForDelivery, "FL0000000002", 40),
            reserved("A-1", "acme", "SH-1"), reserved("A-1", "globex", "SH-2"),
            shipment_packed("A-1", "acme", "SH-1", "FL0000000001"), shipment_packed("A-1", "globex", "SH-2",
                                                                                     "FL0000000002"),
            scan(ShipmentOutForDelivery, "FL0000000001", 50), scan(ShipmentDelivered, "FL0000000001", 70)]


def returns() -> list[Payload]:
    """A delivered order of each shop, return requests for both, one for an order that was never delivered."""
    return [accepted("A-1", "acme"), accepted("A-1", "globex"), accepted("A-2", "acme"),
            shipment_packed("A-1", "acme", "SH-1", "FL0000000001"),
            shipment_packed("A-1", "globex", "SH-2", "FL0000000002"),
            status_changed("A-1", "SH-1", "delivered"), status_changed("A-1", "SH-2", "delivered", shop="globex"),
            return_requested("R-1", "A-1", ("1", "SKU-RED", 1)),
            return_requested("R-1", "A-1", ("1", "SKU-RED", 2), shop="globex"),
            return_requested("R-2", "A-2", ("1", "SKU-RED", 1))]


def routing() -> list[Payload]:
    """Orders and parcels of two shops for a depot the routing service does not know, and a scan."""
    return [accepted("A-1", "acme"), accepted("A-1", "globex"),
            shipment_packed("A-1", "acme", "SH-1", "FL0000000001"),
            shipment_packed("A-1", "globex", "SH-2", "FL0000000002"),
            scan(ShipmentOutForDelivery, "FL0000000001", 50)]


STREAMS: dict[str, tuple[Callable[[], list[Payload]], timedelta]] = {
    "orders": (orders, timedelta(0)), "warehouse": (warehouse, timedelta(0)), "tracking": (tracking, timedelta(0)),
    "returns": (returns, timedelta(days=3)), "routing": (routing, timedelta(0))}
"""Each service's events, and how far after NOW its processor's clock stands (a return is asked for days later)."""


def messages(payloads: list[Payload], service: str) -> dict[str, list[Incoming]]:
    """Per topic the service reads, its records: fixed event ids, and the first event of the stream a second time
    (an exact re-send)."""
    reads = catalog.service(service).handlers
    events: list[tuple[str, Event[Payload]]] = []
    for n, payload in enumerate(payloads):
        topic = TOPIC_OF[type(payload)]
        if topic not in reads:
            continue
        shop = getattr(payload, "shop_id", None)
        source = f"shop:{shop}" if topic in SHOP_BOUND else SOURCES.get(topic, "service:test")
        events.append((topic, make_event(payload, source=source, correlation_id=correlation_of(payload),
                                         occurred_at=NOW, event_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{service}-{n}"))))
    events.insert(2, events[0])
    by_topic: dict[str, list[Incoming]] = {}
    for topic, event in events:
        value = event.to_json()
        headers = SIGNERS[str(getattr(event.payload, SHOP_BOUND[topic]))].headers(topic, value) \
            if topic in SHOP_BOUND else ()
        records = by_topic.setdefault(topic, [])
        records.append(Incoming(topic, 0, len(records), message_key(topic, event).encode(), value, headers))
    return by_topic


def snapshot(h: Any, service: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the service's tables but the plumbing's, without the columns the database fills itself
    (identities, now())."""
    tables: list[Table] = list(catalog.service(service).metadata.sorted_tables)
    found = {}
    with h.sessions() as session:
        for table in tables:
            if table.name in MESSAGING:
                continue
            columns = [c for c in table.columns if c.server_default is None and c.identity is None
                       and not (c.primary_key and c.autoincrement is True and str(c.type) in ("BIGINT", "INTEGER"))]
            found[table.name] = sorted((tuple(row) for row in session.execute(select(*columns))), key=repr)
    return found


@pytest.mark.parametrize("service", list(STREAMS))
def test_a_batch_leaves_the_same_rows_and_publishes_the_same_as_one_event_at_a_time(harness: Any,
                                                                                    service: str) -> None:
    stream, later = STREAMS[service]
    h = harness(service)
    declared = catalog.service(service)
    connection = h.sessions.kw["bind"]
    with h.session() as session:
        if service == "warehouse":
            layout.apply(session, layout.Layout.model_validate(LAYOUT), NOW)
        if declared.keyring is not None:
            for shop, signer in SIGNERS.items():
                register(session, [declared.keyring], shop, signer.public_key, NOW)
    by_topic = messages(stream(), service)
    clock: Callable[[], datetime] = lambda: NOW + later  # noqa: E731

    def run(batched: bool) -> tuple[dict[str, list[tuple[Any, ...]]], dict[bytes | None, list[tuple[str, bytes]]]]:
        attempt = connection.begin_nested()
        try:
            processor = Processor(service, h.sessions, declared.messaging, declared.handlers, h.settings, clock,
                                  sleep=lambda s: None, keyring=declared.keyring, store=declared.store)
            if batched:
                outcomes = processor.run_together(list(by_topic.values()))
            else:
                outcomes = [processor.run([m]) for records in by_topic.values() for m in records]
            published: dict[bytes | None, list[tuple[str, bytes]]] = {}
            for outcome in outcomes:
                for record in outcome.to_publish:
                    published.setdefault(record.key, []).append((record.topic, record.value))
            return snapshot(h, service), published
        finally:
            attempt.rollback()

    alone_rows, alone_published = run(batched=False)
    batch_rows, batch_published = run(batched=True)
    assert sum(map(len, alone_published.values())) > 0, "the stream made the service say nothing: it proves little"
    assert any(alone_rows.values()), "the stream left no rows: it proves little"
    assert batch_rows == alone_rows
    assert batch_published == alone_published
