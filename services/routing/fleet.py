"""Depots (one per warehouse) with their service area, wave cut-offs and vans, loaded from a YAML or JSON
file by `fulfil fleet load`. Loading again replaces a depot's vans and keeps its shipments and waves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.base import Identifier
from services.common.settings import time_zone
from services.routing import tables

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class FleetError(ValueError):
    """A fleet file that cannot be loaded as it is; the message names the place."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: str) -> str:
    if not CLOCK.match(value):
        raise ValueError(f"must be a local time HH:MM, got {value!r}")
    return value


def _span(value: str) -> tuple[str, str]:
    start, sep, end = value.partition("-")
    if not sep or _clock(start.strip()) >= _clock(end.strip()):
        raise ValueError(f"must be HH:MM-HH:MM with the start first, got {value!r}")
    return start.strip(), end.strip()


class BreakSpec(Strict):
    between: str = Field(description="HH:MM-HH:MM: when the break may start")
    minutes: int = Field(ge=1, le=240)

    @field_validator("between")
    @classmethod
    def _between(cls, value: str) -> str:
        _span(value)
        return value


class VehicleSpec(Strict):
    id: Identifier = Field(description="The van's id, or with count > 1 the prefix of VAN-1, VAN-2, ...")
    count: int = Field(1, ge=1, le=500)
    capacity_kg: float = Field(gt=0)
    capacity_m3: float = Field(gt=0)
    shift: str = Field(description="HH:MM-HH:MM local")
    rest: BreakSpec | None = Field(None, alias="break")
    cost_per_km: float = Field(0.3, ge=0)
    fixed_cost: float = Field(0.0, ge=0)

    @field_validator("shift")
    @classmethod
    def _shift(cls, value: str) -> str:
        _span(value)
        return value


class DepotSpec(Strict):
    id: Identifier
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    time_zone: str = "UTC"
    service_radius_km: float = Field(30.0, gt=0)
    cutoffs: list[str] = Field(default_factory=lambda: ["20:00"], description="Local HH:MM times a wave closes")
    vehicles: list[VehicleSpec] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone(value)

    @field_validator("cutoffs")
    @classmethod
    def _cutoffs(cls, value: list[str]) -> list[str]:
        return sorted({_clock(v) for v in value})


class Fleet(Strict):
    depots: list[DepotSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Fleet:
        ids = [v for d in self.depots for v in vehicle_ids(d)]
        doubled = sorted({v for v in ids if ids.count(v) > 1})
        if doubled:
            raise ValueError(f"vehicle ids must be unique across depots: {', '.join(doubled)}")
        return self


def vehicle_ids(depot: DepotSpec) -> list[str]:
    return [v.id if v.count == 1 else f"{v.id}-{k}" for v in depot.vehicles for k in range(1, v.count + 1)]


def read(path: Path) -> Fleet:
    try:
        document: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FleetError(f"{path}: {exc}") from None
    try:
        return Fleet.model_validate(document)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise FleetError(f"{path}: {where}") from None


def apply(session: Session, fleet: Fleet) -> dict[str, int]:
    loaded = {}
    for depot in fleet.depots:
        values = {"latitude": depot.latitude, "longitude": depot.longitude, "time_zone": depot.time_zone,
                  "service_radius_km": depot.service_radius_km, "cutoffs": depot.cutoffs}
        session.execute(insert(tables.depots).values(depot_id=depot.id, **values)
                        .on_conflict_do_update(index_elements=["depot_id"], set_=values))
        session.execute(delete(tables.vehicles).where(tables.vehicles.c.depot_id == depot.id))
        rows = []
        for v in depot.vehicles:
            shift = _span(v.shift)
            rest = _span(v.rest.between) if v.rest else (None, None)
            for k in range(1, v.count + 1):
                rows.append({"vehicle_id": v.id if v.count == 1 else f"{v.id}-{k}", "depot_id": depot.id,
                             "capacity_kg": v.capacity_kg, "capacity_m3": v.capacity_m3, "shift_start": shift[0],
                             "shift_end": shift[1], "break_start": rest[0], "break_end": rest[1],
                             "break_minutes": v.rest.minutes if v.rest else None, "cost_per_km": v.cost_per_km,
                             "fixed_cost": v.fixed_cost})
        session.execute(insert(tables.vehicles), rows)
        loaded[depot.id] = len(rows)
    return loaded
