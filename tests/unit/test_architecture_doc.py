"""docs/architecture.md stays true to the code: its topic table names who reads each topic, as the services'
own declarations say, and every service of the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.registry import TOPICS
from services.catalog import NAMES, consumers

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def readers_in_the_doc() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `([a-z.]+)` \| [^|]+ \| ([^|]+) \|", DOC.read_text(), re.M)
    return {topic: {name.strip() for name in readers.split(",")} for topic, readers in rows
            if not topic.endswith(".py")}  # the room table's rows name modules, not topics


def test_the_topic_table_says_who_reads_every_topic() -> None:
    read_by: dict[str, set[str]] = {}
    for service, topics in consumers().items():
        for topic in topics:
            read_by.setdefault(topic, set()).add(service)
    assert readers_in_the_doc() == read_by
    assert set(readers_in_the_doc()) == set(TOPICS)


def test_every_service_is_named_in_the_doc() -> None:
    text = DOC.read_text()
    assert all(name in text for name in NAMES)
