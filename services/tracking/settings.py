"""The tracking service's settings: the common ones and its own FULFIL_TRACKING_* knobs."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from services.common.settings import Settings


class TrackingSettings(Settings):
    tracking_rate_per_s: float = Field(
        5.0, gt=0, description="Requests per second each client may make to the tracking API, on average")
    tracking_rate_burst: int = Field(30, ge=1, description="... and in a burst; past that the answer is 429")
    tracking_cache_max_age_s: int = Field(
        5, ge=0, description="Cache-Control max-age of a tracking answer (an hour once delivered or returned)")
    tracking_long_poll_max_s: int = Field(60, ge=0, le=300, description="Longest ?wait= a client may ask for")
    tracking_shop_keys: dict[str, str] = Field(
        default_factory=dict, description='Extra shop keys for GET /orders/{id}, as JSON {"shop_id": "sha256 hex '
        'of the key"}; prefer `fulfil shop-key add SHOP` (in the database, no restart)')

    @field_validator("tracking_shop_keys")
    @classmethod
    def _hashes_only(cls, value: dict[str, str]) -> dict[str, str]:
        for shop, digest in value.items():
            if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise ValueError(f"the value for {shop!r} is not the sha256 hex of a key (64 hex digits): a raw key "
                                 f"must never be configured; `fulfil shop-key add {shop}` keeps only its hash")
        return value
