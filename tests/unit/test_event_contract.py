import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas import export
from schemas.envelope import derive_event_id, make_event
from schemas.orders import OrderAccepted, OrderPlaced
from schemas.registry import KEY_FIELDS, TOPICS, DecodeError, decode, message_key
from tests.factories import order_placed, to_bytes


def test_a_valid_order_decodes_into_its_typed_payload() -> None:
    event = decode("shop.orders", to_bytes(order_placed("o-9")))
    assert isinstance(event.payload, OrderPlaced)
    assert event.payload.total == Decimal("44.93")
    assert message_key("shop.orders", event) == "acme/o-9"  # order ids are unique per shop only


@pytest.mark.parametrize("raw, message", [
    (b"", "empty message"),
    (b"\xff\xfe", "not JSON"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"event_type": "order.placed"}', "invalid envelope: event_id: Field required"),
])
def test_undecodable_bytes_are_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode("shop.orders", raw)


def test_a_payload_error_names_the_field_path() -> None:
    document = order_placed()
    document["payload"]["lines"][1]["quantity"] = "two"
    with pytest.raises(DecodeError, match=r"payload\.lines\.1\.quantity"):
        decode("shop.orders", to_bytes(document))


def test_fractional_quantities_and_naive_times_are_refused() -> None:
    document = order_placed()
    document["payload"]["lines"][0]["quantity"] = 1.5
    with pytest.raises(DecodeError, match="quantity"):
        decode("shop.orders", to_bytes(document))
    document = order_placed()
    document["payload"]["placed_at"] = "2026-11-22T09:00:00"
    with pytest.raises(DecodeError, match="timezone"):
        decode("shop.orders", to_bytes(document))


def test_unknown_fields_are_refused_so_typos_never_pass_silently() -> None:
    document = order_placed()
    document["payload"]["lines"][0]["quantiy"] = 3
    with pytest.raises(DecodeError, match="quantiy: Extra inputs are not permitted"):
        decode("shop.orders", to_bytes(document))


def test_an_event_type_is_only_accepted_on_its_own_topic() -> None:
    with pytest.raises(DecodeError, match="is not carried on 'orders.events'"):
        decode("orders.events", to_bytes(order_placed()))


def test_unknown_schema_versions_are_refused_with_the_known_ones() -> None:
    document = order_placed() | {"schema_version": 7}
    with pytest.raises(DecodeError, match=r"schema_version 7 of 'order.placed' is unknown; known versions \[1\]"):
        decode("shop.orders", to_bytes(document))


def test_times_are_normalised_to_utc() -> None:
    document = order_placed()
    document["payload"]["placed_at"] = "2026-11-22T10:00:00+01:00"
    event = decode("shop.orders", to_bytes(document))
    assert event.payload.placed_at == datetime(2026, 11, 22, 9, tzinfo=UTC)  # type: ignore[attr-defined]
    assert event.payload.placed_at.utcoffset() == timedelta(0)  # type: ignore[attr-defined]


def test_money_travels_as_decimal_strings_never_floats() -> None:
    event = decode("shop.orders", to_bytes(order_placed()))
    wire = json.loads(event.to_json())
    assert wire["payload"]["lines"][0]["unit_price"] == "9.99"


def test_emitted_ids_are_deterministic_so_replays_reemit_the_same_ids() -> None:
    cause = decode("shop.orders", to_bytes(order_placed())).envelope
    payload = OrderAccepted(accepted_at=cause.occurred_at, **cause.payload)
    first = make_event(payload, source="service:orders", correlation_id="o-1", occurred_at=cause.occurred_at, cause=cause)
    again = make_event(payload, source="service:orders", correlation_id="o-1", occurred_at=cause.occurred_at, cause=cause)
    assert first.event_id == again.event_id == derive_event_id(cause.event_id, "order.accepted", 0)
    assert first.envelope.causation_id == cause.event_id
    assert derive_event_id(cause.event_id, "order.accepted", 1) != first.event_id


def test_every_topic_has_a_key_field_and_every_event_a_version() -> None:
    assert set(KEY_FIELDS) == set(TOPICS)
    for types in TOPICS.values():
        for event_type, versions in types.items():
            assert all(event_type == model.EVENT_TYPE and version >= 1 for version, model in versions.items())


def test_the_checked_in_json_schemas_match_the_models() -> None:
    assert export.differences() == [], "run `fulfil schemas export` and commit schemas/json/"


def test_the_schema_check_notices_a_stale_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    export.write(tmp_path)
    (tmp_path / "shop.orders.order.placed.v1.json").write_text("{}")
    (tmp_path / "shop.orders.order.ghost.v1.json").write_text("{}")
    assert export.differences(tmp_path) == ["extra shop.orders.order.ghost.v1.json",
                                            "out of date shop.orders.order.placed.v1.json"]


def test_the_published_order_schema_fixes_type_and_version() -> None:
    schema = json.loads((export.JSON_DIR / "shop.orders.order.placed.v1.json").read_text())
    assert schema["properties"]["event_type"]["const"] == "order.placed"
    assert schema["properties"]["schema_version"]["const"] == 1
    assert "payload" in schema["required"]
    assert uuid.UUID(order_placed()["event_id"])


