"""Stock arithmetic: what to release when a bin holds less than was promised, low-stock alerts, and
tracking numbers. on_hand counts units in the building (bins and totes); reserved counts units promised
to open shipments; available = on_hand - reserved; always 0 <= reserved <= on_hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.warehouse.domain.errors import WarehouseError

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True, slots=True)
class Promise:
    """Units of one shipment line not yet picked, which could be taken back."""

    shipment_id: str
    line_id: str
    unpicked: int
    on_picklist: bool
    reserved_at: datetime


@dataclass(frozen=True, slots=True)
class Release:
    shipment_id: str
    line_id: str
    quantity: int


def releases_for(excess: int, promises: Sequence[Promise]) -> list[Release]:
    """Take back `excess` promised units: first those no picker has been sent for yet, newest first, so the
    oldest orders and the lists already on the floor keep their stock."""
    if excess <= 0:
        return []
    if excess > sum(p.unpicked for p in promises):
        raise WarehouseError(f"cannot release {excess} unit(s): only {sum(p.unpicked for p in promises)} unpicked")
    ordered = sorted(promises, key=lambda p: (p.on_picklist, -p.reserved_at.timestamp(), p.shipment_id, p.line_id))
    releases = []
    for promise in ordered:
        if excess == 0:
            break
        take = min(excess, promise.unpicked)
        if take:
            releases.append(Release(promise.shipment_id, promise.line_id, take))
            excess -= take
    return releases


def on_hand_after_count(counted_in_bin: int, picked_not_packed: int) -> int:
    """A count sees the bin; units already picked into totes are still in the building."""
    if counted_in_bin < 0:
        raise WarehouseError(f"counted_quantity must not be negative, got {counted_in_bin}")
    return counted_in_bin + picked_not_packed


@dataclass(frozen=True, slots=True)
class LowStock:
    alert: bool  # emit stock.low now
    alerted: bool  # the flag to store


def low_stock(available: int, reorder_point: int, alerted: bool) -> LowStock:
    """Alert once when available falls under the reorder point; re-arm when it is back at or above it."""
    if available < reorder_point:
        return LowStock(alert=not alerted, alerted=True)
    return LowStock(alert=False, alerted=False)


def tracking_number(entropy: bytes) -> str:
    """`FL` + 16 Crockford base-32 characters (80 random bits: unguessable) + a check character that catches
    any single mistyped character and most swaps."""
    if len(entropy) != 10:
        raise WarehouseError(f"a tracking number needs 10 bytes of entropy, got {len(entropy)}")
    number = int.from_bytes(entropy, "big")
    body = "".join(CROCKFORD[(number >> shift) & 31] for shift in range(75, -1, -5))
    check = sum((2 * i + 1) * CROCKFORD.index(c) for i, c in enumerate(body)) % 32  # odd weights: no single error hides
    return f"FL{body}{CROCKFORD[check]}"
