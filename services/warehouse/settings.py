"""The warehouse service's settings: the common ones and its own FULFIL_WAREHOUSE_* knobs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import Settings


class WarehouseSettings(Settings):
    warehouse_default_policy: Literal["ship_available", "ship_complete"] = Field(
        "ship_available", description="Policy of shops the layout file names no policy for: ship what is in "
        "stock and backorder the rest, or hold the order until it can ship complete")
    warehouse_staff_token_sha256: str = Field(
        "", pattern=r"^([0-9a-fA-F]{64})?$",
        description="sha256 hex of the staff token the pick-list API asks for (Authorization: Bearer); empty: "
        "no token, the API relies on its internal address (FULFIL_HTTP_HOST)")
    warehouse_wave_interval_s: float = Field(
        30.0, gt=0, description="A pick wave closes when its oldest reservation has waited this long")
    warehouse_wave_max_orders: int = Field(
        20, ge=1, description="... or as soon as this many orders wait; also the most orders on one pick list")
