"""The routing service's handlers and its wave on PostgreSQL: what it learns of orders, parcels and drivers, and a
wave planned from packed shipments with each shop's order named on its stop."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from schemas import carrier
from schemas.routing import DeliveryMethodChosen, RoutePlanned
from services.routing import fleet
from services.routing.waves import dispatch
from tests.service.builders import accepted, scan, shipment_packed

pytestmark = pytest.mark.service
FLEET = {"depots": [{"id": "WH-1", "latitude": 52.52, "longitude": 13.40, "time_zone": "Europe/Berlin",
                     "service_radius_km": 50, "cutoffs": ["20:00"],
                     "vehicles": [{"id": "VAN", "count": 2, "capacity_kg": 800, "capacity_m3": 6,
                                   "shift": "08:00-18:00", "cost_per_km": 0.35, "fixed_cost": 40}]}]}


@pytest.fixture
def h(harness: Any) -> Any:
    routing = harness("routing", routing_time_limit_s=1)
    with routing.session() as session:
        fleet.apply(session, fleet.Fleet.model_validate(FLEET))
    return routing


def status(h: Any) -> list[tuple[Any, ...]]:
    return h.rows("SELECT shop_id, order_id, status FROM routing.shipments ORDER BY shop_id, order_id")


def test_packed_parcels_wait_for_a_wave_and_a_collection_is_announced_at_once(h: Any) -> None:
    h.handle(accepted("A-1"), accepted("A-1", "globex", delivery_method="collect", collect_at="PUP-1"))
    assert h.handle(shipment_packed("A-1", "acme", "SH-A", "FL000000000A")) == []
    (chosen,) = h.handle(shipment_packed("A-1", "globex", "SH-G", "FL000000000G"))
    assert isinstance(chosen, DeliveryMethodChosen) and (chosen.shop_id, chosen.method) == ("globex", "collect")
    assert h.emitted[-1].key == "WH-1" and h.emitted[-1].event.envelope.correlation_id == "SH-G"
    assert status(h) == [("acme", "A-1", "waiting"), ("globex", "A-1", "collect")]


def test_a_wave_routes_each_shops_order_and_drivers_scans_mark_the_stops(h: Any) -> None:
    h.handle(accepted("A-1"), accepted("A-1", "globex"))
    h.handle(shipment_packed("A-1", "acme", "SH-A", "FL000000000A"),
             shipment_packed("A-1", "globex", "SH-G", "FL000000000G"))
    published = h.run(lambda uow, ctx: dispatch(uow, "WH-1", ctx.settings, day=date(2026, 12, 2)))
    (planned,) = [p for p in published if isinstance(p, RoutePlanned)]
    stops = sorted((s.shop_id, s.order_id, s.shipment_id) for r in planned.routes for s in r.stops)
    assert stops == [("acme", "A-1", "SH-A"), ("globex", "A-1", "SH-G")]
    assert status(h) == [("acme", "A-1", "planned"), ("globex", "A-1", "planned")]
    h.handle(scan(carrier.ShipmentOutForDelivery, "FL000000000A", 60), scan(carrier.ShipmentDelivered,
                                                                            "FL000000000A", 90))
    h.handle(scan(carrier.ShipmentPickedUp, "FL000000000G", 60))  # not a scan routing follows
    assert status(h) == [("acme", "A-1", "delivered"), ("globex", "A-1", "planned")]
