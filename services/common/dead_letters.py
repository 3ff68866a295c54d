"""Dead letters: why a message was refused, the original bytes kept whole in PostgreSQL, and a record for
`<topic>.dlq` that the broker always takes.

The record carries the original value byte for byte when it fits under the broker's limit with its headers,
so a fixed message can be replayed with `fulfil send`; when it does not (an input close to the limit grows
by the headers), it carries the first bytes, the original size, its sha256 and a reference to the row that
keeps it whole. A dead letter that cannot be published would block nothing (see relay.py), but it would be
lost to the operator: this makes that impossible.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from services.common.messaging import Headers, OutboxRecord

DLQ_SUFFIX = ".dlq"
MAX_ERROR_BYTES = 4000
PREVIEW_BYTES = 64 * 1024
"""What a dead-letter record keeps of a value too large to carry whole: enough to read what it was."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One Kafka message as received, before decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: float = 0.0
    """When it was published (seconds since the epoch): a topic's partitions are merged in this order."""


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def record_size(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """The most bytes a record takes on the wire as a batch of one: what a broker's size limit is held against."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused message and why; `id` is derived from the source position and the service, so a redelivered
    bad message produces the same one."""

    message: Incoming
    reason: str
    service: str
    failed_at: datetime

    @property
    def id(self) -> uuid.UUID:
        m = self.message
        return uuid.uuid5(uuid.NAMESPACE_URL, f"fulfil-dlq:{self.service}:{m.topic}/{m.partition}/{m.offset}")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.message.value or b"").hexdigest()

    def headers(self) -> Headers:
        m = self.message
        return [
            ("fulfil.error", self.reason.encode()[:MAX_ERROR_BYTES]),
            ("fulfil.source.topic", m.topic.encode()),
            ("fulfil.source.partition", str(m.partition).encode()),
            ("fulfil.source.offset", str(m.offset).encode()),
            ("fulfil.service", self.service.encode()),
            ("fulfil.failed_at", self.failed_at.isoformat().encode()),
        ]

    def record(self, max_bytes: int) -> OutboxRecord:
        """The record for `<topic>.dlq`, at most `max_bytes` on the wire."""
        m = self.message
        value, key, headers = m.value or b"", m.key, self.headers()
        if record_size(key, value, headers) > max_bytes:
            headers += [
                ("fulfil.truncated", b"true"),
                ("fulfil.original.size", str(len(value)).encode()),
                ("fulfil.original.key_size", str(len(key or b"")).encode()),
                ("fulfil.original.sha256", self.sha256.encode()),
                ("fulfil.dead_letter", f"{self.service}:{self.id}".encode()),
            ]
            key = key[:256] if key is not None else None
            value = value[:PREVIEW_BYTES]
        return OutboxRecord(topic=dlq_topic(m.topic), key=key, value=value, event_id=self.id, headers=headers)

    def row(self) -> dict[str, object]:
        """The row that keeps the message whole (see Messaging.dead_letters)."""
        m = self.message
        return {"id": self.id, "source_topic": m.topic, "source_partition": m.partition, "source_offset": m.offset,
                "key": m.key, "value": m.value or b"", "headers": [[k, v.hex()] for k, v in m.headers],
                "reason": self.reason, "service": self.service, "failed_at": self.failed_at,
                "size": len(m.value or b""), "sha256": self.sha256}
