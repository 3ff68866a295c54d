"""`fulfil fleet load`, `fulfil dispatch` and `fulfil routing solve`: depots and vans in, a wave planned now, and
the solver on a benchmark instance. Imports stay inside the commands: the CLI loads every service's commands
module to start."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.common.commands import fail, load_settings, session
from services.common.settings import Settings
from services.routing.settings import RoutingSettings

if TYPE_CHECKING:
    from services.routing.fleet import Fleet

commands = typer.Typer()
fleet_app = typer.Typer(help="Depots, their service areas, wave cut-offs and vans.", no_args_is_help=True)
commands.add_typer(fleet_app, name="fleet")
routing = typer.Typer(help="The route solver on its own.", no_args_is_help=True)
commands.add_typer(routing, name="routing")


def read_fleet(path: Path) -> Fleet:
    from services.routing import fleet
    try:
        return fleet.read(path)
    except fleet.FleetError as exc:
        raise fail(str(exc)) from None


def load_fleet(settings: Settings, spec: Fleet) -> dict[str, int]:
    """Apply a fleet in one transaction; returns each depot's number of vans."""
    from services.common.db import make_engine, unit_of_work_factory
    from services.routing import fleet
    engine = make_engine(settings, pool_size=1, service="routing")
    try:
        with unit_of_work_factory(engine).begin() as opened:
            return fleet.apply(opened, spec)
    finally:
        engine.dispose()


@fleet_app.command("load")
def load(path: Annotated[Path, typer.Argument(help="YAML or JSON fleet file, e.g. deploy/sample/fleet.yaml")]) -> None:
    """Load depots and vans (loading again replaces a depot's vans; shipments and waves stay)."""
    from services.routing import fleet
    spec = read_fleet(path)
    with session(write=True, what="could not load the fleet", service="routing") as opened:
        loaded = fleet.apply(opened, spec)
    for depot, vans in loaded.items():
        typer.echo(f"{depot}: {vans} vehicle(s)")


@commands.command()
def dispatch(
    depot: Annotated[str, typer.Argument(help="Depot (warehouse) id")],
    day: Annotated[str | None, typer.Option("--date", help="Service day YYYY-MM-DD; default the next with shift left")] = None,
    replan: Annotated[str | None, typer.Option(help="Re-plan this wave instead: stops out for delivery stay put")] = None,
) -> None:
    """Close a dispatch wave at a depot now (or re-plan one) and publish its route plan."""
    from services.routing.dispatching import run_dispatch
    try:
        service_day = date.fromisoformat(day) if day else None
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, got {day!r}") from None
    try:
        records = run_dispatch(load_settings(RoutingSettings), depot, service_day, replan)
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


@routing.command("solve")
def solve(
    path: Annotated[Path, typer.Argument(
        help="A Solomon-format VRPTW instance: the classic text (VEHICLE and CUSTOMER sections) or VRPLIB-style")],
    time_limit: Annotated[float, typer.Option(min=0.1, max=3600, help="Seconds, counted from the command's start")
                          ] = 10.0,
    vehicles: Annotated[int | None, typer.Option(
        min=1, help="Vans available (default: the file's fleet, the classic text's VEHICLE NUMBER; for a VRPLIB-style "
                    "file, whose VEHICLES field is a best-known count and not a fleet, one per stop, enough to serve "
                    "every stop)")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Seed of the route search: the same seed, the same search")
                    ] = 1,
    rest: Annotated[str | None, typer.Option("--break", help="Give every van one driver's break, START-END/MINUTES "
                                                             "in the instance's time units, e.g. 92-138/30: it starts "
                                                             "between START and END, at a place")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: routes, each route's break start, "
                                                         "vehicles, distance")] = False,
) -> None:
    """Solve one benchmark instance with the service's own model building, solver and plan reading. Exits 1, naming
    them, when the plan leaves stops unserved."""
    import sys

    from services.routing.domain.plan import violations
    from services.routing.solomon import InstanceError, parse_break, read
    from services.routing.waves import solve as solve_problem
    from services.routing.waves import solver_params
    started = getattr(sys.modules.get("services.cli"), "STARTED", None)
    try:
        driver_break = parse_break(rest) if rest is not None else None
    except ValueError as exc:
        raise fail(f"--break: {exc}") from None
    try:
        problem = read(path).problem(vehicles, driver_break)
    except (OSError, InstanceError) as exc:
        raise fail(str(exc)) from None
    params = solver_params(load_settings(RoutingSettings)).model_copy(update={"time_limit_s": time_limit,
                                                                               "seed": seed})
    plan, raw = solve_problem(problem, params, started=started)
    routes = [[int(problem.stops[v.stop].id) for v in route.visits] for route in plan.routes]
    unserved = [int(problem.stops[d.stop].id) for d in plan.dropped]
    wrong = violations(problem, [[v.stop for v in route.visits] for route in plan.routes])
    if as_json:
        typer.echo(json.dumps({"routes": routes, "breaks": [r.rest_at for r in plan.routes],
                               "breaks_after": [r.rest_after for r in plan.routes], "vehicles": plan.vehicles,
                               "distance": plan.distance, "unserved": unserved,
                               "feasible": not wrong and not plan.dropped}))
    else:
        for k, (route, planned) in enumerate(zip(routes, plan.routes, strict=True), 1):
            rested = "" if planned.rest_at is None else (
                f"   (break at {planned.rest_at:g}, after {planned.rest_after} stop(s))")
            typer.echo(f"Route #{k}: {' '.join(map(str, route))}{rested}")
        typer.echo(f"vehicles {plan.vehicles}, distance {plan.distance:.2f}, {raw.status} in {raw.seconds:.1f} s"
                   + (f"; NOT FEASIBLE: {wrong[0]}" if wrong else ""))
    if unserved:
        typer.secho(f"fulfil: {len(unserved)} customer(s) unserved with {len(problem.vehicles)} vehicle(s): "
                    f"{' '.join(map(str, unserved))}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    if wrong:
        raise typer.Exit(1)
