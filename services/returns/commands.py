"""`fulfil returns show|policy`: a return's state and refund, and shops' return policies. Imports stay inside the
commands: the CLI loads every service's commands module to start."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import typer

from services.common.commands import fail, session

commands = typer.Typer()
returns = typer.Typer(help="Returns and refunds.", no_args_is_help=True)
commands.add_typer(returns, name="returns")


@returns.command("show")
def show(
    rma: Annotated[str, typer.Argument(help="The RMA (or, with --shop, the shop's return id: a rejected return "
                                            "has no RMA)")],
    shop: Annotated[str | None, typer.Option("--shop", help="The shop whose return id RMA may be")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON, as GET /returns/{rma} answers")] = False,
) -> None:
    """A return's state line by line and its refund, with the breakdown to read out to the customer."""
    from services.returns import views
    with session(what="could not read the return", service="returns") as opened:
        found = views.show(opened, rma, shop)
    if found is None:
        raise fail(f"no return has RMA {rma!r}" + (f" nor is it a return id of shop {shop!r}" if shop else
                                                  f"; if {rma!r} is a shop's own return id, name the shop: "
                                                  f"fulfil returns show {rma} --shop SHOP"))
    typer.echo(found.model_dump_json(indent=2) if as_json else views.text(found))


@returns.command("policy")
def policy(
    shop: Annotated[str, typer.Argument(help="The shop the policy is for")],
    window_days: Annotated[str, typer.Option(help="Days from delivery, e.g. 14, 30 or 90; 'none' for no limit")] = "30",
    time_zone: Annotated[str, typer.Option(help="IANA zone the days are counted in")] = "UTC",
    final_sale: Annotated[list[str] | None, typer.Option(help="A SKU that cannot be returned; repeat for more")] = None,
    restocking_fee_pct: Annotated[float, typer.Option(min=0, max=100, help="Fee on opened, changed-mind returns")] = 0,
) -> None:
    """Set a shop's return policy (shops without one get the FULFIL_RETURNS_* defaults)."""
    from services.common.settings import time_zone as valid_zone
    from services.returns.domain.window import ReturnPolicy
    from services.returns.store import Store
    if window_days != "none" and not (window_days.isdigit() and int(window_days) <= 3650):
        raise fail(f"--window-days must be a whole number of days up to 3650 or 'none', got {window_days!r}")
    try:
        valid_zone(time_zone)
    except ValueError as exc:
        raise fail(f"--time-zone {exc}") from None
    chosen = ReturnPolicy(window_days=None if window_days == "none" else int(window_days), time_zone=time_zone,
                          final_sale_skus=frozenset(final_sale or ()),
                          restocking_fee_pct=Decimal(str(restocking_fee_pct)))
    with session(write=True, what="could not save the policy", service="returns") as opened:
        Store(opened).set_policy(shop, chosen, datetime.now(UTC))
    limit = "no time limit" if chosen.window_days is None else f"{chosen.window_days} days ({time_zone})"
    typer.echo(f"{shop}: returns within {limit}, {len(chosen.final_sale_skus)} final-sale SKU(s), "
               f"restocking fee {chosen.restocking_fee_pct}%")
