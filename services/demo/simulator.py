"""The other side of the system: shops publishing orders (a few malformed, duplicated or cancelled), warehouse
staff picking (some short) and packing, a dispatcher closing waves, drivers scanning deliveries (some failed,
some late) and customers returning some items. It is only a client: everything goes through Kafka topics,
and waves are closed the way `fulfil dispatch` closes them."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import builders, carrier
from schemas.base import Payload
from schemas.orders import Address, Customer, OrderPlaced
from schemas.registry import SHOP_BOUND, order_key
from schemas.signing import Signer
from services.common.kafka_io import partitions
from services.demo.world import TIME_ZONE, World
from services.routing.settings import RoutingSettings

WATCHED = ("orders.events", "warehouse.events", "routing.events", "tracking.events", "returns.events")
DEMO_SHOP = "demo-shop"
"""The one shop of the demo's city."""
INPUTS = ("shop.orders", "warehouse.scans", "carrier.scans", "shop.returns")
STAGES = ("accepted", "reserved", "picked", "packed", "routed", "delivered", "returned")
REACHED = {"order.accepted": "accepted", "stock.reserved": "reserved", "shipment.packed": "packed",
           "delivery.method_chosen": "routed", "refund.issued": "returned"}  # the rest are read from their payload


def sent(payload: Payload, source: str) -> dict[str, Any]:
    """An input event as a shop, a device or a carrier sends it, now."""
    return builders.document(payload, source=source, at=datetime.now(UTC))


@dataclass
class Outcome:
    """What the simulation saw, for the summary, the report and the conservation checks."""

    placed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    order_state: dict[str, str] = field(default_factory=dict)  # accepted, rejected, cancelled, ...
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)  # stock.reserved payloads
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # wave id -> latest route.planned
    on_time: dict[str, list[bool]] = field(default_factory=dict)  # wave id -> delivered inside the ETA window?
    dead_letters: int = 0
    placed_at: dict[str, float] = field(default_factory=dict)  # order key -> seconds since the start
    reached: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> order key -> first seen, s


