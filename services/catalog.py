"""The one list of Fulfil's services. Everything that works across services (the CLI, migrations, `fulfil up`,
`fulfil status`, the demo) asks here; services/common knows none of them.

Each service declares itself in services/<name>/app.py (`SERVICE`, see services/common/service.py) and may
contribute `fulfil` commands in services/<name>/commands.py (`commands`). Declarations are imported when asked
for, so a worker loads only its own service and a command only what it uses."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from services.common.service import Service
    from services.common.signing_keys import Keyring

NAMES: tuple[str, ...] = ("orders", "warehouse", "routing", "tracking", "returns")


def service(name: str) -> Service:
    """The service called `name`, or a LookupError that lists them."""
    if name not in NAMES:
        raise LookupError(f"unknown service {name!r}; expected one of {', '.join(NAMES)}")
    declared: Service = importlib.import_module(f"services.{name}.app").SERVICE
    return declared


def services() -> list[Service]:
    return [service(name) for name in NAMES]


def consumers() -> dict[str, list[str]]:
    """Each service and the topics it consumes."""
    return {s.name: s.topics for s in services()}


def keyrings() -> dict[str, Keyring]:
    """The shops' public keys of every service that reads a shop's topic, by service (each in its own database,
    where it has one): a key is registered in each."""
    return {s.name: s.keyring for s in services() if s.keyring is not None}


def commands() -> list[typer.Typer]:
    """The `fulfil` commands each service contributes."""
    found = []
    for name in NAMES:
        if importlib.util.find_spec(f"services.{name}.commands") is not None:
            found.append(importlib.import_module(f"services.{name}.commands").commands)
    return found
