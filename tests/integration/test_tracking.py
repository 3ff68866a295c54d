"""Tracking on real Apache Kafka and PostgreSQL: a parcel's journey from reservation to delivery, scans that
arrive late, twice, in reverse or before the parcel is known, ETAs that move with the driver, and the two
HTTP views (the customer's, without personal data; the shop's, only its own orders)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.embedded import free_port
from tests.factories import envelope, order_accepted, order_cancelled, picklist_issued
from tests.integration.conftest import Stack, fulfil, values

pytestmark = pytest.mark.integration

T = datetime.now(UTC).replace(microsecond=0)
KEYS = {"acme": "acme-secret-key", "rival": "rival-secret-key"}


def at(minutes: float) -> str:
    return (T + timedelta(minutes=minutes)).isoformat()


def tn() -> str:
    return "FL" + uuid.uuid4().hex[:16].upper()


def reserved(order_id: str, shipment_id: str, warehouse_id: str = "WH-1") -> dict[str, Any]:
    return envelope("stock.reserved", {
        "shop_id": "acme", "order_id": order_id, "shipment_id": shipment_id, "warehouse_id": warehouse_id,
        "lines": [{"line_id": "1", "sku": "SKU-RED", "quantity": 2}], "rule": "single_warehouse",
        "explanation": "the only warehouse", "reserved_at": at(0)}, correlation_id=order_id, source="service:warehouse")


def packed(order: dict[str, Any], shipment_id: str, number: str) -> dict[str, Any]:
    p = order["payload"]
    return envelope("shipment.packed", {
        "shipment_id": shipment_id, "shop_id": p["shop_id"], "order_id": p["order_id"], "warehouse_id": "WH-1",
        "tracking_number": number,
        "parcel_id": f"P-{shipment_id}", "weight_kg": "1.200", "volume_m3": "0.0100",
        "delivery_address": p["delivery_address"], "delivery_window": p["delivery_window"], "packed_at": at(30)},
        correlation_id=p["order_id"], source="service:warehouse")


def planned(stops: list[tuple[str, str, str, float, float]], plan_id: str = "PLAN-1", when: float = 40
            ) -> dict[str, Any]:
    """stops: (shipment_id, order_id, tracking number, arrival minute, window start minute)."""
    return envelope("route.planned", {
        "plan_id": plan_id, "depot_id": "WH-1", "wave_id": "DW-1", "planned_at": at(when),
        "routes": [{"vehicle_id": "VAN-1", "departure": at(60), "return_at": at(300), "distance_km": "42.0",
                    "duration_s": 14400, "stops": [
                        {"sequence": n, "shipment_id": s, "tracking_number": number, "shop_id": "acme", "order_id": o,
                         "arrival": at(arrival), "eta_window": {"start": at(start), "end": at(start + 60)},
                         "load_weight_kg": "1.0", "load_volume_m3": "0.01"}
                        for n, (s, o, number, arrival, start) in enumerate(stops, 1)]}]},
        correlation_id="PLAN-1", source="service:routing")


def carrier_scan(event_type: str, number: str, minute: float, **extra: Any) -> dict[str, Any]:
    return envelope(event_type, {"tracking_number": number, "scanned_at": at(minute),
                                 "location": {"latitude": 51.0543, "longitude": 3.7174}, **extra},
                    correlation_id=number, source="carrier:own-fleet")


def statuses(records: list[dict[str, Any]], number: str) -> list[dict[str, Any]]:
    return [v["payload"] for v in values(records, "shipment.status_changed") if v["payload"]["tracking_number"] == number]


def last(records: list[dict[str, Any]], number: str) -> dict[str, Any] | None:
    found = statuses(records, number)
    return found[-1] if found else None


def eta_of(status: dict[str, Any] | None) -> tuple[str, str] | None:
    window = (status or {}).get("eta_window")
    if not window:
        return None
    return datetime.fromisoformat(window["start"]).isoformat(), datetime.fromisoformat(window["end"]).isoformat()


def start_tracking(stack: Stack, **env: str) -> str:
    port = free_port()
    keys = {shop: hashlib.sha256(key.encode()).hexdigest() for shop, key in KEYS.items()}
    # these tests play the hours ahead of now (scans up to two hours out), so the clock may run a day ahead
    env = {"FULFIL_MAX_CLOCK_SKEW_S": "86400", **env}
    stack.start_worker("tracking", FULFIL_HTTP_PORT=str(port), FULFIL_TRACKING_SHOP_KEYS=json.dumps(keys),
                       FULFIL_TRACKING_RATE_PER_S="1000", FULFIL_TRACKING_RATE_BURST="1000", **env)
    stack.wait_for_assignments("carrier.scans", 1)
    return f"http://127.0.0.1:{port}"


def test_a_parcels_journey_with_late_reordered_and_early_scans(stack: Stack) -> None:
    base = start_tracking(stack)
    orders = [order_accepted(f"o-{i}", [("SKU-RED", 2)]) for i in range(3)]
    numbers = [tn() for _ in orders]
    shipments = [f"SH-{i}" for i in range(3)]

    # A driver's scan for the third parcel overtakes the warehouse's shipment.packed: it waits for it.
    stack.send("carrier.scans", [carrier_scan("shipment.out_for_delivery", numbers[2], 70)], key=numbers[2])
    stack.until_sql("SELECT tracking_number FROM tracking.early_scans", [(numbers[2],)])

    stack.send("orders.events", orders)
    stack.send("warehouse.events", [reserved(o["payload"]["order_id"], s) for o, s in zip(orders, shipments, strict=True)])
    stack.send("warehouse.events", [picklist_issued([o["payload"]["order_id"] for o in orders], warehouse_id="WH-1")],
               key="WH-1")
    stack.send("warehouse.events", [packed(o, s, n) for o, s, n in zip(orders, shipments, numbers, strict=True)])
    stack.read("tracking.events", lambda r: all(last(r, n) for n in numbers))
    stack.send("routing.events", [planned([(shipments[0], "o-0", numbers[0], 120, 100),
                                           (shipments[1], "o-1", numbers[1], 150, 130)])], key="WH-1")
    records = stack.read("tracking.events", lambda r: (last(r, numbers[1]) or {}).get("status") == "planned")
    assert (last(records, numbers[2]) or {}).get("status") == "out_for_delivery"  # the early scan, applied after packing
    assert stack.sql("SELECT count(*) FROM tracking.early_scans") == [(0,)]

    # Stop 1 is delivered 25 minutes late: stop 2's ETA moves by as much.
    stack.send("carrier.scans", [carrier_scan("shipment.out_for_delivery", numbers[0], 90),
                                 carrier_scan("shipment.delivered", numbers[0], 145)], key=numbers[0])
    stack.read("tracking.events", lambda r: eta_of(last(r, numbers[1])) == (at(155), at(215)))

    # Stop 2's scans arrive in reverse, and the delivery twice (the carrier resent it with a new id).
    stack.send("carrier.scans", [carrier_scan("shipment.delivered", numbers[1], 170),
                                 carrier_scan("shipment.out_for_delivery", numbers[1], 100),
                                 carrier_scan("shipment.delivered", numbers[1], 170)], key=numbers[1])
    # A failed attempt for the third, then a stale out-for-delivery from before it.
    stack.send("carrier.scans", [carrier_scan("shipment.delivery_failed", numbers[2], 160, reason="no_one_home"),
                                 carrier_scan("shipment.out_for_delivery", numbers[2], 70)], key=numbers[2])
    stack.read("tracking.events", lambda r: (last(r, numbers[1]) or {}).get("status") == "delivered"
               and (last(r, numbers[2]) or {}).get("status") == "delivery_failed", settle_s=3)
    rows = dict(stack.sql("SELECT tracking_number, status FROM tracking.shipments"))
    assert rows == {numbers[0]: "delivered", numbers[1]: "delivered", numbers[2]: "delivery_failed"}
    assert stack.sql(f"SELECT c.status FROM tracking.checkpoints c JOIN tracking.shipments s USING (shipment_id) "
                     f"WHERE tracking_number = '{numbers[1]}' ORDER BY c.id") == [
        ("allocated",), ("picking",), ("packed",), ("planned",), ("delivered",)]

    with httpx.Client(base_url=base, timeout=40) as http:
        answer = http.get(f"/track/{numbers[0]}")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "delivered" and body["final"] and body["eta_window"] is None
        assert [c["status"] for c in body["checkpoints"]] == [
            "allocated", "picking", "packed", "planned", "out_for_delivery", "delivered"]
        failed = http.get(f"/track/{numbers[2].lower()}").json()
        assert failed["text"] == "Delivery attempt failed: no one was home"

        # Nothing personal in any answer, customer's or shop's.
        order = orders[0]["payload"]
        personal = [order["customer"]["name"], order["customer"]["phone"], order["customer"]["email"],
                    order["delivery_address"]["line1"], order["delivery_address"]["postcode"],
                    str(order["delivery_address"]["latitude"]), str(order["delivery_address"]["longitude"])]
        shop_view = http.get("/orders/o-0", headers={"Authorization": f"Bearer {KEYS['acme']}"})
        assert shop_view.status_code == 200 and shop_view.json()["shipments"][0]["tracking_number"] == numbers[0]
        for text in (answer.text, failed and json.dumps(failed), shop_view.text):
            leaked = [p for p in personal if p in text]
            assert not leaked, f"personal data in an answer: {leaked}"

        # Unknown and malformed numbers look the same.
        unknown, malformed = http.get(f"/track/{tn()}"), http.get("/track/not a number!")
        assert unknown.status_code == malformed.status_code == 404 and unknown.json() == malformed.json()

        # A shop sees its own orders only; no key, no answer.
        assert http.get("/orders/o-0", headers={"Authorization": f"Bearer {KEYS['rival']}"}).status_code == 404
        assert http.get("/orders/o-0").status_code == 401
        assert http.get("/orders/o-0", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_etag_304_and_long_poll(stack: Stack) -> None:
    base = start_tracking(stack)
    order, number = order_accepted("o-lp", [("SKU-RED", 1)]), tn()
    stack.send("orders.events", [order])
    stack.send("warehouse.events", [reserved("o-lp", "SH-LP"), packed(order, "SH-LP", number)])
    stack.read("tracking.events", lambda r: (last(r, number) or {}).get("status") == "packed")
    with httpx.Client(base_url=base, timeout=40) as http:
        first = http.get(f"/track/{number}")
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=5"
        again = http.get(f"/track/{number}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""

        def later() -> None:
            time.sleep(2)
            stack.send("carrier.scans", [carrier_scan("shipment.picked_up", number, 50)], key=number)

        sender = threading.Thread(target=later)
        sender.start()
        started = time.monotonic()
        polled = http.get(f"/track/{number}", params={"wait": 30}, headers={"If-None-Match": etag})
        waited = time.monotonic() - started
        sender.join()
        assert polled.status_code == 200 and polled.json()["status"] == "handed_to_carrier"
        assert polled.headers["etag"] != etag
        assert 1.5 < waited < 25, f"the long poll answered after {waited:.1f} s"
        unchanged = http.get(f"/track/{number}", params={"wait": 1}, headers={"If-None-Match": polled.headers["etag"]})
        assert unchanged.status_code == 304


def test_the_api_survives_property_based_requests_from_its_own_openapi(stack: Stack, tmp_path: Path) -> None:
    """Schemathesis generates requests from /openapi.json (valid and not) against the live worker: no answer
    may be a server error, and every answer must match the schema the API publishes."""
    base = start_tracking(stack, FULFIL_TRACKING_LONG_POLL_MAX_S="1")
    order, number = order_accepted("o-st", [("SKU-RED", 1)]), tn()
    stack.send("orders.events", [order])
    stack.send("warehouse.events", [reserved("o-st", "SH-ST"), packed(order, "SH-ST", number)])
    stack.read("tracking.events", lambda r: (last(r, number) or {}).get("status") == "packed")
    config = tmp_path / "schemathesis.toml"  # real ids, so that requests also reach the found-it paths
    config.write_text(f'[parameters]\ntracking_number = "{number}"\norder_id = "o-st"\n')
    done = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
         f"{base}/openapi.json", "--checks", "all",
         "--max-examples", "60", "--seed", "1", "-H", f"Authorization: Bearer {KEYS['acme']}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_a_scan_dated_in_the_future_is_dead_lettered_and_real_scans_still_apply(stack: Stack) -> None:
    stack.start_worker("tracking", FULFIL_MAX_CLOCK_SKEW_S="3600")  # an hour: the helpers date packing +30 min
    stack.wait_for_assignments("carrier.scans", 1)
    order, number = order_accepted("o-future", [("SKU-RED", 1)]), tn()
    stack.send("orders.events", [order])
    stack.send("warehouse.events", [reserved("o-future", "SH-F"), packed(order, "SH-F", number)])
    stack.read("tracking.events", lambda r: (last(r, number) or {}).get("status") == "packed")
    from_2099 = envelope("shipment.delivery_failed", {"tracking_number": number, "scanned_at": "2099-01-01T00:00:00Z",
                                                      "reason": "refused"}, correlation_id=number,
                         source="carrier:own-fleet")
    stack.send("carrier.scans", [from_2099], key=number)
    (dead,) = stack.read("carrier.scans.dlq", lambda rs: len(rs) >= 1)
    assert "payload.scanned_at 2099-01-01T00:00:00+00:00 is ahead of this worker's clock" in \
        dead["headers"]["fulfil.error"]
    stack.send("carrier.scans", [carrier_scan("shipment.picked_up", number, 50)], key=number)
    records = stack.read("tracking.events", lambda r: (last(r, number) or {}).get("status") == "handed_to_carrier")
    assert "delivery_failed" not in [s["status"] for s in statuses(records, number)]


def test_shop_keys_are_added_and_revoked_while_the_api_runs(stack: Stack) -> None:
    base = start_tracking(stack)
    stack.send("orders.events", [order_accepted("o-key", [("SKU-RED", 1)], shop_id="acme")])
    stack.until_sql("SELECT order_id FROM tracking.orders WHERE order_id = 'o-key'", [("o-key",)])
    added = fulfil(stack, "shop-key", "add", "acme")
    assert added.returncode == 0, added.stderr
    key_id, key = added.stdout.split()[1], added.stdout.strip().splitlines()[-1]
    assert stack.sql("SELECT count(*) FROM tracking.shop_keys WHERE key_hash = "
                     f"'{hashlib.sha256(key.encode()).hexdigest()}'") == [(1,)]
    assert key not in fulfil(stack, "shop-key", "list").stdout
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/orders/o-key", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert http.get("/orders/o-key", headers={"Authorization": "Bearer not-a-key"}).status_code == 401
        assert fulfil(stack, "shop-key", "revoke", key_id).returncode == 0
        assert http.get("/orders/o-key", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    again = fulfil(stack, "shop-key", "revoke", key_id)
    assert again.returncode == 2 and "no live key" in again.stderr


def test_a_cancellation_that_overtakes_the_reservation_still_cancels_the_shipment(stack: Stack) -> None:
    """order.cancelled and stock.reserved travel on different topics: the cancellation may be read first."""
    start_tracking(stack)
    stack.send("orders.events", [order_accepted("o-gone", [("SKU-RED", 2)]), order_cancelled("o-gone")])
    stack.until_sql("SELECT status FROM tracking.orders WHERE order_id = 'o-gone'", [("cancelled",)])
    stack.send("warehouse.events", [reserved("o-gone", "SH-gone")])
    stack.until_sql("SELECT status FROM tracking.shipments WHERE shipment_id = 'SH-gone'", [("cancelled",)])
