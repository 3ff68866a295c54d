"""Warehouses, their bins, where each SKU lives, opening stock and shop policies, loaded from a YAML or JSON
file by `fulfil warehouses load`. Loading twice is safe: it updates the layout and never resets stock that
events have since moved (opening stock only applies to a SKU the warehouse has never held)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.base import Identifier
from services.warehouse import tables
from services.warehouse.domain.allocation import Policy
from services.warehouse.domain.errors import LayoutError
from services.warehouse.store import Store


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BinSpec(Strict):
    bin: Identifier
    zone: str = Field(min_length=1, max_length=20)
    aisle: int = Field(ge=0)
    bay: int = Field(ge=0)
    level: int = Field(ge=0)


class Grid(Strict):
    """Bins named ZONE-AA-BB-L for every zone, aisle, bay and level: a regular layout in four lines."""

    zones: list[str] = Field(min_length=1)
    aisles: int = Field(ge=1, le=999)
    bays: int = Field(ge=1, le=999)
    levels: int = Field(ge=1, le=9)

    def bins(self) -> list[BinSpec]:
        return [BinSpec(bin=f"{z}-{a:02d}-{b:02d}-{lv}", zone=z, aisle=a, bay=b, level=lv)
                for z in self.zones for a in range(1, self.aisles + 1) for b in range(1, self.bays + 1)
                for lv in range(1, self.levels + 1)]


class StockSpec(Strict):
    sku: Identifier
    bin: Identifier
    on_hand: int = Field(0, ge=0, description="Opening stock; applies only when the SKU is new to the warehouse")
    reorder_point: int = Field(0, ge=0)
    description: str | None = Field(None, max_length=200, description="What the picker's screen shows beside the SKU")


class WarehouseSpec(Strict):
    id: Identifier
    name: str = Field(min_length=1)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    priority: int = 100
    active: bool = True
    grid: Grid | None = None
    bins: list[BinSpec] = Field(default_factory=list)
    stock: list[StockSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _stock_in_known_bins(self) -> WarehouseSpec:
        known = {b.bin for b in self.all_bins()}
        unknown = sorted({s.bin for s in self.stock} - known)
        if unknown:
            raise ValueError(f"warehouse {self.id}: stock names bins not in its layout: {unknown[:5]}")
        return self

    def all_bins(self) -> list[BinSpec]:
        return (self.grid.bins() if self.grid else []) + self.bins


class Layout(Strict):
    warehouses: list[WarehouseSpec] = Field(default_factory=list)
    shops: dict[str, Policy] = Field(default_factory=dict, description="shop id -> ship_available | ship_complete")


def read(path: Path) -> Layout:
    try:
        document: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LayoutError(f"{path}: cannot read: {exc}") from None
    try:
        return Layout.model_validate(document or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise LayoutError(f"{path}: {problems}") from None


def apply(session: Session, layout: Layout, now: datetime) -> dict[str, int]:
    """Upsert everything in the layout; returns counts for the operator."""
    counts = {"warehouses": 0, "bins": 0, "skus": 0, "opening_units": 0, "shops": 0}
    for spec in layout.warehouses:
        row = {"warehouse_id": spec.id, "name": spec.name, "latitude": spec.latitude, "longitude": spec.longitude,
               "priority": spec.priority, "active": spec.active}
        session.execute(insert(tables.warehouses).values(row).on_conflict_do_update(
            index_elements=["warehouse_id"], set_={k: v for k, v in row.items() if k != "warehouse_id"}))
        bins = [{"warehouse_id": spec.id, "bin_id": b.bin, "zone": b.zone, "aisle": b.aisle, "bay": b.bay,
                 "level": b.level} for b in spec.all_bins()]
        if bins:
            statement = insert(tables.bins)
            session.execute(statement.on_conflict_do_update(
                index_elements=["warehouse_id", "bin_id"],
                set_={c: statement.excluded[c] for c in ("zone", "aisle", "bay", "level")}), bins)
        counts["warehouses"] += 1
        counts["bins"] += len(bins)
        counts["opening_units"] += _stock(session, spec, now)
        counts["skus"] += len(spec.stock)
    if layout.shops:
        statement = insert(tables.shop_policies)
        session.execute(statement.on_conflict_do_update(index_elements=["shop_id"],
                                                        set_={"policy": statement.excluded.policy}),
                        [{"shop_id": shop, "policy": policy.value} for shop, policy in layout.shops.items()])
        counts["shops"] = len(layout.shops)
    # A layout is a bulk load: give the planner statistics now, not when autovacuum next wakes (until then
    # it guesses, and plans scans of the whole stock table for a handful of rows).
    session.execute(text("ANALYZE warehouse.warehouses, warehouse.bins, warehouse.stock, warehouse.shop_policies"))
    return counts


def _stock(session: Session, spec: WarehouseSpec, now: datetime) -> int:
    st = tables.stock
    existing = set(session.execute(select(st.c.sku).where(st.c.warehouse_id == spec.id)).scalars())
    rows = [{"warehouse_id": spec.id, "sku": s.sku, "bin_id": s.bin, "reorder_point": s.reorder_point,
             "description": s.description, "updated_at": now} for s in spec.stock]
    if not rows:
        return 0
    statement = insert(st)
    session.execute(statement.on_conflict_do_update(
        index_elements=["warehouse_id", "sku"],
        set_={"bin_id": statement.excluded.bin_id, "reorder_point": statement.excluded.reorder_point,
              "description": statement.excluded.description}), rows)
    opening = {(spec.id, s.sku): (s.on_hand, 0) for s in spec.stock if s.sku not in existing and s.on_hand}
    Store(session).change_on_hand(opening, "opening", now, None, reference="layout")
    return sum(units for units, _ in opening.values())
