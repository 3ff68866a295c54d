"""`fulfil shop-key add|list|revoke`: shops' API keys for their order view, only their hashes kept. The tables are
imported only when a command runs: the CLI loads every service's commands module to start."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from services.common.commands import key_commands

if TYPE_CHECKING:
    from services.common.access_keys import AccessKeys


def _keys() -> AccessKeys:
    from services.tracking import tables
    return tables.shop_keys


commands = typer.Typer()
commands.add_typer(key_commands(_keys, "shop-key", "shop", "a shop's order view (GET /orders/{id})", "tracking"),
                   name="shop-key")
