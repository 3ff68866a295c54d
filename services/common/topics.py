"""The topic spec (deploy/topics.yaml) and applying it to a cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

from services.common.dead_letters import dlq_topic
from services.common.settings import Settings

SPEC_PATH = Path(__file__).resolve().parents[2] / "deploy" / "topics.yaml"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def _document(path: Path | None) -> dict[str, Any]:
    path = path or SPEC_PATH
    if not path.exists():
        raise FileNotFoundError(f"topic spec {path} not found; set FULFIL_TOPICS_FILE")
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


@cache
def message_max_bytes(path: Path | None = None) -> int:
    """The largest record batch any topic takes: the one limit the broker, the topics, every producer and
    `fulfil send` are held to (the spec's `message_max_bytes`)."""
    return int(_document(path)["message_max_bytes"])


def load_spec(path: Path | None = None) -> dict[str, TopicSpec]:
    """Every topic including the dead-letter twins, by logical name; each with `max.message.bytes` from the
    spec's one limit."""
    document = _document(path)
    limit = {"max.message.bytes": str(document["message_max_bytes"])}
    defaults = document.get("defaults", {})
    dead = document.get("dead_letters", {})
    specs: dict[str, TopicSpec] = {}
    for name, own in (document.get("topics") or {}).items():
        own = own or {}
        config = {**defaults.get("config", {}), **own.get("config", {}), **limit}
        specs[name] = TopicSpec(name, int(own.get("partitions", defaults.get("partitions", 1))),
                                {k: str(v) for k, v in config.items()})
        specs[dlq_topic(name)] = TopicSpec(dlq_topic(name), int(dead.get("partitions", 1)),
                                           {**{k: str(v) for k, v in dead.get("config", {}).items()}, **limit})
    return specs


async def apply_spec(settings: Settings, specs: dict[str, TopicSpec], replication_factor: int = 1,
                     names: list[str] | None = None) -> dict[str, str]:
    """Create missing topics and grow partitions; returns physical topic -> what was done."""
    specs = {settings.topic(n): TopicSpec(settings.topic(n), s.partitions, s.config) for n, s in specs.items()}
    names = [settings.topic(n) for n in names] if names else None
    admin = AIOKafkaAdminClient(**settings.aiokafka_options(), request_timeout_ms=15000)
    await admin.start()
    try:
        wanted = [specs[n] for n in (names or sorted(specs))]
        existing = set(await admin.list_topics())
        done: dict[str, str] = {}
        missing = [s for s in wanted if s.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, replication_factor, topic_configs=s.config) for s in missing])
            done.update({s.name: f"created ({s.partitions} partitions)" for s in missing})
        present = [s for s in wanted if s.name in existing]
        if present:
            described = await admin.describe_topics([s.name for s in present])
            counts = {d["topic"]: len(d["partitions"]) for d in described}
            grow = {s.name: NewPartitions(s.partitions) for s in present if counts.get(s.name, 0) < s.partitions}
            if grow:
                await admin.create_partitions(grow)
            for s in present:
                done[s.name] = (f"grown to {s.partitions} partitions" if s.name in grow
                                else f"up to date ({counts.get(s.name)} partitions)")
        return done
    finally:
        await admin.close()
