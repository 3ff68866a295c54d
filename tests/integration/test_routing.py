"""Routing on real Apache Kafka and PostgreSQL: packed shipments wait at their depot, a dispatch wave turns
them into routes with ETA windows inside the customers' windows, what cannot be routed goes to a carrier with
its reason, a parcel for collection is ready at once, and a re-plan keeps the stop a driver is on the way to."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import envelope, order_accepted
from tests.integration.conftest import Stack, fulfil, values
from tests.integration.test_returns import wait_for

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Europe/Brussels")
DAY = (datetime.now(ZONE) + timedelta(days=1)).date()
GENT = (51.0543, 3.7174)
FLEET = {"depots": [{
    "id": "D-GENT", "latitude": 51.05, "longitude": 3.72, "time_zone": "Europe/Brussels", "service_radius_km": 30,
    "cutoffs": [], "vehicles": [{"id": "VAN", "count": 2, "capacity_kg": 800, "capacity_m3": 6, "shift": "08:00-18:00",
                                 "break": {"between": "12:00-14:00", "minutes": 30}}]},
    # This one closes its waves by itself: its midnight cut-off has always passed today.
    {"id": "D-AUTO", "latitude": 51.05, "longitude": 3.72, "time_zone": "Europe/Brussels", "cutoffs": ["00:00"],
     "vehicles": [{"id": "AUTO-VAN", "capacity_kg": 800, "capacity_m3": 6, "shift": "00:00-23:59"}]}]}


def local(hour: float) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, int(hour), int(hour % 1 * 60), tzinfo=ZONE)


def packed(order_id: str, at: tuple[float, float], window: tuple[float, float], kg: str = "2.500") -> dict[str, Any]:
    return envelope("shipment.packed", {
        "shipment_id": f"S-{order_id}", "shop_id": "acme", "order_id": order_id, "warehouse_id": "D-GENT",
        "tracking_number": f"FL{order_id.upper().replace('-', '')}0000000", "parcel_id": f"P-{order_id}",
        "weight_kg": kg, "volume_m3": "0.0200",
        "delivery_address": {"line1": "Straat 1", "city": "Gent", "postcode": "9000", "country": "BE",
                             "latitude": at[0], "longitude": at[1]},
        "delivery_window": {"start": local(window[0]).isoformat(), "end": local(window[1]).isoformat()},
        "packed_at": datetime.now(UTC).isoformat()}, correlation_id=order_id, source="service:warehouse")


def scan(event_type: str, number: str) -> dict[str, Any]:
    return envelope(event_type, {"tracking_number": number, "scanned_at": datetime.now(UTC).isoformat()},
                    correlation_id=number, source="carrier:own-fleet")


def payloads(records: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [v["payload"] for v in values(records, event_type)]


def test_a_wave_from_packed_shipments_to_routes_handovers_and_a_replan(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "fleet.json").write_text(json.dumps(FLEET))
    loaded = fulfil(stack, "fleet", "load", str(tmp_path / "fleet.json"))
    assert loaded.returncode == 0 and "D-GENT: 2 vehicle(s)" in loaded.stdout, loaded.stderr
    stack.start_worker("routing", FULFIL_ROUTING_TIME_LIMIT_S="2", FULFIL_ROUTING_WAVE_CHECK_S="1")
    stack.wait_for_assignments("warehouse.events", 1)

    near = [(51.06, 3.70), (51.03, 3.75), (51.08, 3.74)]
    orders = [order_accepted(f"o-{i}", [("SKU-RED", 1)]) for i in range(1, 7)]
    orders[5]["payload"].update(delivery_method="collect", collect_at="D-GENT")
    stack.send("orders.events", orders)
    wait_for(stack, "SELECT 1 FROM routing.orders HAVING count(*) = 6")
    stack.send("warehouse.events", [
        packed("o-1", near[0], (9, 12)), packed("o-2", near[1], (10, 13)), packed("o-3", near[2], (14, 17)),
        packed("o-4", GENT, (6, 6.5)),       # before any shift starts: no van can make it
        packed("o-5", (50.85, 4.35), (9, 17)),  # Brussels: outside the 30 km service area
        packed("o-6", GENT, (9, 17)),         # collected at the depot
    ])
    records = stack.read("routing.events", lambda r: bool(payloads(r, "delivery.method_chosen")))
    assert [(p["shipment_id"], p["method"]) for p in payloads(records, "delivery.method_chosen")] == [
        ("S-o-6", "collect")]
    wait_for(stack, "SELECT 1 FROM routing.shipments HAVING count(*) = 6")

    closed = fulfil(stack, "dispatch", "D-GENT", "--date", DAY.isoformat())
    assert closed.returncode == 0, closed.stderr
    records = stack.read("routing.events", lambda r: bool(payloads(r, "route.planned")))
    plan = payloads(records, "route.planned")[0]
    stops = {s["shipment_id"]: (route, s) for route in plan["routes"] for s in route["stops"]}
    assert sorted(stops) == ["S-o-1", "S-o-2", "S-o-3"]
    windows = {"S-o-1": (9, 12), "S-o-2": (10, 13), "S-o-3": (14, 17)}
    for shipment_id, (route, s) in stops.items():
        start, end = (local(h) for h in windows[shipment_id])
        arrival = datetime.fromisoformat(s["arrival"])
        eta = (datetime.fromisoformat(s["eta_window"]["start"]), datetime.fromisoformat(s["eta_window"]["end"]))
        assert start <= arrival <= end and start <= eta[0] <= arrival <= eta[1] <= end
        assert datetime.fromisoformat(route["departure"]) <= arrival <= datetime.fromisoformat(route["return_at"])
    for route in plan["routes"]:
        loads = [float(s["load_weight_kg"]) for s in route["stops"]]
        assert loads == sorted(loads, reverse=True) and loads[-1] == 0 and float(route["distance_km"]) > 0
        if datetime.fromisoformat(route["return_at"]) > local(12):  # the driver's day reaches the break
            rest = datetime.fromisoformat(route["break_start"])
            assert local(12) <= rest <= local(14), route
            later = route["stops"][route["break_after_stops"]:]
            assert all(datetime.fromisoformat(s["arrival"]) >= rest + timedelta(minutes=30) for s in later), route
    handed = {p["shipment_id"]: p["reason"] for p in payloads(records, "delivery.method_chosen")
              if p["method"] == "carrier"}
    assert "outside its 30 km service area" in handed["S-o-5"]
    assert "no own-fleet route can take it: its delivery window ends" in handed["S-o-4"]
    unassigned = payloads(records, "stop.unassigned")
    assert [(u["shipment_id"], u["code"], u["carried_to_next_wave"]) for u in unassigned] == [
        ("S-o-4", "window_unreachable", False)]

    # The driver delivered one stop and is on the way to the next: a re-plan keeps that one first on its van.
    ordered = sorted(stops.values(), key=lambda rs: rs[1]["arrival"])
    done, going = ordered[0][1], ordered[1][1]
    going_van = ordered[1][0]["vehicle_id"]
    stack.send("carrier.scans", [scan("shipment.delivered", done["tracking_number"])], key=done["tracking_number"])
    stack.send("carrier.scans", [scan("shipment.out_for_delivery", going["tracking_number"])],
               key=going["tracking_number"])
    wait_for(stack, f"SELECT 1 FROM routing.shipments WHERE shipment_id = '{going['shipment_id']}' "
                    "AND status = 'out_for_delivery'")
    wait_for(stack, f"SELECT 1 FROM routing.shipments WHERE shipment_id = '{done['shipment_id']}' AND status = 'delivered'")
    again = fulfil(stack, "dispatch", "D-GENT", "--replan", plan["wave_id"])
    assert again.returncode == 0 and f"{plan['wave_id']}-P2" in again.stdout, again.stderr
    records = stack.read("routing.events", lambda r: any(p["plan_id"].endswith("-P2")
                                                         for p in payloads(r, "route.planned")))
    second = [p for p in payloads(records, "route.planned") if p["plan_id"].endswith("-P2")][0]
    assert second["plan_id"] == f"{plan['wave_id']}-P2" and second["wave_id"] == plan["wave_id"]
    routes = {route["vehicle_id"]: [s["shipment_id"] for s in route["stops"]] for route in second["routes"]}
    assert routes[going_van][0] == going["shipment_id"]
    assert done["shipment_id"] not in sum(routes.values(), [])
    assert sorted(sum(routes.values(), [])) == sorted({"S-o-1", "S-o-2", "S-o-3"} - {done["shipment_id"]})

    # The cut-off timer closed D-AUTO's (empty) wave without being asked; D-GENT has no cut-offs.
    assert stack.sql("SELECT last_wave_at IS NOT NULL FROM routing.depots WHERE depot_id = 'D-AUTO'") == [(True,)]

    nothing = fulfil(stack, "dispatch", "D-GENT", "--date", DAY.isoformat())
    assert nothing.returncode == 0 and "nothing to plan at D-GENT" in nothing.stdout
    unknown = fulfil(stack, "dispatch", "D-NOPE")
    assert unknown.returncode == 2 and "no depot 'D-NOPE'" in unknown.stderr
    assert str(uuid.UUID(values(records)[0]["event_id"]))  # events are well-formed envelopes
