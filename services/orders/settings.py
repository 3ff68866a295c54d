"""The orders service's settings: the common ones and its own FULFIL_ORDERS_* knobs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import Settings


class OrdersSettings(Settings):
    orders_catalogue_path: Path | None = Field(
        None, description="File of known SKUs (one per line); when set, unknown SKUs are rejected")
    orders_max_window_days: int = Field(90, ge=1, description="How far ahead a delivery window may start")
    orders_min_lead_minutes: int = Field(0, ge=0, description="How soon a delivery window may start")
    orders_price_tolerance: str = Field("0.01", description="Largest accepted difference between total and lines")
