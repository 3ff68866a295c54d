"""`fulfil warehouses load` and `fulfil picklists`: layouts and stock in, pick lists out as staff print them.
Imports stay inside the commands: the CLI loads every service's commands module to start."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from services.common.commands import fail, key_commands, load_settings, session
from services.common.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from services.common.access_keys import AccessKeys
    from services.warehouse.layout import Layout

commands = typer.Typer()
warehouses = typer.Typer(help="Warehouse layouts, stock and shop policies.", no_args_is_help=True)
commands.add_typer(warehouses, name="warehouses")


def _device_keys() -> AccessKeys:
    from services.warehouse import tables
    return tables.device_keys


def _is_warehouse(opened: Session, warehouse_id: str) -> bool:
    from services.warehouse.store import Store
    return Store(opened).is_warehouse(warehouse_id)


commands.add_typer(key_commands(_device_keys, "device-key", "warehouse",
                                "a warehouse's staff pages (/staff/WAREHOUSE) to a handheld or a packing bench",
                                "warehouse", known=_is_warehouse), name="device-key")


def read_layout(file: Path) -> Layout:
    from services.warehouse import layout
    from services.warehouse.domain.errors import LayoutError
    try:
        return layout.read(file)
    except LayoutError as exc:
        raise fail(str(exc)) from None


def load_layout(settings: Settings, spec: Layout) -> dict[str, int]:
    """Apply a layout in one transaction; returns what it created or changed, by kind."""
    from sqlalchemy.orm import Session

    from services.common.db import make_engine
    from services.warehouse import layout
    engine = make_engine(settings, pool_size=1, service="warehouse")
    try:
        with engine.begin() as connection:
            return layout.apply(Session(bind=connection), spec, datetime.now(UTC))
    finally:
        engine.dispose()


@warehouses.command("load")
def load(file: Annotated[Path, typer.Argument(help="YAML or JSON layout (see deploy/sample/warehouses.yaml)")]) -> None:
    """Create or update warehouses, bins, SKU locations, opening stock and shop policies."""
    spec = read_layout(file)
    try:
        counts = load_layout(load_settings(), spec)
    except Exception as exc:
        raise fail(f"could not load {file}: {str(exc).splitlines()[0]}") from None
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@commands.command()
def picklists(
    warehouse: Annotated[str, typer.Argument(help="Warehouse id")],
    status: Annotated[Literal["open", "done", "all"], typer.Option(help="open, done or all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many lists, newest first")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Print a warehouse's pick lists: lines in walking order, with the tote each order's units go in."""
    from services.warehouse import views
    from services.warehouse.printing import picklist_table
    with session(what="could not read pick lists", service="warehouse") as opened:
        if not views.warehouse_exists(opened, warehouse):
            raise fail(f"no warehouse {warehouse!r}")
        found = views.picklists(opened, warehouse, status, limit)
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in found], indent=2))
    elif not found:
        typer.echo(f"no {status} pick lists in {warehouse}")
    else:
        typer.echo("\n\n".join(picklist_table(v) for v in found))
