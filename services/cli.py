"""The `fulfil` command: run the system and talk to it without other tools."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.common.settings import SERVICES, Settings
from services.topology import consumers, runnable_services

app = typer.Typer(help="Fulfil: event-driven order fulfilment on Kafka and PostgreSQL.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
schemas_app = typer.Typer(help="The event contract.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
warehouses_app = typer.Typer(help="Warehouse layouts, stock and shop policies.", no_args_is_help=True)
app.add_typer(warehouses_app, name="warehouses")
returns_app = typer.Typer(help="Returns and refunds.", no_args_is_help=True)
app.add_typer(returns_app, name="returns")
fleet_app = typer.Typer(help="Depots, their service areas, wave cut-offs and vans.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")
routing_app = typer.Typer(help="The route solver on its own.", no_args_is_help=True)
app.add_typer(routing_app, name="routing")
example_app = typer.Typer(help="Events to send as they are, dated now.", no_args_is_help=True)
app.add_typer(example_app, name="example")
shop_key_app = typer.Typer(help="Shops' API keys for their order view (hashes kept in the database).",
                           no_args_is_help=True)
app.add_typer(shop_key_app, name="shop-key")


def fail(message: str) -> typer.Exit:
    typer.secho(f"fulfil: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(2)


def load_settings(**overrides: Any) -> Settings:
    """The one settings object; a bad FULFIL_* value is a precise error, not a traceback."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:  # a FULFIL_* value that should be JSON and is not
        raise fail(f"invalid configuration: {exc} (it must be JSON)") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"FULFIL_{'_'.join(str(p) for p in e['loc']).upper() or '(settings)'}: {e['msg']}"
            for e in exc.errors(include_url=False))
        raise fail(f"invalid configuration: {problems}") from None


def _configure(settings: Settings) -> None:
    from services.common.logging import configure_logging
    configure_logging(settings)


