"""Plain aiokafka clients for the operator's commands (`fulfil send`, `fulfil tail`)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.settings import Settings
from services.common.topics import message_max_bytes


@dataclass(frozen=True)
class Outgoing:
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


PUBLISH_TIMEOUT_S = 30.0
"""How long a producer waits for the broker's answer to a record before it counts as failed for now (the relay
backs off and the sweep tries again): Faust's own default, 20 minutes, would hold a batch's rows that long."""


def producer_options(settings: Settings) -> dict[str, Any]:
    """Every producer outside Faust's: every record acknowledged by all in-sync replicas; the size limit is the
    topics'."""
    return {**settings.aiokafka_options(), "acks": "all", "enable_idempotence": False,
            "max_request_size": message_max_bytes(settings.topics_file), "linger_ms": 1,
            "request_timeout_ms": int(PUBLISH_TIMEOUT_S * 1000)}


async def send_all(settings: Settings, topic: str, messages: list[Outgoing]) -> int:
    """Publish in order and wait for every acknowledgement."""
    producer = AIOKafkaProducer(**producer_options(settings))
    try:
        await producer.start()
        pending = [await producer.send(topic, m.value, key=m.key, headers=list(m.headers)) for m in messages]
        await asyncio.gather(*pending)
        return len(pending)
    finally:
        await producer.stop()


def render(record: Any) -> dict[str, Any]:
    """One consumed record as a JSON-friendly dict; the value is parsed when it is JSON."""
    raw: bytes | None = record.value
    value: Any
    try:
        value = json.loads(raw) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # "[[[[..." nests past the parser's depth
        try:
            value = raw.decode() if raw is not None else None
        except UnicodeDecodeError:
            value = {"base64": base64.b64encode(raw or b"").decode()}
    return {
        "topic": record.topic, "partition": record.partition, "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
        if record.timestamp is not None else None,
        "key": record.key.decode(errors="replace") if record.key else None,
        "headers": {k: v.decode(errors="replace") for k, v in (record.headers or ())},
        "value": value,
    }


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """The topic's partition numbers; empty when the topic does not exist (yet)."""
    admin = AIOKafkaAdminClient(**settings.aiokafka_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [d for d in described if d["topic"] == topic and d["error_code"] == 0]
    return sorted(p["partition"] for p in found[0]["partitions"]) if found else []


async def tail(settings: Settings, topic: str, *, from_beginning: bool, max_events: int | None,
               timeout_s: float | None) -> AsyncIterator[dict[str, Any]]:
    """Read every partition of a topic without joining a consumer group."""
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s if timeout_s is not None else None
        partitions: list[int] = []
        while True:
            partitions = await partitions_of(settings, topic)
            if partitions or (deadline is not None and time.monotonic() > deadline):
                break
            await asyncio.sleep(0.2)
        if not partitions:
            return
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        starts = await (consumer.beginning_offsets if from_beginning else consumer.end_offsets)(assigned)
        for tp, offset in starts.items():  # explicit offsets: from the end means nothing written before now
            consumer.seek(tp, offset)
        seen = 0
        while max_events is None or seen < max_events:
            wait_ms = 500
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait_ms = max(1, min(wait_ms, int(left * 1000)))
            batches = await consumer.getmany(timeout_ms=wait_ms, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < starts[tp]:
                        continue
                    yield render(record)
                    seen += 1
                    if max_events is not None and seen >= max_events:
                        return
    finally:
        await consumer.stop()


async def partitions(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    """Every partition of each of `topics` that exists."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**settings.aiokafka_options(), request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [t for t in topics if t in existing]
        described = await admin.describe_topics(present) if present else []
    finally:
        await admin.close()
    return [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]


async def message_counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Messages ever written to each topic that exists (end minus start offsets, summed over partitions)."""
    tps = await partitions(settings, topics)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    counts: dict[str, int] = {}
    for tp in tps:
        counts[tp.topic] = counts.get(tp.topic, 0) + ends[tp] - starts[tp]
    return counts
