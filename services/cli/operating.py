"""Commands an operator reaches for: the database schema and topics, the contract, the system's state and
figures, and events sent and read by hand."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from services import catalog
from services.common.commands import fail, load_settings, unreachable_hint

commands = typer.Typer()
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
schemas_app = typer.Typer(help="The event contract.", no_args_is_help=True)
commands.add_typer(db_app, name="db")
commands.add_typer(topics_app, name="topics")
commands.add_typer(schemas_app, name="schemas")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Alembic revision to upgrade to")) -> None:
    """Create or migrate every service's PostgreSQL schema."""
    settings = load_settings()
    from services.migrations import upgrade
    try:
        upgrade(settings, revision)
    except Exception as exc:  # the database's own message is the useful part
        raise fail(f"database upgrade failed: {str(exc).splitlines()[0]}") from None
    typer.echo(f"database at {revision}")


@topics_app.command("apply")
def topics_apply() -> None:
    """Create the topics of deploy/topics.yaml (and their .dlq twins), grow partitions."""
    settings = load_settings()
    from services.common.topics import apply_spec, load_spec
    try:
        done = asyncio.run(apply_spec(settings, load_spec(settings.topics_file), settings.kafka_replication_factor))
    except Exception as exc:
        raise fail(f"could not apply topics on {settings.kafka_bootstrap}: {exc!r}") from None
    for name, what in sorted(done.items()):
        typer.echo(f"{name:28} {what}")


@schemas_app.command("export")
def schemas_export(check: bool = typer.Option(False, "--check", help="Only report differences; exit 1 if any")) -> None:
    """Write JSON Schema files for the public events into schemas/json/."""
    from schemas import export
    if check:
        problems = export.differences()
        for problem in problems:
            typer.echo(problem)
        raise typer.Exit(1 if problems else 0)
    for path in export.write():
        typer.echo(str(path))


@commands.command()
def kpis(as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False) -> None:
    """Fill rate, split shipments, on-time delivery, ETA error, pick lines per wave, distance per delivery,
    return rate, refunds, events processed and dead letters: from the services' own records."""
    from services.common.db import make_engine
    from services.kpis import compute
    settings = load_settings()
    engines = {name: make_engine(settings, pool_size=1, service=name) for name in catalog.NAMES}
    try:
        with ExitStack() as stack:  # one connection per service: each reads its own database, shared or not
            connections = {name: stack.enter_context(engine.connect()) for name, engine in engines.items()}
            figures = compute(connections.__getitem__)
    except Exception as exc:
        raise fail(f"could not read the services' tables: {str(exc).splitlines()[0]}{unreachable_hint()}") from None
    finally:
        for engine in engines.values():
            engine.dispose()
    if as_json:
        typer.echo(json.dumps({k.key: k.value for k in figures}, indent=2))
        return
    for k in figures:
        typer.echo(f"{k.name:22} {k.shown():>14}   {k.how}")


@commands.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
    wait_drained: Annotated[bool, typer.Option("--wait-drained", help="Wait until the system has drained; exit 1 "
                                               "if it has not within --timeout")] = False,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds --wait-drained waits at most")] = 300,
    service: Annotated[list[str] | None, typer.Option(
        "--service", help="Only this service (repeat for more); default: every service")] = None,
) -> None:
    """Per service: consumer lag per topic, outbox backlog (rows, oldest age), parked records; dead letters per
    topic (each message once); and whether the system has drained (nothing waiting in two looks in a row)."""
    from services.common.status import observe
    from services.common.status import wait_drained as wait
    settings = load_settings()
    watched = catalog.consumers()
    if unknown := [s for s in service or () if s not in watched]:
        raise fail(f"unknown service {unknown[0]!r}; expected one of {', '.join(watched)}")
    if service:
        watched = {s: topics for s, topics in watched.items() if s in service}
    try:
        if wait_drained:
            done, snapshot = wait(settings, watched, timeout)
        else:
            done, snapshot = False, observe(settings, watched)
            if snapshot.quiet:
                done, snapshot = wait(settings, watched, 2.0)
    except Exception as exc:
        raise fail(f"could not read the system's state: {str(exc).splitlines()[0]}{unreachable_hint()}") from None
    if as_json:
        typer.echo(json.dumps(snapshot.as_json(done), indent=2))
    else:
        typer.echo(f"{'service':10} {'topic':18} {'lag':>8}   {'outbox':>7} {'oldest':>8} {'parked':>7}")
        for s in snapshot.services:
            oldest = "-" if s.outbox_oldest_s is None else f"{s.outbox_oldest_s:.1f}s"
            for n, (topic, lag) in enumerate(s.lag.items()):
                tail = f"   {s.outbox_rows:>7} {oldest:>8} {s.parked:>7}" if n == 0 else ""
                typer.echo(f"{s.service if n == 0 else '':10} {topic:18} {lag:>8}{tail}")
        dead = ", ".join(f"{t} {n}" for t, n in snapshot.dead_letters.items()) or "none"
        typer.echo(f"dead letters: {dead}")
        waiting = sum(s.waiting for s in snapshot.services)
        typer.echo("drained: yes, nothing waiting on any topic or in any outbox" if done else
                   f"drained: no, {waiting} messages waiting (lag + outbox rows)")
    if wait_drained and not done:
        raise typer.Exit(1)