@app.command()
def worker(service: Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICES)}")]) -> None:
    """Run one service's stream processor. Start more of them to scale out."""
    if service not in SERVICES:
        raise fail(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    if service not in runnable_services():
        raise fail(f"the {service} service has no worker yet")
    settings = load_settings()
    _configure(settings)
    from services.common.faust_app import run, use_fast_event_loop
    use_fast_event_loop()
    module = importlib.import_module(f"services.{service}.app")
    sys.argv = [f"fulfil-{service}", "worker"]
    run(module.build(settings), settings)


@app.command()
def api(service: Annotated[str, typer.Argument(help="a service with an HTTP API: warehouse, tracking or returns")],
        host: Annotated[str | None, typer.Option(help="address to bind; default FULFIL_HTTP_HOST")] = None,
        port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8080) -> None:
    """Serve only a service's HTTP API, without its stream processor: scale what customers poll apart from
    what processes events."""
    if service not in SERVICES or not _serves_http(service):
        raise fail(f"{service!r} has no HTTP API; these do: "
                   f"{', '.join(s for s in runnable_services() if _serves_http(s))}")
    settings = load_settings()
    _configure(settings)
    import uvicorn

    from services.common.db import make_engine, unit_of_work_factory
    from services.common.http import proxy_options
    module = importlib.import_module(f"services.{service}.api")
    web = module.create_api(unit_of_work_factory(make_engine(settings)), settings)
    uvicorn.run(web, host=host or settings.http_host, port=port, log_config=None, access_log=False,
                **proxy_options(settings))


def _in_transaction(settings: Settings, what: Any) -> Any:
    """Run `what(session)` in one committed transaction; a database that does not answer is one clear line."""
    from services.common.db import make_engine, unit_of_work_factory
    engine = make_engine(settings, pool_size=1)
    try:
        with unit_of_work_factory(engine).begin() as session:
            return what(session)
    except Exception as exc:
        raise fail(f"the database did not answer: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


@shop_key_app.command("add")
def shop_key_add(shop: Annotated[str, typer.Argument(help="the shop id the key is for")]) -> None:
    """A new API key for a shop's order view (GET /orders/{id}); only its hash is stored, it works at once."""
    from datetime import UTC, datetime

    from services.tracking import shop_keys
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", shop):
        raise fail(f"shop id must be letters, digits, '.', '_' or '-' (at most 64), got {shop!r}")
    key_id, key = _in_transaction(load_settings(), lambda session: shop_keys.add(session, shop, datetime.now(UTC)))
    typer.echo(f"key {key_id} for {shop} (give it to the shop; it is shown once, only its hash is kept):\n{key}")


@shop_key_app.command("list")
def shop_key_list() -> None:
    """Every key: its id, its shop, when it was made and, if so, revoked (never the key itself)."""
    from services.tracking import shop_keys
    keys = _in_transaction(load_settings(), shop_keys.listed)
    for k in keys:
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "live"
        typer.echo(f"{k.key_id:14} {k.shop_id:20} made {k.created_at:%Y-%m-%d %H:%M}   {revoked}")
    if not keys:
        typer.echo("no shop keys yet: fulfil shop-key add SHOP")


@shop_key_app.command("revoke")
def shop_key_revoke(key_id: Annotated[str, typer.Argument(help="the key's id, as `fulfil shop-key list` shows it")]
                    ) -> None:
    """The key stops working at once."""
    from datetime import UTC, datetime

    from services.tracking import shop_keys
    if not _in_transaction(load_settings(), lambda session: shop_keys.revoke(session, key_id, datetime.now(UTC))):
        raise fail(f"no live key {key_id!r}; `fulfil shop-key list` shows them")
    typer.echo(f"revoked {key_id}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Alembic revision to upgrade to")) -> None:
    """Create or migrate every service's PostgreSQL schema."""
    settings = load_settings()
    _configure(settings)
    from services.common.migrate import upgrade
    try:
        upgrade(settings, revision)
    except Exception as exc:  # the database's own message is the useful part
        raise fail(f"database upgrade failed: {str(exc).splitlines()[0]}") from None
    typer.echo(f"database at {revision}")


@topics_app.command("apply")
def topics_apply() -> None:
    """Create the topics of deploy/topics.yaml (and their .dlq twins), grow partitions."""
    settings = load_settings()
    _configure(settings)
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


@warehouses_app.command("load")
def warehouses_load(file: Annotated[Path, typer.Argument(help="YAML or JSON layout (see deploy/sample/warehouses.yaml)")]
                    ) -> None:
    """Create or update warehouses, bins, SKU locations, opening stock and shop policies."""
    from services.warehouse import layout
    from services.warehouse.domain.errors import LayoutError
    settings = load_settings()
    try:
        spec = layout.read(file)
    except LayoutError as exc:
        raise fail(str(exc)) from None
    try:
        counts = _load_layout(settings, spec)
    except Exception as exc:
        raise fail(f"could not load {file}: {str(exc).splitlines()[0]}") from None
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@app.command()
def picklists(
    warehouse: Annotated[str, typer.Argument(help="Warehouse id")],
    status: Annotated[str, typer.Option(help="open, done or all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many lists, newest first")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Print a warehouse's pick lists: lines in walking order, with the tote each order's units go in."""
    from services.common.db import make_engine, unit_of_work_factory
    from services.warehouse import views
    from services.warehouse.printing import picklist_table
    if status not in ("open", "done", "all"):
        raise fail(f"--status must be open, done or all, got {status!r}")
    settings = load_settings()
    engine = make_engine(settings, pool_size=1)
    try:
        with unit_of_work_factory(engine)() as session:
            if not views.warehouse_exists(session, warehouse):
                raise fail(f"no warehouse {warehouse!r}")
            found = views.picklists(session, warehouse, status, limit)  # type: ignore[arg-type]
    except typer.Exit:
        raise
    except Exception as exc:
        raise fail(f"could not read pick lists: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in found], indent=2))
    elif not found:
        typer.echo(f"no {status} pick lists in {warehouse}")
    else:
        typer.echo("\n\n".join(picklist_table(v) for v in found))


@fleet_app.command("load")
def fleet_load(path: Annotated[Path, typer.Argument(help="YAML or JSON fleet file, e.g. deploy/sample/fleet.yaml")]
               ) -> None:
    """Load depots and vans (loading again replaces a depot's vans; shipments and waves stay)."""
    from services.routing import fleet
    try:
        spec = fleet.read(path)
    except fleet.FleetError as exc:
        raise fail(str(exc)) from None
    try:
        loaded = _load_fleet(load_settings(), spec)
    except Exception as exc:
        raise fail(f"could not load the fleet: {str(exc).splitlines()[0]}") from None
    for depot, vans in loaded.items():
        typer.echo(f"{depot}: {vans} vehicle(s)")


@app.command()
def dispatch(
    depot: Annotated[str, typer.Argument(help="Depot (warehouse) id")],
    day: Annotated[str | None, typer.Option("--date", help="Service day YYYY-MM-DD; default the next with shift left")] = None,
    replan: Annotated[str | None, typer.Option(help="Re-plan this wave instead: stops out for delivery stay put")] = None,
) -> None:
    """Close a dispatch wave at a depot now (or re-plan one) and publish its route plan."""
    from datetime import date

    from services.routing.dispatching import run_dispatch
    try:
        service_day = date.fromisoformat(day) if day else None
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, got {day!r}") from None
    settings = load_settings()
    _configure(settings)
    try:
        records = run_dispatch(settings, depot, service_day, replan)
    except LookupError as exc:
        raise fail(str(exc.args[0])) from None
    for record in records:
        event = json.loads(record.value)
        p = event["payload"]
        if event["event_type"] == "route.planned":
            stops = sum(len(r["stops"]) for r in p["routes"])
            km = sum(float(r["distance_km"]) for r in p["routes"])
            typer.echo(f"{p['plan_id']}: {stops} stop(s) on {len(p['routes'])} route(s), {km:.1f} km")
        elif event["event_type"] == "stop.unassigned":
            typer.echo(f"  unassigned {p['shipment_id']}: {p['reason']}")
        else:
            typer.echo(f"  {p['shipment_id']} -> {p['method']}: {p['reason']}")
    if not records:
        typer.echo(f"nothing to plan at {depot}")


@routing_app.command("solve")
def routing_solve(
    path: Annotated[Path, typer.Argument(help="A Solomon-format VRPTW instance")],
    time_limit: Annotated[float, typer.Option(min=0.1, max=3600, help="Seconds")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: routes, vehicles, distance")] = False,
) -> None:
    """Solve one benchmark instance with the service's own model building, solver and plan reading."""
    from services.routing.domain.plan import violations
    from services.routing.solomon import InstanceError, parse
    from services.routing.waves import solve, solver_params
    try:
        problem = parse(path)
    except (OSError, InstanceError) as exc:
        raise fail(str(exc)) from None
    params = solver_params(load_settings()).model_copy(update={"time_limit_s": time_limit})
    plan, raw = solve(problem, params)
    routes = [[int(problem.stops[v.stop].id) for v in route.visits] for route in plan.routes]
    wrong = violations(problem, [[v.stop for v in route.visits] for route in plan.routes])
    if as_json:
        typer.echo(json.dumps({"routes": routes, "vehicles": plan.vehicles, "distance": plan.distance,
                               "unserved": [int(problem.stops[d.stop].id) for d in plan.dropped],
                               "feasible": not wrong and not plan.dropped}))
        return
    for k, route in enumerate(routes, 1):
        typer.echo(f"Route #{k}: {' '.join(map(str, route))}")
    typer.echo(f"vehicles {plan.vehicles}, distance {plan.distance:.2f}, {raw.status} in {raw.seconds:.1f} s"
               + (f"; NOT FEASIBLE: {wrong[0]}" if wrong else "")
               + (f"; {len(plan.dropped)} customer(s) unserved" if plan.dropped else ""))


@app.command()
def demo(
    orders: Annotated[int, typer.Option(min=1, max=20000, help="Orders the shops place")] = 300,
    seed: Annotated[int, typer.Option(help="The same seed gives the same world and the same shoppers")] = 1,
    report: Annotated[Path, typer.Option(help="Where the HTML report goes (its figures next to it, .json)")] = Path(
        "fulfil-demo.html"),
    timeout: Annotated[float, typer.Option(min=10, help="Seconds the simulation may take at most")] = 900,
) -> None:
    """Start the embedded stack, simulate shops, warehouse staff, drivers and customers through Kafka, then show
    the KPIs and write an HTML report with a map of each depot's routes."""
    from services.demo.run import run_demo
    raise typer.Exit(run_demo(orders, seed, report, timeout, typer.echo))


@app.command()
def kpis(as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False) -> None:
    """Fill rate, split shipments, on-time delivery, ETA error, pick lines per wave, distance per delivery,
    return rate, refunds, events processed and dead letters: from the services' own records."""
    from services.common.db import make_engine
    from services.common.kafka_io import message_counts
    from services.common.topics import load_spec
    from services.kpis import compute
    settings = load_settings()
    engine = make_engine(settings, pool_size=1)
    try:
        with engine.connect() as connection:
            figures = compute(connection)
    except Exception as exc:
        raise fail(f"could not read the services' tables: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    dead: int | None
    try:
        topics = [settings.topic(f"{name}.dlq") for name in load_spec(settings.topics_file)]
        dead = sum(asyncio.run(asyncio.wait_for(message_counts(settings, topics), 20)).values())
    except Exception:  # no broker to ask: say so rather than guess
        dead = None
    if as_json:
        typer.echo(json.dumps({**{k.name: k.value for k in figures}, "dead letters": dead}, indent=2))
        return
    for k in figures:
        typer.echo(f"{k.name:22} {k.shown():>14}   {k.how}")
    typer.echo(f"{'dead letters':22} {'-' if dead is None else dead:>14}   "
               + ("messages on the .dlq topics" if dead is not None else f"Kafka at {settings.kafka_bootstrap} did not answer"))


@example_app.command("order")
def example_order(order_id: Annotated[str, typer.Argument(help="the order id")] = "A-1001",
                  shop: Annotated[str, typer.Option(help="the shop placing it")] = "acme") -> None:
    """An order.placed a shop would send, dated now and delivered tomorrow, with SKUs of the sample layout:
    `fulfil example order A-1001 | fulfil send shop.orders -`."""
    from datetime import UTC, datetime

    from services.examples import order_placed
    typer.echo(json.dumps(order_placed(order_id, shop, datetime.now(UTC))))


@app.command()
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
    from services.common.status import observe, wait_drained as wait
    settings = load_settings()
    watched = consumers()
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
        raise fail(f"could not read the system's state: {str(exc).splitlines()[0]}") from None
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


@returns_app.command("show")
def returns_show(
    rma: Annotated[str, typer.Argument(help="The RMA (or, with --shop, the shop's return id: a rejected return "
                                            "has no RMA)")],
    shop: Annotated[str | None, typer.Option("--shop", help="The shop whose return id RMA may be")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON, as GET /returns/{rma} answers")] = False,
) -> None:
    """A return's state line by line and its refund, with the breakdown to read out to the customer."""
    from services.common.db import make_engine, unit_of_work_factory
    from services.returns import views
    settings = load_settings()
    engine = make_engine(settings, pool_size=1)
    try:
        with unit_of_work_factory(engine)() as session:
            found = views.show(session, rma, shop)
    except Exception as exc:
        raise fail(f"could not read the return: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    if found is None:
        raise fail(f"no return has RMA {rma!r}" + (f" nor is it a return id of shop {shop!r}" if shop else ""))
    typer.echo(found.model_dump_json(indent=2) if as_json else views.text(found))


@returns_app.command("policy")
def returns_policy(
    shop: Annotated[str, typer.Argument(help="The shop the policy is for")],
    window_days: Annotated[str, typer.Option(help="Days from delivery, e.g. 14, 30 or 90; 'none' for no limit")] = "30",
    time_zone: Annotated[str, typer.Option(help="IANA zone the days are counted in")] = "UTC",
    final_sale: Annotated[list[str] | None, typer.Option(help="A SKU that cannot be returned; repeat for more")] = None,
    restocking_fee_pct: Annotated[float, typer.Option(min=0, max=100, help="Fee on opened, changed-mind returns")] = 0,
) -> None:
    """Set a shop's return policy (shops without one get the FULFIL_RETURNS_* defaults)."""
    from datetime import UTC, datetime
    from decimal import Decimal
    from services.common.db import make_engine, unit_of_work_factory
    from services.common.settings import time_zone as valid_zone
    from services.returns.domain.window import ReturnPolicy
    from services.returns.policies import set_policy
    if window_days != "none" and not (window_days.isdigit() and int(window_days) <= 3650):
        raise fail(f"--window-days must be a whole number of days up to 3650 or 'none', got {window_days!r}")
    try:
        valid_zone(time_zone)
    except ValueError as exc:
        raise fail(f"--time-zone {exc}") from None
    policy = ReturnPolicy(window_days=None if window_days == "none" else int(window_days), time_zone=time_zone,
                          final_sale_skus=frozenset(final_sale or ()),
                          restocking_fee_pct=Decimal(str(restocking_fee_pct)))
    settings = load_settings()
    engine = make_engine(settings, pool_size=1)
    try:
        with unit_of_work_factory(engine).begin() as session:
            set_policy(session, shop, policy, datetime.now(UTC))
    except Exception as exc:
        raise fail(f"could not save the policy: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    limit = "no time limit" if policy.window_days is None else f"{policy.window_days} days ({time_zone})"
    typer.echo(f"{shop}: returns within {limit}, {len(policy.final_sale_skus)} final-sale SKU(s), "
               f"restocking fee {policy.restocking_fee_pct}%")


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


@app.command()
def send(
    topic: Annotated[str, typer.Argument(help="e.g. shop.orders")],
    file: Annotated[str, typer.Argument(help="JSON (one event or an array) or JSON lines; '-' for stdin")],
    key: Annotated[str | None, typer.Option(help="Partition key for every message (default: the topic's key field)")] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Send as-is without validating (to test dead letters)")] = False,
) -> None:
    """Publish events from a file. Every event is validated first; nothing is sent if any is invalid."""
    from schemas.registry import TOPICS, DecodeError, decode, message_key
    from services.common.dead_letters import record_size
    from services.common.kafka_io import Outgoing, send_all
    from services.common.topics import message_max_bytes
    if not raw and topic not in TOPICS:
        raise fail(f"unknown topic {topic!r}; expected one of {', '.join(TOPICS)} (or --raw)")
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


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="e.g. orders.events or shop.orders.dlq")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning/--from-end", help="Where to start")] = False,
    max_events: Annotated[int | None, typer.Option("--max", "-n", min=1, help="Stop after N events")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", "-t", min=0, help="Stop after T seconds")] = None,
) -> None:
    """Print a topic's events as JSON lines."""
    from services.common.kafka_io import tail as tail_topic
    settings = load_settings()

    async def run() -> None:
        async for record in tail_topic(settings, settings.topic(topic), from_beginning=from_beginning, max_events=max_events,
                                       timeout_s=timeout):
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        raise fail(f"could not read {topic} on {settings.kafka_bootstrap}: {exc!r}") from None


@app.command()
def up(
    kafka_port: Annotated[int, typer.Option(help="Port of the embedded Kafka-protocol broker (Tansu)")] = 9092,
    pg_port: Annotated[int, typer.Option(help="Port of the embedded PostgreSQL")] = 5432,
    broker: Annotated[str, typer.Option(help="'tansu' (embedded), or 'external' to use FULFIL_KAFKA_BOOTSTRAP")] = "tansu",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes per service")] = 1,
    http_port: Annotated[int, typer.Option(min=0, max=65535,
                                           help="First HTTP port for services with an API (0: no HTTP)")] = 8080,
    layout: Annotated[Path | None, typer.Option(help="Warehouse layout to load once the database is ready")] = None,
    fleet: Annotated[Path | None, typer.Option(help="Depots and vans to load once the database is ready")] = None,
    metrics_port: Annotated[int, typer.Option(min=0, max=65535,
                                              help="First Prometheus /metrics port, one per worker (0: none)")] = 0,
) -> None:
    """Run everything on this machine: embedded PostgreSQL, Tansu and every service's workers."""
    from services.common.stack import run_stack
    if broker not in ("tansu", "external"):
        raise fail(f"--broker must be 'tansu' or 'external', got {broker!r}")
    settings = load_settings()
    spec, depots = None, None
    if layout is not None:
        from services.warehouse import layout as layouts
        from services.warehouse.domain.errors import LayoutError
        try:
            spec = layouts.read(layout)
        except LayoutError as exc:
            raise fail(str(exc)) from None
    if fleet is not None:
        from services.routing import fleet as fleets
        try:
            depots = fleets.read(fleet)
        except fleets.FleetError as exc:
            raise fail(str(exc)) from None

    def prepare(ready: Settings) -> None:
        if spec is not None:
            _load_layout(ready, spec)
        if depots is not None:
            _load_fleet(ready, depots)
    _configure(settings)
    runnable = runnable_services()
    raise typer.Exit(run_stack(settings, kafka_port=kafka_port, pg_port=pg_port, broker=broker, workers=workers,
                               services=runnable, http_services=[s for s in runnable if _serves_http(s)],
                               http_port=http_port, prepare=prepare, metrics_port=metrics_port))


def _serves_http(service: str) -> bool:
    return importlib.util.find_spec(f"services.{service}.api") is not None


def _load_fleet(settings: Settings, spec: Any) -> dict[str, int]:
    from services.common.db import make_engine, unit_of_work_factory
    from services.routing import fleet
    engine = make_engine(settings, pool_size=1)
    try:
        with unit_of_work_factory(engine).begin() as session:
            return fleet.apply(session, spec)
    finally:
        engine.dispose()


def _load_layout(settings: Settings, spec: Any) -> dict[str, int]:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from services.common.db import make_engine
    from services.warehouse import layout
    engine = make_engine(settings, pool_size=1)
    try:
        with engine.begin() as connection:
            return layout.apply(Session(bind=connection), spec, datetime.now(UTC))
    finally:
        engine.dispose()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
