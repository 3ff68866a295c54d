"""A wave's reservations become one pick list: lines aggregated by bin for batch picking, in walking
order, with a tote per order saying how many units of each line go where."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from services.warehouse.domain.errors import WarehouseError
from services.warehouse.domain.pick_path import Location, walking_order


@dataclass(frozen=True, slots=True)
class WaveLine:
    """One reserved line of one shipment, with where its SKU lives. `order` is whatever names an order uniquely
    (Fulfil passes (shop_id, order_id): order ids are unique per shop only)."""

    order: Hashable
    sku: str
    quantity: int
    location: Location


@dataclass(frozen=True, slots=True)
class ToteShare:
    order: Hashable
    tote: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PickLine:
    sequence: int
    location: Location
    sku: str
    quantity: int
    totes: tuple[ToteShare, ...]


def tote_labels(orders: Sequence[Hashable]) -> dict[Hashable, str]:
    """T01, T02, ... in the order the orders entered the wave."""
    labels: dict[Hashable, str] = {}
    for order in orders:
        if order not in labels:
            labels[order] = f"T{len(labels) + 1:02d}"
    return labels


def build_pick_lines(lines: Sequence[WaveLine]) -> list[PickLine]:
    """Aggregate by (bin, SKU) across orders and sequence by walking order."""
    if not lines:
        raise WarehouseError("a wave needs at least one reserved line")
    totes = tote_labels([line.order for line in lines])
    grouped: dict[tuple[Location, str], dict[Hashable, int]] = {}
    for line in lines:
        shares = grouped.setdefault((line.location, line.sku), {})
        shares[line.order] = shares.get(line.order, 0) + line.quantity
    by_location: dict[Location, list[str]] = {}
    for location, sku in grouped:
        by_location.setdefault(location, []).append(sku)
    result: list[PickLine] = []
    for location in walking_order(by_location):
        for sku in sorted(by_location[location]):
            shares = grouped[(location, sku)]
            result.append(PickLine(
                sequence=len(result) + 1, location=location, sku=sku, quantity=sum(shares.values()),
                totes=tuple(ToteShare(o, totes[o], q) for o, q in sorted(shares.items(), key=lambda i: totes[i[0]]))))
    return result
