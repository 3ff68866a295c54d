"""`fulfil shop-key add|list|revoke`: shops' API keys for their order view, only their hashes kept. Imports stay
inside the commands: the CLI loads every service's commands module to start."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import typer

from services.common.commands import echo_keys, fail, in_transaction

commands = typer.Typer()
shop_key = typer.Typer(help="Shops' API keys for their order view (hashes kept in the database).",
                       no_args_is_help=True)
commands.add_typer(shop_key, name="shop-key")


@shop_key.command("add")
def add(shop: Annotated[str, typer.Argument(help="the shop id the key is for")]) -> None:
    """A new API key for a shop's order view (GET /orders/{id}); only its hash is stored, it works at once."""
    from services.tracking import shop_keys
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", shop):
        raise fail(f"shop id must be letters, digits, '.', '_' or '-' (at most 64), got {shop!r}")
    key_id, key = in_transaction(lambda session: shop_keys.add(session, shop, datetime.now(UTC)))
    typer.echo(f"key {key_id} for {shop} (give it to the shop; it is shown once, only its hash is kept):\n{key}")


@shop_key.command("list")
def listed() -> None:
    """Every key: its id, its shop, when it was made and, if so, revoked (never the key itself)."""
    from services.tracking import shop_keys
    echo_keys(in_transaction(shop_keys.listed), 14, "no shop keys yet: fulfil shop-key add SHOP")


@shop_key.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id, as `fulfil shop-key list` shows it")]) -> None:
    """The key stops working at once."""
    from services.tracking import shop_keys
    if not in_transaction(lambda session: shop_keys.revoke(session, key_id, datetime.now(UTC))):
        raise fail(f"no live key {key_id!r}; `fulfil shop-key list` shows them")
    typer.echo(f"revoked {key_id}")
