"""Commands that run Fulfil: one service's worker or API, everything on this machine, or the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services import catalog
from services.common.commands import fail, load_settings
from services.common.settings import Settings

commands = typer.Typer()


@commands.command()
def worker(service: Annotated[str, typer.Argument(help=f"one of: {', '.join(catalog.NAMES)}")]) -> None:
    """Run one service's stream processor. Start more of them to scale out."""
    try:
        chosen = catalog.service(service)
    except LookupError as exc:
        raise fail(str(exc.args[0])) from None
    settings = load_settings(chosen.settings)
    from services.common.worker import run, use_fast_event_loop
    use_fast_event_loop()
    run(chosen.build(settings), settings)


@commands.command()
def api(service: Annotated[str, typer.Argument(help="a service with an HTTP API: warehouse, tracking or returns")],
        host: Annotated[str | None, typer.Option(help="address to bind; default FULFIL_HTTP_HOST")] = None,
        port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8080) -> None:
    """Serve only a service's HTTP API, without its stream processor: scale what customers poll apart from
    what processes events."""
    served = {s.name: s for s in catalog.services() if s.api is not None}
    if service not in served:
        raise fail(f"{service!r} has no HTTP API; these do: {', '.join(served)}")
    settings = load_settings(served[service].settings)
    import uvicorn

    from services.common.db import make_engine, unit_of_work_factory
    from services.common.http import server_options
    create = served[service].api
    assert create is not None
    web = create(unit_of_work_factory(make_engine(settings, service=service)), settings)
    uvicorn.run(web, host=host or settings.http_host, port=port, **server_options(settings))


@commands.command()
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
    data_dir: Annotated[Path | None, typer.Option(
        help="Where PostgreSQL's data, the logs and the env file live (default FULFIL_DATA_DIR, .fulfil)")] = None,
) -> None:
    """Run everything on this machine: embedded PostgreSQL, Tansu and every service's workers."""
    from services.cli.stack import run_stack
    from services.routing.commands import load_fleet, read_fleet
    from services.warehouse.commands import load_layout, read_layout
    if broker not in ("tansu", "external"):
        raise fail(f"--broker must be 'tansu' or 'external', got {broker!r}")
    settings = load_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    spec = read_layout(layout) if layout is not None else None
    depots = read_fleet(fleet) if fleet is not None else None

    def prepare(ready: Settings) -> None:
        if spec is not None:
            counts = load_layout(ready, spec)
            typer.echo(f"  Layout       {layout}: {counts['warehouses']} warehouse(s), {counts['bins']} bin(s), "
                       f"{counts['skus']} SKU location(s), {counts['opening_units']} unit(s) in stock, "
                       f"{counts['shops']} shop polic{'y' if counts['shops'] == 1 else 'ies'}")
        if depots is not None:
            vans = load_fleet(ready, depots)
            typer.echo(f"  Fleet        {fleet}: {len(vans)} depot(s), {sum(vans.values())} vehicle(s) "
                       f"({', '.join(f'{depot} {n}' for depot, n in vans.items())})")
    raise typer.Exit(run_stack(settings, kafka_port=kafka_port, pg_port=pg_port, broker=broker, workers=workers,
                               services=list(catalog.NAMES),
                               http_services=[s.name for s in catalog.services() if s.api is not None],
                               http_port=http_port, prepare=prepare, metrics_port=metrics_port))


@commands.command()
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
