"""The `fulfil` command line (services/cli/root.py)."""

from __future__ import annotations

from services.cli.root import app, main

__all__ = ["app", "main"]