def test_the_example_order_is_accepted_on_any_day_and_the_readme_shows_its_shape() -> None:
    import re
    from pathlib import Path

    from schemas.envelope import make_event
    from services.cli.examples import order_placed

    def example(order_id: str, shop_id: str, now: datetime) -> dict[str, Any]:
        event = make_event(order_placed(order_id, shop_id, now), source=f"shop:{shop_id}",
                           correlation_id=f"{shop_id}/{order_id}", occurred_at=now, event_id=uuid.uuid4())
        return json.loads(event.to_json())
    from services.orders.domain.validation import OrderRules, validate_order
    for now in (datetime.now(UTC), datetime(2031, 2, 28, 23, 59, tzinfo=UTC)):
        event = decode("shop.orders", to_bytes(example("A-1001", "acme", now)))
        assert validate_order(event.payload, OrderRules(), now) == []  # type: ignore[arg-type]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    shown = re.search(r"```json\n(.*?)```", readme, re.S)
    assert shown is not None
    made = example("A-1001", "acme", datetime.now(UTC))

    def shape(document: Any) -> Any:
        if isinstance(document, dict):
            return {k: shape(v) for k, v in document.items()}
        return [shape(v) for v in document] if isinstance(document, list) else type(document).__name__

    assert shape(json.loads(shown.group(1))) == shape(made)
    assert json.loads(shown.group(1))["payload"]["lines"] == made["payload"]["lines"]


@pytest.mark.parametrize("topic, event", [
    ("shop.orders", order_placed("A-102", shop_id="acme")),
    ("shop.returns", {**order_placed("A-102"), "event_type": "return.requested", "payload": {
        "return_id": "R-1", "order_id": "A-102", "shop_id": "acme", "requested_at": "2026-11-22T09:00:00Z",
        "lines": [{"line_id": "1", "sku": "SKU-RED", "quantity": 1, "reason": "damaged", "opened": False}]}}),
])
def test_a_shop_cannot_act_for_another_shop(topic: str, event: dict[str, object]) -> None:
    assert decode(topic, to_bytes(event))  # as acme, for acme: fine
    forged = {**event, "source": "shop:globex"}
    with pytest.raises(DecodeError, match="source 'shop:globex' may not act for shop 'acme'"):
        decode(topic, to_bytes(forged))
    with pytest.raises(DecodeError, match="may not act for shop"):
        decode(topic, to_bytes({**event, "source": "device:WH-1"}))


def test_a_refusal_names_the_field_never_the_customers_data() -> None:
    document = order_placed()
    customer = document["payload"]["customer"]
    customer.update(name="Ann Secret" * 30, email=["ann.secret@example.com"], phone=12345678)
    document["payload"]["delivery_address"]["country"] = "Belgium-Secret"
    document["payload"]["delivery_address"]["line1"] = {"street": "Secret Lane 1"}
    with pytest.raises(DecodeError) as refused:
        decode("shop.orders", to_bytes(document))
    reason = str(refused.value)
    for field in ("customer.name", "customer.email", "customer.phone", "delivery_address.country",
                  "delivery_address.line1"):
        assert f"payload.{field}" in reason
    assert "Secret" not in reason and "ann.secret" not in reason and "12345678" not in reason


def test_an_event_says_when_it_happened_in_its_envelope_and_its_own_times_only() -> None:
    from schemas.registry import event_times
    event = decode("shop.orders", to_bytes(order_placed("o-1")))
    assert [name for name, _ in event_times(event)] == ["occurred_at", "payload.placed_at"], \
        "the delivery window looks ahead on purpose and is not an event time"


@pytest.mark.parametrize("place", ["delivery_address.line2", "customer.name", "lines[1].sku", "notes", "key"])
def test_a_nul_that_postgres_cannot_store_is_refused_naming_the_field(place: str) -> None:
    event = order_placed("o-nul")
    payload = event["payload"]
    if place == "delivery_address.line2":
        payload["delivery_address"]["line2"] = "flat\u00002 ann@example.com"
        expected = "payload.delivery_address.line2"
    elif place == "customer.name":
        payload["customer"]["name"] = "\u0000"
        expected = "payload.customer.name"
    elif place == "lines[1].sku":
        payload["lines"][1]["sku"] = "SKU\u0000"
        expected = "payload.lines[1].sku"
    elif place == "notes":
        event["correlation_id"] = "acme/o-nul\u0000"
        expected = "correlation_id"
    else:
        payload["customer"]["n\u0000"] = "x"
        expected = "payload.customer.n\\u0000"
    with pytest.raises(DecodeError) as refused:
        decode("shop.orders", json.dumps(event).encode())
    assert str(refused.value).startswith(f"{expected}: contains a NUL character")
    assert "ann@example.com" not in str(refused.value)


def test_an_unpaired_surrogate_is_refused_and_a_paired_one_is_text() -> None:
    raw = json.dumps(order_placed("o-1")).encode()
    with pytest.raises(DecodeError, match="not JSON: lone leading surrogate"):
        decode("shop.orders", raw.replace(b'"Ann Example"', b'"Ann \\udc00"', 1))
    paired = decode("shop.orders", raw.replace(b'"Ann Example"', b'"Ann \\ud83d\\ude00"', 1))
    assert paired.payload.customer.name == "Ann \U0001f600"  # type: ignore[attr-defined]