def _read_documents(path: str) -> list[tuple[int, Any]]:
    """(line number, JSON value) from a JSON file (object or array) or a JSON-lines file; '-' is stdin."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    stripped = text.strip()
    if not stripped:
        raise fail(f"{path}: the file is empty")
    try:
        whole = json.loads(stripped)
        return [(1, d) for d in whole] if isinstance(whole, list) else [(1, whole)]
    except json.JSONDecodeError:
        pass
    documents = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                documents.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise fail(f"{path}:{number}: not JSON: {exc.msg} at column {exc.colno}") from None
    return documents


@commands.command()
def send(
    topic: Annotated[str, typer.Argument(help="e.g. shop.orders")],
    file: Annotated[str, typer.Argument(help="JSON (one event or an array) or JSON lines; '-' for stdin")],
    key: Annotated[str | None, typer.Option(help="Partition key for every message (default: the topic's key field)")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Send as-is without validating (to test dead letters)")] = False,
    sign: Annotated[Path | None, typer.Option(help="The shop's private signing key (PEM): shop.orders and "
                                                   "shop.returns take only signed events")] = None,
) -> None:
    """Publish events from a file. Every event is validated first; nothing is sent if any is invalid."""
    from schemas.registry import SHOP_BOUND, TOPICS, DecodeError, decode, message_key
    from schemas.signing import Signer
    from services.common.dead_letters import record_size
    from services.common.kafka_io import Outgoing, send_all
    from services.common.topics import message_max_bytes
    if not raw and topic not in TOPICS:
        raise fail(f"unknown topic {topic!r}; expected one of {', '.join(TOPICS)} (or --raw)")
    if not raw and topic in SHOP_BOUND and sign is None:
        raise fail(f"events on {topic} must be signed with the shop's key: --sign FILE "
                   f"(`fulfil signing-key add SHOP --out FILE` makes one)")
    signer = None
    if sign is not None:
        try:
            signer = Signer.from_pem(sign.read_bytes())
        except OSError as exc:
            raise fail(f"cannot read {sign}: {exc.strerror}") from None
        except ValueError as exc:
            raise fail(f"{sign}: {exc}") from None
    settings = load_settings()
    outgoing = []
    if raw:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        outgoing = [Outgoing(key.encode() if key else None, line.encode()) for line in text.splitlines() if line]
    for number, document in [] if raw else _read_documents(file):
        value = json.dumps(document).encode()
        try:
            event = decode(topic, value)
        except DecodeError as exc:
            raise fail(f"{file}:{number}: {exc}") from None
        routing_key = key or message_key(topic, event)
        outgoing.append(Outgoing(routing_key.encode(), value))
    if signer is not None:
        outgoing = [Outgoing(m.key, m.value, signer.headers(topic, m.value)) for m in outgoing]
    limit = message_max_bytes(settings.topics_file)
    for number, message in enumerate(outgoing, 1):
        if (size := record_size(message.key, message.value, list(message.headers))) > limit:
            raise fail(f"{file}: message {number} is {size} bytes as a Kafka record; the broker takes at most "
                       f"{limit} (message_max_bytes in deploy/topics.yaml); nothing was sent")
    try:
        count = asyncio.run(send_all(settings, settings.topic(topic), outgoing))
    except Exception as exc:
        raise fail(f"could not publish to {topic} on {settings.kafka_bootstrap}: {exc!r}") from None
    typer.echo(f"sent {count} event(s) to {topic}", err=True)


@commands.command()
def tail(
    topic: Annotated[str, typer.Argument(help="e.g. orders.events or shop.orders.dlq")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning/--from-end",
                                                 help="All the topic holds, or only what is written from now on")
                              ] = False,
    max_events: Annotated[int | None, typer.Option("--max", "-n", min=1, help="Stop after N events")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", "-t", min=0, help="Stop after T seconds")] = None,
    key: Annotated[str | None, typer.Option(help="Only records with this key, e.g. acme/A-1001")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only events of this type, e.g. order.accepted")
                          ] = None,
) -> None:
    """Print a topic's records as JSON lines (ISO 8601 UTC timestamps; values parsed when they are JSON)."""
    from schemas.registry import TOPICS
    from services.common.kafka_io import partitions_of
    from services.common.kafka_io import tail as tail_topic
    settings = load_settings()
    if topic.removesuffix(".dlq") not in TOPICS:
        raise fail(f"unknown topic {topic!r}; Fulfil's topics are {', '.join(TOPICS)} and each one's .dlq")
    try:
        if not asyncio.run(asyncio.wait_for(partitions_of(settings, settings.topic(topic)), 20)):
            raise fail(f"topic {topic!r} does not exist on {settings.kafka_bootstrap}; `fulfil topics apply` "
                       "creates Fulfil's topics")
    except typer.Exit:
        raise
    except Exception as exc:
        raise fail(f"could not reach Kafka at {settings.kafka_bootstrap}: {exc!r}{unreachable_hint()}") from None

    def wanted(record: dict[str, Any]) -> bool:
        value = record["value"]
        return (key is None or record["key"] == key) and (
            event_type is None or (isinstance(value, dict) and value.get("event_type") == event_type))

    async def run() -> None:
        async for record in tail_topic(settings, settings.topic(topic), from_beginning=from_beginning,
                                       max_events=None, timeout_s=timeout):
            if wanted(record):
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
                shown[0] += 1
                if max_events is not None and shown[0] >= max_events:
                    return

    shown = [0]
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        raise fail(f"could not read {topic} on {settings.kafka_bootstrap}: {exc!r}") from None
