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


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync_replicas: int

    def on(self, brokers: int, override: int | None = None) -> Replication:
        """What a cluster of `brokers` gets: as many copies as it has brokers, up to the factor (or `override`),
        and one fewer in sync, never under 1."""
        factor = max(1, min(override or self.factor, brokers))
        return Replication(factor, max(1, min(self.min_insync_replicas, factor - 1)))


def replication(path: Path | None = None) -> Replication:
    """The spec's replication (3 copies, 2 in sync, unless it says otherwise)."""
    found = _document(path).get("replication") or {}
    return Replication(int(found.get("factor", 3)), int(found.get("min_insync_replicas", 2)))


async def apply_spec(settings: Settings, specs: dict[str, TopicSpec], replication_factor: int | None = None,
                     names: list[str] | None = None) -> dict[str, str]:
    """Create missing topics (replicated as the spec says, on as many brokers as the cluster has) and grow
    partitions; returns physical topic -> what was done."""
    specs = {settings.topic(n): TopicSpec(settings.topic(n), s.partitions, s.config) for n, s in specs.items()}
    names = [settings.topic(n) for n in names] if names else None
    admin = AIOKafkaAdminClient(**settings.aiokafka_options(), request_timeout_ms=15000)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        copies = replication(settings.topics_file).on(brokers, replication_factor)
        wanted = [specs[n] for n in (names or sorted(specs))]
        existing = set(await admin.list_topics())
        done: dict[str, str] = {}
        missing = [s for s in wanted if s.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, copies.factor,
                          topic_configs={**s.config, "min.insync.replicas": str(copies.min_insync_replicas)})
                 for s in missing])
            done.update({s.name: f"created ({s.partitions} partitions, {copies.factor} cop"
                                 f"{'y' if copies.factor == 1 else 'ies'}, {copies.min_insync_replicas} in sync)"
                         for s in missing})
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
