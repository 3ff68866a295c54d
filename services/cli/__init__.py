"""The `fulfil` command line (services/cli/root.py)."""

from __future__ import annotations

import time

STARTED = time.monotonic()
"""When the command started, before its imports: a time limit given on the command line counts from here."""

from services.cli.root import app, main  # noqa: E402

__all__ = ["STARTED", "app", "main"]
