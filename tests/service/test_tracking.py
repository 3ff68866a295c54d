"""The tracking service's handlers on PostgreSQL: one status per shipment from four topics read independently,
scans before their parcel, plans and their ETAs, and the shop's order view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas import carrier
from schemas.routing import DeliveryMethodChosen, RoutePlanned, StopUnassigned
from schemas.tracking import ShipmentStatusChanged
from services.tracking import views
from tests.service.builders import (
    accepted,
    at,
    backordered,
    cancelled,
    picklist,
    reserved,
    scan,
    shipment_packed,
)

pytestmark = pytest.mark.service
NUMBER = "FL0000000001"


def shipment(h: Any, shipment_id: str = "SH-1") -> tuple[Any, ...]:
    (row,) = h.rows("SELECT shop_id, order_id, status, tracking_number, eta_start FROM tracking.shipments "
                    "WHERE shipment_id = :s", s=shipment_id)
    return row


def plan(*stops: tuple[str, str, float], plan_id: str = "PL-1") -> RoutePlanned:
    """stops: (shipment id, tracking number, window start minute)."""
    return RoutePlanned.model_validate({
        "plan_id": plan_id, "depot_id": "WH-1", "wave_id": "DW-1", "planned_at": at(40),
        "routes": [{"vehicle_id": "VAN-1", "departure": at(60), "return_at": at(300), "distance_km": "12.0",
                    "duration_s": 3600, "stops": [
                        {"sequence": n, "shipment_id": s, "tracking_number": number, "shop_id": "acme",
                         "order_id": "A-1", "arrival": at(start + 10),
                         "eta_window": {"start": at(start), "end": at(start + 60)},
                         "load_weight_kg": "1.0", "load_volume_m3": "0.01"}
                        for n, (s, number, start) in enumerate(stops, 1)]}]})


def test_a_shipment_moves_forward_only_and_announces_each_status_once_it_has_a_number(harness: Any) -> None:
    h = harness("tracking")
    assert h.handle(accepted("A-1"), reserved("A-1"), picklist(("acme", "A-1"))) == []  # no number yet
    assert shipment(h)[:3] == ("acme", "A-1", "picking")
    (packed,) = h.handle(shipment_packed("A-1"))
    assert isinstance(packed, ShipmentStatusChanged) and (packed.status, packed.previous_status) == ("packed",
                                                                                                     "picking")
    assert h.emitted[-1].key == NUMBER and h.emitted[-1].event.envelope.correlation_id == "acme/A-1"
    assert h.handle(reserved("A-1")) == []  # older news changes nothing
    (planned,) = h.handle(plan(("SH-1", NUMBER, 120)))
    assert planned.status == "planned" and planned.eta_window is not None
    (out,) = h.handle(scan(carrier.ShipmentOutForDelivery, NUMBER, 70))
    (delivered,) = h.handle(scan(carrier.ShipmentDelivered, NUMBER, 130))
    assert [out.status, delivered.status] == ["out_for_delivery", "delivered"]
    assert h.handle(scan(carrier.ShipmentDeliveryFailed, NUMBER, 140, reason="refused")) == []  # final
    assert h.rows("SELECT status FROM tracking.checkpoints ORDER BY id") == [
        ("allocated",), ("picking",), ("packed",), ("planned",), ("out_for_delivery",), ("delivered",)]


def test_a_scan_before_its_parcel_waits_and_is_applied_when_the_parcel_is_packed(harness: Any) -> None:
    h = harness("tracking")
    assert h.handle(scan(carrier.ShipmentPickedUp, NUMBER, 35)) == []
    assert h.rows("SELECT tracking_number FROM tracking.early_scans") == [(NUMBER,)]
    announced = h.handle(reserved("A-1"), shipment_packed("A-1"))
    assert [a.status for a in announced] == ["packed", "handed_to_carrier"]
    assert h.rows("SELECT count(*) FROM tracking.early_scans") == [(0,)]


def test_cancellation_cancels_the_shipments_of_that_shops_order_even_before_their_reservation(harness: Any) -> None:
    h = harness("tracking")
    h.handle(accepted("A-1"), accepted("A-1", "globex"), reserved("A-1", "globex", "SH-G"))
    h.handle(cancelled("A-1"))  # acme's, read before its reservation
    h.handle(reserved("A-1", "acme", "SH-A"))
    assert shipment(h, "SH-A")[2] == "cancelled" and shipment(h, "SH-G")[2] == "allocated"


def test_the_order_view_counts_backordered_units_and_shows_the_shops_own_order_only(harness: Any) -> None:
    h = harness("tracking")
    h.handle(accepted("A-1"), backordered("A-1", "acme", ("1", "SKU-RED", 2)), reserved("A-1"))
    h.handle(accepted("A-1", "globex"), backordered("A-1", "globex", ("1", "SKU-RED", 3)))
    with h.session() as session:
        acme, globex = views.order(session, "acme", "A-1"), views.order(session, "globex", "A-1")
        assert views.order(session, "initech", "A-1") is None
    assert acme is not None and globex is not None
    assert (acme.status, acme.units_waiting_for_stock, len(acme.shipments)) == ("allocated", 0, 1), \
        "the furthest stage of its shipments"
    assert (globex.status, globex.units_waiting_for_stock, globex.shipments) == ("backordered", 3, [])


def test_a_dropped_stop_loses_its_eta_and_a_collection_is_ready_where_it_is_collected(harness: Any) -> None:
    h = harness("tracking")
    h.handle(reserved("A-1"), shipment_packed("A-1"), plan(("SH-1", NUMBER, 120)))
    (dropped,) = h.handle(StopUnassigned(plan_id="PL-2", depot_id="WH-1", shipment_id="SH-1", tracking_number=NUMBER,
                                         shop_id="acme", order_id="A-1", code="no_vehicle_capacity", reason="full",
                                         carried_to_next_wave=True))
    assert dropped.eta_window is None and shipment(h)[4] is None
    h.handle(reserved("A-2", "acme", "SH-2"), shipment_packed("A-2", "acme", "SH-2", "FL0000000002"))
    (ready,) = h.handle(DeliveryMethodChosen(depot_id="WH-1", shipment_id="SH-2", tracking_number="FL0000000002",
                                             shop_id="acme", order_id="A-2", method="collect", collect_at="PUP-1",
                                             reason="collects", chosen_at=h.now + timedelta(minutes=45)))
    assert ready.status == "ready_for_pickup"
    assert h.rows("SELECT place FROM tracking.checkpoints WHERE shipment_id = 'SH-2' ORDER BY id DESC LIMIT 1") == [
        ("PUP-1",)]
