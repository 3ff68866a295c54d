"""The returns service's settings: the common ones and its own FULFIL_RETURNS_* knobs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from services.common.settings import Settings, time_zone


class ReturnsSettings(Settings):
    returns_window_days: int | None = Field(
        30, ge=0, description="Return window in days from delivery, for shops with no policy of their own "
        "(`fulfil returns policy`); unset (empty) for no limit")
    returns_time_zone: str = Field("UTC", description="Time zone the return window's days are counted in, by default")
    returns_restocking_fee_pct: Decimal = Field(
        Decimal(0), ge=0, le=100, description="Restocking fee on opened items returned for a change of mind, in %")
    returns_rate_per_s: float = Field(
        5.0, gt=0, description="Requests per second each client may make to GET /returns/{rma}, on average")
    returns_rate_burst: int = Field(30, ge=1, description="... and in a burst; past that the answer is 429")

    @field_validator("returns_window_days", mode="before")
    @classmethod
    def _empty_is_no_limit(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("returns_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return time_zone(value)
