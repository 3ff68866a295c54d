"""`fulfil dlq list|show|replay`: the dead letters every service keeps whole in its `dead_letters` table, each
message once however many services refused it; shown byte for byte; sent back to the topic it came from after a
fix, and marked replayed so that a replay is visible."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import text

from services import catalog
from services.common.commands import fail, load_settings, session

commands = typer.Typer()
dlq = typer.Typer(help="Dead letters: list, show byte for byte, replay after a fix.", no_args_is_help=True)
commands.add_typer(dlq, name="dlq")


@dataclass(frozen=True)
class DeadLetter:
    """One refused message (its first row: the service that refused it first) and who refused it."""

    id: str
    """<service>:<uuid> of the first row"""
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    reasons: dict[str, str]
    """service -> its reason"""
    failed_at: datetime
    replayed_at: datetime | None
    size: int
    sha256: str


def _rows(where: str = "", **params: Any) -> list[DeadLetter]:
    """Every service's rows, each read in that service's database (services may each have their own)."""
    rows: list[Any] = []
    for name in catalog.NAMES:
        with session(what="could not read the dead letters", service=name) as opened:
            rows += opened.execute(text(
                f"SELECT '{name}' AS service, id::text AS id, source_topic, source_partition, source_offset, key, "
                f"value, headers, reason, failed_at, replayed_at, size, sha256 FROM {name}.dead_letters {where}"),
                params).all()
    rows.sort(key=lambda r: (r.failed_at, r.service))
    found: dict[tuple[str, int, int], DeadLetter] = {}
    for r in rows:
        position = (r.source_topic, r.source_partition, r.source_offset)
        if position in found:
            found[position].reasons[r.service] = r.reason
            continue
        found[position] = DeadLetter(
            f"{r.service}:{r.id}", r.source_topic, r.source_partition, r.source_offset,
            bytes(r.key) if r.key is not None else None, bytes(r.value),
            [(k, bytes.fromhex(v)) for k, v in r.headers], {r.service: r.reason}, r.failed_at, r.replayed_at, r.size,
            r.sha256)
    return list(found.values())


def _by_id(ids: list[str]) -> list[DeadLetter]:
    """The messages these ids name (any service's row of a message names it), each once."""
    positions = []
    for one in ids:
        service, _, uid = one.partition(":")
        row = None
        if service in catalog.NAMES:
            with session(what="could not read the dead letters", service=service) as opened:
                row = opened.execute(text(f"SELECT source_topic, source_partition, source_offset FROM "
                                          f"{service}.dead_letters WHERE id::text = :id"), {"id": uid}).first()
        if row is None:
            raise fail(f"no dead letter {one!r}; ids look like orders:6f1c2f0e-... (`fulfil dlq list`)")
        positions.append((row.source_topic, row.source_partition, row.source_offset))
    found: dict[tuple[str, int, int], DeadLetter] = {}
    for topic, partition, offset in dict.fromkeys(positions):  # only these messages' rows, each message once
        (found[(topic, partition, offset)],) = _rows(
            "WHERE source_topic = :topic AND source_partition = :partition AND source_offset = :offset",
            topic=topic, partition=partition, offset=offset)
    return list(found.values())


def _event_id(value: bytes) -> str | None:
    """The envelope's event id, when the message is one (a message that is not JSON was never claimed)."""
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:  # as the inbox stores it: canonical lower case, whatever case the sender wrote
        return str(uuid.UUID(str(document["event_id"])))
    except (KeyError, TypeError, ValueError):
        return None


@dlq.command("list")
def listed(topic: Annotated[str | None, typer.Option(help="Only dead letters from this topic, e.g. shop.orders")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False) -> None:
    """Every dead-lettered message once: its id, where it came from, when, who refused it and why, and whether
    it was replayed."""
    settings = load_settings()
    letters = _rows("WHERE source_topic = :topic", topic=settings.topic(topic)) if topic else _rows()
    for d in letters:
        logical = settings.logical_topic(d.topic)
        if as_json:
            typer.echo(json.dumps({"id": d.id, "topic": logical, "partition": d.partition, "offset": d.offset,
                                   "failed_at": d.failed_at.isoformat(), "size": d.size, "reasons": d.reasons,
                                   "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None}))
            continue
        replayed = f"  replayed {d.replayed_at:%Y-%m-%d %H:%M:%S}" if d.replayed_at else ""
        typer.echo(f"{d.id}  {logical}[{d.partition}]@{d.offset}  {d.failed_at:%Y-%m-%d %H:%M:%S}  {d.size} B"
                   f"{replayed}")
        for service, reason in d.reasons.items():
            typer.echo(f"    {service}: {reason}")
    if not letters and not as_json:
        typer.echo("no dead letters" + (f" from {topic}" if topic else ""))


@dlq.command("show")
def show(dead_letter: Annotated[str, typer.Argument(help="Its id, as `fulfil dlq list` shows it")],
         raw: Annotated[bool, typer.Option("--raw", help="Only the message's value, byte for byte")] = False) -> None:
    """One dead letter: the message as it arrived (key, headers, value) and every refusal's reason."""
    (d,) = _by_id([dead_letter])
    if raw:
        sys.stdout.buffer.write(d.value)
        sys.stdout.flush()
        return
    try:
        value: Any = d.value.decode()
    except UnicodeDecodeError:
        value = {"base64": base64.b64encode(d.value).decode()}
    settings = load_settings()
    typer.echo(json.dumps({
        "id": d.id, "topic": settings.logical_topic(d.topic), "partition": d.partition, "offset": d.offset,
        "key": d.key.decode(errors="replace") if d.key is not None else None,
        "headers": {k: v.decode(errors="replace") for k, v in d.headers}, "value": value, "size": d.size,
        "sha256": d.sha256, "reasons": d.reasons, "failed_at": d.failed_at.isoformat(),
        "replayed_at": d.replayed_at.isoformat() if d.replayed_at else None}, indent=2))


@dlq.command("replay")
def replay(dead_letters: Annotated[list[str] | None, typer.Argument(help="Ids to replay")] = None,
           topic: Annotated[str | None, typer.Option(help="Every dead letter from this topic not replayed yet")] = None,
           ) -> None:
    """Send dead letters back to the topic they came from, as they arrived (key, headers, value), after the cause
    was fixed; each is marked replayed. Every service reading the topic sees it again (one that took it already
    drops it by its event id)."""
    from services.common.kafka_io import Outgoing, send_all
    settings = load_settings()
    if bool(dead_letters) == bool(topic):
        raise fail("name the dead letters to replay, or --topic TOPIC for all of a topic's not replayed yet")
    letters = (_by_id(dead_letters or []) if dead_letters else
               _rows("WHERE source_topic = :topic AND replayed_at IS NULL", topic=settings.topic(topic or "")))
    by_topic: dict[str, list[DeadLetter]] = {}
    for d in letters:
        by_topic.setdefault(d.topic, []).append(d)
    for physical, group in by_topic.items():
        # A service that refused an event after claiming it kept its id in its inbox (a redelivery is not refused
        # twice): release that claim, before the event is back on the topic, or the service would drop the replay
        # as a duplicate. Only the claim this very message made (its topic, partition and offset): a claim of the
        # same id by another message (the accepted original of a forgery) is that message's, and stays.
        for d in group:
            if (event_id := _event_id(d.value)) is None:
                continue
            for service in d.reasons:
                with session(write=True, what="could not prepare the replay", service=service) as opened:
                    opened.execute(text(f'DELETE FROM {service}.inbox WHERE event_id::text = :id AND topic = :t '
                                            f'AND partition = :p AND "offset" = :o'),
                                       {"id": event_id, "t": d.topic, "p": d.partition, "o": d.offset})
        try:
            asyncio.run(send_all(settings, physical, [Outgoing(d.key, d.value, tuple(d.headers)) for d in group]))
        except Exception as exc:
            raise fail(f"could not publish to {settings.logical_topic(physical)} on {settings.kafka_bootstrap}: "
                       f"{exc!r}") from None
        for name in catalog.NAMES:
            with session(write=True, what="replayed, but could not mark the dead letters replayed",
                         service=name) as opened:
                for d in group:
                    opened.execute(text(f"UPDATE {name}.dead_letters SET replayed_at = now() WHERE source_topic = :t "
                                        "AND source_partition = :p AND source_offset = :o"),
                                   {"t": d.topic, "p": d.partition, "o": d.offset})
        typer.echo(f"replayed {len(group)} message(s) to {settings.logical_topic(physical)}")
    if not letters:
        typer.echo("nothing to replay")
