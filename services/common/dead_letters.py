"""Dead letters: the original bytes, unchanged, on `<topic>.dlq`, with why and where from in headers.

Keeping the value byte-for-byte means a fixed message can be replayed with `fulfil send`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.common.messaging import OutboxRecord

DLQ_SUFFIX = ".dlq"
MAX_ERROR_BYTES = 4000


@dataclass(frozen=True, slots=True)
class Incoming:
    """One Kafka message as received, before decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def dead_letter(message: Incoming, error: str, *, service: str, failed_at: datetime) -> OutboxRecord:
    """The dead-letter record for a message; its id is derived from the source position, so a
    redelivered bad message produces the same id."""
    position = f"{message.topic}/{message.partition}/{message.offset}"
    headers = [
        ("fulfil.error", error.encode()[:MAX_ERROR_BYTES]),
        ("fulfil.source.topic", message.topic.encode()),
        ("fulfil.source.partition", str(message.partition).encode()),
        ("fulfil.source.offset", str(message.offset).encode()),
        ("fulfil.service", service.encode()),
        ("fulfil.failed_at", failed_at.isoformat().encode()),
    ]
    return OutboxRecord(
        topic=dlq_topic(message.topic),
        key=message.key,
        value=message.value or b"",
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"fulfil-dlq:{service}:{position}"),
        headers=headers,
    )