class Simulation:
    def __init__(self, settings: RoutingSettings, world: World, orders: int, seed: int,
                 progress: Callable[[Outcome], None] = lambda _: None,
                 consumers: Mapping[str, Sequence[str]] | None = None,
                 unfinished: Callable[[], list[str]] = lambda: [],
                 delivered: Callable[[], int] = lambda: 0, signer: Signer | None = None) -> None:
        """`consumers` (service -> topics it reads) is what the system must have drained before the dispatcher
        looks again; `unfinished` names the accepted orders not yet delivered, backordered, cancelled or failed
        with a reason: the simulation ends when nothing is left to move and it is empty, once it has read every
        delivery tracking recorded (`delivered` counts them) and every return it asked for is answered. The
        demo shop signs its events with `signer` (a registered key of demo-shop); without one they are refused."""
        self.settings, self.world, self.n = settings, world, orders
        self.signer = signer
        self.consumers = consumers or {}
        self.unfinished = unfinished
        self.delivered_in_tracking = delivered
        self.rng = random.Random(seed)
        self.out = Outcome()
        self.progress = progress
        zone = ZoneInfo(TIME_ZONE)
        self.day: date = (datetime.now(zone) + timedelta(days=1)).date()
        self.zone = zone
        self.skus = {s.sku: s for s in world.skus}
        self.picked: dict[tuple[str, str, str], Counter[str]] = {}
        self.packed: set[str] = set()
        self.delivered: set[str] = set()  # shipments the simulation has seen delivered
        self.returns_open: set[str] = set()  # return ids asked for and not yet refunded or rejected
        self.returns_due: list[tuple[str, dict[str, Any]]] = []  # asked for once the system has drained
        self.emptied: set[tuple[str, str]] = set()  # (warehouse, sku) whose bin a short pick found empty
        self.handed_over: set[str] = set()  # routed, or handed to a carrier, or to be collected
        self.started = time.time()  # stages are stamped on the wall clock Kafka stamps records with
        self.stop = asyncio.Event()
        self.malformed = 0

    # -- plumbing --------------------------------------------------------------------------------------
    async def send(self, topic: str, key: str, document: dict[str, Any] | bytes) -> None:
        value = document if isinstance(document, bytes) else json.dumps(document).encode()
        headers = list(self.signer.headers(topic, value)) if self.signer and topic in SHOP_BOUND else []
        await self.producer.send(self.settings.topic(topic), value, key=key.encode(), headers=headers)

    def _changed(self) -> None:
        self.progress(self.out)

    async def run(self, timeout_s: float) -> Outcome:
        options = self.settings.aiokafka_options()
        self.producer = AIOKafkaProducer(**options, acks="all", enable_idempotence=False)
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest")
        await self.producer.start()
        await consumer.start()
        try:
            names = [self.settings.topic(t) for t in WATCHED] + [self.settings.topic(f"{t}.dlq") for t in
                                                                 (*WATCHED, *INPUTS)]
            parts = await partitions(self.settings, names)
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            tasks = [asyncio.create_task(self._shops()), asyncio.create_task(self._dispatcher())]
            deadline = time.monotonic() + timeout_s
            while not self.stop.is_set() and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for tp, records in batches.items():
                    for record in records:
                        await self._handle(self.settings.logical_topic(tp.topic), record.value,
                                           record.timestamp / 1000)
                await self.producer.flush()
            for task in tasks:
                task.cancel()
        finally:
            await consumer.stop()
            await self.producer.stop()
        return self.out

    # -- shops -----------------------------------------------------------------------------------------
    def _order(self, i: int) -> OrderPlaced:
        rng, skus = self.rng, self.world.skus
        chosen = rng.sample(skus, rng.choice([1, 1, 2, 2, 3]))
        items = [(sku.sku, rng.choice([1, 1, 1, 2, 3])) for sku in chosen]
        prices = {sku.sku: sku.price for sku in chosen}
        subtotal = sum((Decimal(str(prices[sku])) * quantity for sku, quantity in items), Decimal(0))
        discount = Decimal("2.00") if subtotal > 30 and rng.random() < 0.3 else Decimal(0)
        lat, lon = self.world.address(rng)
        start = datetime(self.day.year, self.day.month, self.day.day, rng.choice(range(9, 18, 2)), tzinfo=self.zone)
        return builders.order_placed(
            f"D-{self.world.seed}-{i:05d}", DEMO_SHOP, at=datetime.now(UTC), items=items, prices=prices,
            customer=Customer(name=f"Customer {i}", email=f"c{i}@example.com"),
            address=Address(line1=f"Demo street {i}", city="Berlin", postcode="10115", country="DE",
                            latitude=round(lat, 6), longitude=round(lon, 6)),
            window_start=start, discount=discount)

    async def _shops(self) -> None:
        for i in range(self.n):
            order = self._order(i)
            key = order_key(DEMO_SHOP, order.order_id)
            event = sent(order, f"shop:{DEMO_SHOP}")
            roll = self.rng.random()
            if roll < 0.03:  # malformed: a quantity that is not a number, or not JSON at all
                bad = json.loads(json.dumps(event))
                bad["payload"]["lines"][0]["quantity"] = "two"
                await self.send("shop.orders", key, bad if roll < 0.02 else b"{not json")
                self.out.placed += 1
                self.malformed += 1
                continue
            placed_at = time.time() - self.started
            await self.send("shop.orders", key, event)
            self.out.placed_at.setdefault(key, placed_at)
            if roll > 0.97:  # the shop's retry: the same event again
                await self.send("shop.orders", key, event)
            if 0.03 <= roll < 0.07:  # the customer changes their mind
                await asyncio.sleep(0.05)
                await self.send("shop.orders", key, sent(builders.cancellation_requested(
                    order.order_id, DEMO_SHOP, at=datetime.now(UTC), reason="changed my mind"), f"shop:{DEMO_SHOP}"))
            self.out.placed += 1
            if i % 25 == 24:
                await self.producer.flush()
                await asyncio.sleep(0.2)
        await self.producer.flush()

    # -- the dispatcher --------------------------------------------------------------------------------
    async def _dispatcher(self) -> None:
        """Once every order is answered: wait until the system has drained (as `fulfil status --wait-drained`
        does), dispatch while a packed shipment is neither routed nor handed over, and stop when nothing is
        left to move and every accepted order has reached an end."""
        from services.common.status import wait_drained
        from services.routing.dispatching import run_dispatch
        while True:
            await asyncio.sleep(1)
            if self.out.placed < self.n or len(self.out.order_state) + self.malformed < self.n:
                continue
            drained, _ = await asyncio.to_thread(wait_drained, self.settings, self.consumers, 10.0)
            if not drained:
                continue
            if self.returns_due:  # customers ask days later: by then the returns service knows the delivery
                for key, request in self.returns_due:
                    self.returns_open.add(request["payload"]["return_id"])
                    await self.send("shop.returns", key, request)
                self.returns_due.clear()
                await self.producer.flush()
            elif self.packed - self.handed_over:
                for w in self.world.warehouses:
                    await asyncio.to_thread(run_dispatch, self.settings, w["id"], self.day)
                self._changed()
            elif (not self.returns_open and not await asyncio.to_thread(self.unfinished)
                  and len(self.delivered) >= await asyncio.to_thread(self.delivered_in_tracking)):
                self.stop.set()
                return

    # -- what the services say -------------------------------------------------------------------------
    async def _handle(self, topic: str, raw: bytes, published_at: float) -> None:
        """One record; published_at is when its service sent it (the record's timestamp), not when it was read
        here, so an order's stages keep the order its services put them in."""
        if topic.endswith(".dlq"):
            self.out.dead_letters += 1
            self._changed()
            return
        event = json.loads(raw)
        kind, p = event["event_type"], event["payload"]
        if kind in REACHED:
            self._reached(REACHED[kind], p["shop_id"], p["order_id"], published_at)
        elif kind == "shipment.status_changed" and p["status"] == "delivered":
            self._reached("delivered", p["shop_id"], p["order_id"], published_at)
        elif kind == "route.planned":
            for stop in (s for route in p["routes"] for s in route["stops"]):
                self._reached("routed", stop["shop_id"], stop["order_id"], published_at)
        handler = getattr(self, "_on_" + kind.replace(".", "_"), None)
        if handler is not None:
            await handler(p)
            self._changed()

    def _reached(self, stage: str, shop_id: str, order_id: str, at: float | None = None) -> None:
        """The first time an order is at a stage (now, unless the record says when), for the funnel and latencies."""
        when = (time.time() if at is None else at) - self.started
        self.out.reached.setdefault(stage, {}).setdefault(order_key(shop_id, order_id), when)

    async def _on_order_accepted(self, p: dict[str, Any]) -> None:
        self.out.order_state[p["order_id"]] = "accepted"
        self.out.counts["accepted"] += 1

    async def _on_order_rejected(self, p: dict[str, Any]) -> None:
        self.out.order_state[p["order_id"]] = "rejected"

    async def _on_order_cancelled(self, p: dict[str, Any]) -> None:
        self.out.order_state[p["order_id"]] = "cancelled"

    async def _on_stock_reserved(self, p: dict[str, Any]) -> None:
        self.out.shipments[p["shipment_id"]] = p
        self.out.counts["reserved"] += 1

    async def _on_picklist_issued(self, p: dict[str, Any]) -> None:
        wh = p["warehouse_id"]
        for line in p["lines"]:
            for tote in line["totes"]:
                want = tote["quantity"]
                common: dict[str, Any] = {"shop_id": tote["shop_id"], "warehouse_id": wh, "at": datetime.now(UTC)}
                where = (p["picklist_id"], tote["order_id"], line["sku"], line["bin"])
                empty = (wh, line["sku"]) in self.emptied
                if empty or self.rng.random() < 0.03:  # the bin held less than the list said
                    # A bin a short pick emptied stays empty until a return restocks it: the picker finds nothing
                    # there again (if the warehouse already took that promise back, the scan is refused as off
                    # the list, and the tote is right either way).
                    got = 0 if empty else self.rng.randrange(0, want)
                    self.emptied.add((wh, line["sku"]))
                    scan = sent(builders.pick_short(*where, want, got, **common), f"device:{wh}")
                else:
                    got = want
                    scan = sent(builders.pick_confirmed(*where, want, **common), f"device:{wh}")
                await self.send("warehouse.scans", wh, scan)
                if got:
                    self.picked.setdefault((wh, tote["shop_id"], tote["order_id"]), Counter())[line["sku"]] += got
                self.out.counts["picked"] += got
        for order in p["orders"]:
            shop_id, order_id = order["shop_id"], order["order_id"]
            items = self.picked.pop((wh, shop_id, order_id), Counter())
            if not items:
                continue
            self._reached("picked", shop_id, order_id)
            for parcel in self._parcels(wh, shop_id, order_id, items):
                weight = sum(self.skus[s].weight_kg * n for s, n in parcel.items())
                volume = sum(self.skus[s].volume_m3 * n for s, n in parcel.items())
                await self.send("warehouse.scans", wh, sent(builders.parcel_packed(
                    order_id, sorted(parcel.items()), shop_id=shop_id, warehouse_id=wh,
                    parcel_id=f"P-{uuid.uuid4().hex[:10]}", weight_kg=f"{max(weight, 0.001):.3f}",
                    volume_m3=f"{max(volume, 0.0001):.4f}", at=datetime.now(UTC)), f"device:{wh}"))

    def _parcels(self, wh: str, shop_id: str, order_id: str, items: Counter[str]) -> list[Counter[str]]:
        """One parcel per shipment when the tote holds several shipments of the order (a short pick elsewhere
        moved lines here) and they add up to what was picked; otherwise the tote as one parcel."""
        open_here = [sum((Counter({line["sku"]: line["quantity"]}) for line in sh["lines"]), Counter())
                     for sid, sh in self.out.shipments.items()
                     if sh["warehouse_id"] == wh and (sh["shop_id"], sh["order_id"]) == (shop_id, order_id)
                     and sid not in self.packed]
        if len(open_here) > 1 and sum(open_here, Counter()) == items:
            return open_here
        return [items]

    async def _on_shipment_packed(self, p: dict[str, Any]) -> None:
        self.out.counts["packed"] += 1
        self.packed.add(p["shipment_id"])

    async def _on_route_planned(self, p: dict[str, Any]) -> None:
        self.out.plans[p["wave_id"]] = p
        for route in p["routes"]:
            for stop in route["stops"]:
                self.handed_over.add(stop["shipment_id"])
                self.out.counts["routed"] += 1
                await self._drive(p["wave_id"], stop, datetime.fromisoformat(route["departure"]))

    async def _drive(self, wave_id: str, stop: dict[str, Any], departure: datetime) -> None:
        number, arrival = stop["tracking_number"], datetime.fromisoformat(stop["arrival"])
        await self.send("carrier.scans", number, sent(builders.carrier_scan(
            carrier.ShipmentOutForDelivery, number, at=departure, driver_id="demo-driver"), "carrier:own-fleet"))
        late = timedelta(minutes=self.rng.choice([35, 50])) if self.rng.random() < 0.08 else timedelta(0)
        at = arrival + timedelta(minutes=self.rng.gauss(0, 6)) + late
        if self.rng.random() < 0.05:
            await self.send("carrier.scans", number, sent(builders.carrier_scan(
                carrier.ShipmentDeliveryFailed, number, at=at, reason="no_one_home"), "carrier:own-fleet"))
            return
        window = stop["eta_window"]
        self.out.on_time.setdefault(wave_id, []).append(
            datetime.fromisoformat(window["start"]) <= at <= datetime.fromisoformat(window["end"]))
        await self.send("carrier.scans", number, sent(builders.carrier_scan(carrier.ShipmentDelivered, number, at=at),
                                                      "carrier:own-fleet"))

    async def _on_delivery_method_chosen(self, p: dict[str, Any]) -> None:
        self.handed_over.add(p["shipment_id"])
        if p["method"] != "carrier":
            return
        number = p["tracking_number"]
        start = datetime(self.day.year, self.day.month, self.day.day, 10, tzinfo=self.zone)
        scans: list[tuple[type[carrier.Scan], datetime]] = [(carrier.ShipmentPickedUp, start),
                                                             (carrier.ShipmentDelivered, start + timedelta(hours=5))]
        for kind, at in scans:
            await self.send("carrier.scans", number, sent(builders.carrier_scan(kind, number, at=at),
                                                          "carrier:parcel-co"))

    async def _on_shipment_status_changed(self, p: dict[str, Any]) -> None:
        if p["status"] != "delivered":
            return
        self.out.counts["delivered"] += 1
        self.delivered.add(p["shipment_id"])
        shipment = self.out.shipments.get(p["shipment_id"])
        if shipment is None or self.rng.random() >= 0.12:
            return
        line = shipment["lines"][0]
        reason = self.rng.choice(["changed_mind", "changed_mind", "damaged", "wrong_item", "not_as_described"])
        requested = datetime.fromisoformat(p["changed_at"]) + timedelta(days=2)
        key = order_key(p["shop_id"], p["order_id"])
        self.returns_due.append((key, sent(builders.return_requested(
            f"R-{p['shipment_id']}", p["order_id"], [(line["line_id"], line["sku"], 1)], shop_id=DEMO_SHOP,
            reason=reason, opened=self.rng.random() < 0.5, at=requested), f"shop:{DEMO_SHOP}")))

    async def _on_return_authorised(self, p: dict[str, Any]) -> None:
        shipment = self.out.shipments.get(p["return_id"].removeprefix("R-"))
        wh = shipment["warehouse_id"] if shipment else self.world.warehouses[0]["id"]
        lines = [(line["line_id"], line["sku"], line["quantity"]) for line in p["lines"]]
        now = datetime.now(UTC)
        await self.send("warehouse.scans", wh, sent(builders.return_received(p["rma"], lines, warehouse_id=wh, at=now),
                                                    f"device:{wh}"))
        disposition = "restock" if self.rng.random() < 0.8 else "write_off"
        if disposition == "restock":
            self.emptied -= {(wh, sku) for _, sku, _ in lines}
        await self.send("warehouse.scans", wh, sent(builders.return_inspected(
            p["rma"], [(*line, disposition) for line in lines], warehouse_id=wh, at=now), f"device:{wh}"))

    async def _on_return_rejected(self, p: dict[str, Any]) -> None:
        self.returns_open.discard(p["return_id"])

    async def _on_refund_issued(self, p: dict[str, Any]) -> None:
        self.returns_open.discard(p["return_id"])
        self.out.counts["returned"] += 1
