"""The spine end to end on real Apache Kafka and real PostgreSQL, with real worker processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.embedded import free_port
from tests.factories import cancellation, order_placed, picklist_issued
from tests.integration.conftest import Stack, get, values

pytestmark = pytest.mark.integration


def test_an_order_delivered_twice_is_accepted_once_and_emitted_once(stack: Stack) -> None:
    stack.start_worker()
    placed = order_placed("o-dup", event_id=uuid.uuid4())
    stack.send("shop.orders", [placed, placed])
    records = stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) >= 1, settle_s=3)
    accepted = values(records)
    assert [e["event_type"] for e in accepted] == ["order.accepted"]
    assert accepted[0]["causation_id"] == placed["event_id"]
    assert accepted[0]["payload"]["total"] == "44.93"
    assert stack.sql("SELECT count(*) FROM orders.inbox")[0][0] == 1
    assert stack.sql("SELECT status FROM orders.orders WHERE order_id = 'o-dup'")[0][0] == "accepted"


def test_a_rejected_order_carries_every_reason(stack: Stack) -> None:
    stack.start_worker()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    bad = order_placed("o-bad", lines=[{"line_id": "1", "sku": "A", "quantity": 0, "unit_price": "1.00"}],
                       discount_total="0", total="12.00",
                       delivery_window={"start": yesterday.isoformat(), "end": (yesterday + timedelta(hours=2)).isoformat()})
    stack.send("shop.orders", [bad])
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= 1)
    (rejected,) = values(records)
    assert rejected["event_type"] == "order.rejected"
    reasons = {r["field"]: r["code"] for r in rejected["payload"]["reasons"]}
    assert reasons == {"lines[0].quantity": "quantity_not_positive", "total": "total_mismatch",
                       "delivery_window.start": "window_in_past"}


def test_bad_messages_go_to_the_dead_letters_and_the_partition_moves_on(stack: Stack) -> None:
    port = free_port()
    stack.start_worker(FULFIL_METRICS_PORT=str(port))
    invalid = order_placed("o-x")
    invalid["payload"]["lines"][0]["quantity"] = "lots"
    good = order_placed("o-after")
    stack.send("shop.orders", [b"this is not json", invalid, good], key="same-partition")
    dead = stack.read("shop.orders.dlq", lambda rs: len(rs) >= 2, settle_s=1)
    assert [r["value"] for r in dead][0] == "this is not json"
    assert dead[1]["value"] == invalid
    errors = [r["headers"]["fulfil.error"] for r in dead]
    assert errors[0].startswith("not JSON")
    assert "payload.lines.0.quantity" in errors[1]
    for record, offset in zip(dead[:2], (0, 1), strict=True):
        assert record["headers"]["fulfil.source.topic"] == stack.settings.topic("shop.orders")
        assert record["headers"]["fulfil.source.offset"] == str(offset)
        assert record["key"] == "same-partition"
    accepted = stack.read("orders.events", lambda rs: len(values(rs)) >= 1)
    assert [e["payload"]["order_id"] for e in values(accepted, "order.accepted")] == ["o-after"]
    # Operators see the same on the worker's Prometheus endpoint.
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(get(port, "/metrics").text) for sample in family.samples}
    where = (("service", "orders"), ("topic", "shop.orders"))
    assert samples[("fulfil_events_total", (("outcome", "processed"), *where))] == 1
    assert samples[("fulfil_events_total", (("outcome", "dead"), *where))] == 2
    assert samples[("fulfil_dead_letters_total", where)] == 2
    assert samples[("fulfil_batch_seconds_count", where)] >= 1
    assert any(name == "fulfil_consumer_lag" for name, _ in samples)


def test_cancellation_before_picking_is_confirmed_and_after_picking_is_refused(stack: Stack) -> None:
    stack.start_worker()
    stack.send("shop.orders", [order_placed("o-early"), order_placed("o-late")])
    stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 2)
    stack.send("warehouse.events", [picklist_issued(["o-late"])], key="wh-1")
    _wait_for_status(stack, "o-late", "picking")
    stack.send("shop.orders", [cancellation("o-early"), cancellation("o-late"), cancellation("o-never"),
                               cancellation("o-early", shop_id="globex")])
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= 6, settle_s=2)
    outcomes = {(e["payload"]["order_id"], e["event_type"], e["payload"].get("code"))
                for e in values(records) if e["event_type"] != "order.accepted"}
    assert outcomes == {
        ("o-early", "order.cancelled", None),
        ("o-late", "order.cancellation_refused", "picking_started"),
        ("o-never", "order.cancellation_refused", "unknown_order"),
        ("o-early", "order.cancellation_refused", "unknown_order"),  # globex has no o-early: acme's is acme's
    }
    statuses = dict(stack.sql("SELECT order_id, status FROM orders.orders"))
    assert statuses == {"o-early": "cancelled", "o-late": "picking"}
    history = stack.sql("SELECT from_status, to_status FROM orders.order_transitions WHERE order_id = 'o-early' "
                        "ORDER BY id")
    assert [tuple(h) for h in history] == [(None, "accepted"), ("accepted", "cancelled")]


def _wait_for_status(stack: Stack, order_id: str, status: str, timeout_s: float = 30) -> None:
    stack.until_sql(f"SELECT status FROM orders.orders WHERE order_id = '{order_id}'", [(status,)], timeout_s)


def test_an_id_in_use_is_refused_explicitly_and_a_rejected_order_can_be_placed_again(stack: Stack) -> None:
    stack.start_worker()
    first, other_shop = order_placed("o-same"), order_placed("o-same", shop_id="globex")
    reused = order_placed("o-same")  # acme again, a new event under an id acme already used
    wrong = order_placed("o-fix", total="1.00")
    stack.send("shop.orders", [first, other_shop, order_placed("o-next"), reused, wrong, first])  # `first` again
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= 5, settle_s=3)
    outcomes = sorted((e["event_type"], e["payload"]["order_id"], e["payload"]["shop_id"]) for e in values(records))
    assert outcomes == [("order.accepted", "o-next", "acme"), ("order.accepted", "o-same", "acme"),
                        ("order.accepted", "o-same", "globex"), ("order.rejected", "o-fix", "acme"),
                        ("order.rejected", "o-same", "acme")], outcomes
    causes = {(e["event_type"], e["payload"]["shop_id"], e["payload"]["order_id"]): e["causation_id"]
              for e in values(records)}
    assert causes[("order.accepted", "acme", "o-same")] == first["event_id"], "the first placement owns the id"
    assert causes[("order.rejected", "acme", "o-same")] == reused["event_id"]
    in_use = next(e for e in values(records, "order.rejected") if e["payload"]["order_id"] == "o-same")
    assert [r["code"] for r in in_use["payload"]["reasons"]] == ["order_id_in_use"]
    assert "already in use by shop 'acme'" in in_use["payload"]["reasons"][0]["message"]
    assert sorted(stack.sql("SELECT shop_id, status FROM orders.orders WHERE order_id = 'o-same'")) == [
        ("acme", "accepted"), ("globex", "accepted")]
    assert {e["key"] for e in records if e["value"]["payload"]["order_id"] == "o-same"} == {"acme/o-same",
                                                                                            "globex/o-same"}

    corrected = order_placed("o-fix")  # the shop fixes its total and sends the order again under its id
    stack.send("shop.orders", [corrected])
    records = stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) >= 4)
    assert ("o-fix", corrected["event_id"]) in [(e["payload"]["order_id"], e["causation_id"])
                                                for e in values(records, "order.accepted")]
    assert stack.sql("SELECT status FROM orders.orders WHERE order_id = 'o-fix'") == [("accepted",)]
    assert stack.sql("SELECT from_status, to_status FROM orders.order_transitions t JOIN orders.orders o "
                     "USING (shop_id, order_id) WHERE order_id = 'o-fix' ORDER BY t.id") == [(None, "rejected"),
                                                                                            ("rejected", "accepted")]