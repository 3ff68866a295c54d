"""One message size limit everywhere, and dead letters the broker always takes."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from services.common.dead_letters import PREVIEW_BYTES, DeadLetter, Incoming, record_size
from services.common.settings import Settings
from services.common.topics import load_spec, message_max_bytes

ROOT = Path(__file__).resolve().parents[2]
LIMIT = message_max_bytes()
FAILED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_dead_letter_keeps_the_original_bytes_and_says_where_they_came_from() -> None:
    message = Incoming("shop.orders", 3, 42, b"o-1", b"\x00garbage")
    record = DeadLetter(message, "not JSON", "orders", FAILED_AT).record(LIMIT)
    headers = dict(record.headers)
    assert (record.topic, record.key, record.value) == ("shop.orders.dlq", b"o-1", b"\x00garbage")
    assert headers["fulfil.error"] == b"not JSON"
    assert "fulfil.truncated" not in headers
    assert (headers["fulfil.source.topic"], headers["fulfil.source.partition"], headers["fulfil.source.offset"]) == (
        b"shop.orders", b"3", b"42")
    again = DeadLetter(message, "not JSON", "orders", datetime(2026, 1, 2, tzinfo=UTC))
    assert record.event_id == again.record(LIMIT).event_id and isinstance(record.event_id, uuid.UUID)


@pytest.mark.parametrize("key_size, value_size", [(10, LIMIT - 200), (10, LIMIT - 90), (LIMIT // 2, LIMIT // 2 - 200),
                                                  (0, LIMIT * 3)])
def test_a_dead_letter_of_any_input_fits_under_the_limit_and_points_to_the_whole(key_size: int,
                                                                                  value_size: int) -> None:
    """Inputs close to the limit grow by the headers: the record then carries a preview, size and sha256."""
    value = b"x" * value_size
    dead = DeadLetter(Incoming("carrier.scans", 0, 7, b"k" * key_size or None, value), "not JSON " * 1000,
                      "tracking", FAILED_AT)
    record = dead.record(LIMIT)
    assert record_size(record.key, record.value, record.headers) <= LIMIT
    headers = dict(record.headers)
    assert headers["fulfil.truncated"] == b"true"
    assert headers["fulfil.original.size"] == str(value_size).encode()
    assert headers["fulfil.original.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert headers["fulfil.dead_letter"] == f"tracking:{dead.id}".encode()
    assert record.value == value[:PREVIEW_BYTES]
    row = dead.row()
    assert row["value"] == value and row["size"] == value_size and row["id"] == dead.id


def test_topics_broker_compose_and_producers_share_one_size_limit() -> None:
    spec = load_spec()
    assert {s.config["max.message.bytes"] for s in spec.values()} == {str(LIMIT)}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["kafka"]["environment"]["KAFKA_MESSAGE_MAX_BYTES"] == str(LIMIT)
    broker = subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "limits"], capture_output=True, text=True,
                            check=True)
    assert broker.stdout.strip() == f"message.max.bytes={LIMIT}"
    from services.common.faust_app import create_app
    from services.common.kafka_io import producer_options
    assert producer_options(Settings())["max_request_size"] == LIMIT
    assert create_app("orders", Settings()).conf.producer_max_request_size == LIMIT
