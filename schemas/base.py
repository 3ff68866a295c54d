"""Building blocks every event model uses: strict models, UTC times, Decimal money, ids."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalised to UTC; a naive timestamp is refused."""

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=4, allow_inf_nan=False)]
"""An amount of money; never a float. JSON carries it as a string such as "12.50"."""

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
"""Ids chosen by shops and devices: order ids, SKUs, warehouse ids."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]


class Model(BaseModel):
    """Immutable, and unknown fields are an error (a typo in a field name never passes silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Payload(Model):
    """The typed body of one event type at one schema version.

    `KEY` names the payload fields its topic is keyed by when they are not the topic's (see the registry), and
    `CORRELATION` those its correlation id is made of when it is not the key: with the topic, that is all an
    emitting service needs to know to publish it."""

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    KEY: ClassVar[tuple[str, ...] | None] = None
    CORRELATION: ClassVar[tuple[str, ...] | None] = None


class TimeWindow(Model):
    start: UtcDatetime
    end: UtcDatetime


class GeoPoint(Model):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
