"""Which services exist and what each reads: the one place above the services that knows them all (the CLI,
`fulfil status` and the demo ask here)."""

from __future__ import annotations

import importlib
import importlib.util

from services.common.settings import SERVICES


def runnable_services() -> list[str]:
    """Services whose worker exists."""
    return [s for s in SERVICES if importlib.util.find_spec(f"services.{s}.app") is not None]


def consumers() -> dict[str, list[str]]:
    """Each runnable service and the topics it consumes, as its handler table says."""
    return {s: list(importlib.import_module(f"services.{s}.handlers").HANDLERS) for s in runnable_services()}
