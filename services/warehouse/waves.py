"""Closing pick waves: a timer gathers each warehouse's waiting reservations into waves (every N seconds,
or as soon as M orders wait) and issues one pick list per wave. Safe with many workers: shipments are
claimed with SKIP LOCKED, so no reservation lands on two lists."""

from __future__ import annotations

import uuid
from datetime import timedelta

from schemas.warehouse import PicklistIssued
from services.common.handling import Context
from services.common.logging import get_logger
from services.warehouse.domain.picklists import WaveLine, build_pick_lines, tote_labels
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import Reservation, Work

log = get_logger(__name__)
PICKLIST_EVENTS = uuid.UUID("0f7d3a0e-5b1e-4d57-9a55-6f0c2b8e9d13")
MAX_WAVES_PER_TICK = 50


def close_waves(uow: Work, ctx: Context[WarehouseSettings]) -> None:
    """Every warehouse gets pick lists for each full wave of M waiting orders, plus one for the rest once the
    oldest of them has waited the wave interval."""
    settings = ctx.settings
    size, interval = settings.warehouse_wave_max_orders, timedelta(seconds=settings.warehouse_wave_interval_s)
    for warehouse_id, count, oldest in uow.store.waiting_per_warehouse():
        due = count // size + (1 if count < size and oldest <= uow.now - interval else 0)
        if due:
            waves = _claim_waves(uow, warehouse_id, size, min(due, MAX_WAVES_PER_TICK), partial=count < size)
            if waves:
                _issue(uow, warehouse_id, waves)


def _claim_waves(uow: Work, warehouse_id: str, size: int, waves: int, partial: bool) -> list[list[Reservation]]:
    """The oldest waiting shipments for `waves` waves, locked (SKIP LOCKED: another worker's timer may hold
    some) and cut into waves; a chunk short of a wave goes only if a partial wave was found due."""
    waiting = uow.store.claim_waiting(warehouse_id, size * waves)
    chunks = [list(waiting[i:i + size]) for i in range(0, len(waiting), size)]
    if chunks and len(chunks[-1]) < size and not partial:
        chunks.pop()
    return chunks


def _issue(uow: Work, warehouse_id: str, waves: list[list[Reservation]]) -> None:
    """One pick list per wave; a handful of statements whatever the number of waves."""
    lines = uow.store.lines_at_bins(warehouse_id, [r.shipment_id for wave in waves for r in wave])
    numbers = uow.store.wave_numbers(len(waves))
    on_lists: list[tuple[str, str, str]] = []
    documents, issued = [], []
    for wave, number in zip(waves, numbers, strict=True):
        wave_id, picklist_id = f"WV-{number:06d}", f"PL-{number:06d}"
        orders = list(dict.fromkeys((r.shop_id, r.order_id) for r in wave))
        totes = tote_labels(orders)
        in_tote = {totes[order]: order for order in orders}
        pick_lines = build_pick_lines([
            WaveLine((shipment.shop_id, shipment.order_id), at.sku, at.quantity, at.location)
            for shipment in wave for at in lines.get(shipment.shipment_id, [])])
        payload = PicklistIssued.model_validate({  # plain data in, one validation of the whole list
            "picklist_id": picklist_id, "warehouse_id": warehouse_id, "wave_id": wave_id, "issued_at": uow.now,
            "orders": [{"shop_id": shop_id, "order_id": order_id} for shop_id, order_id in orders],
            "lines": [{"sequence": p.sequence, "zone": p.location.zone, "aisle": p.location.aisle,
                       "bay": p.location.bay, "level": p.location.level, "bin": p.location.bin, "sku": p.sku,
                       "quantity": p.quantity,
                       "totes": [{"shop_id": in_tote[t.tote][0], "order_id": in_tote[t.tote][1], "tote": t.tote,
                                  "quantity": t.quantity} for t in p.totes]}
                      for p in pick_lines]})
        on_lists += [(shipment.shipment_id, picklist_id, totes[(shipment.shop_id, shipment.order_id)])
                     for shipment in wave]
        events = uow.events(namespace=uuid.uuid5(PICKLIST_EVENTS, picklist_id))
        events.emit(payload)
        documents.append({"picklist_id": picklist_id, "warehouse_id": warehouse_id, "wave_id": wave_id,
                          "issued_at": uow.now,
                          "document": events.emits[-1].event.envelope.payload})  # the event's, not dumped again
        issued.append({"picklist_id": picklist_id, "orders": len(orders), "lines": len(pick_lines)})
    log.info("picklists.issued", warehouse_id=warehouse_id, picklists=issued)
    uow.store.start_picking(on_lists, documents)
