"""The warehouse staff pages in a real browser (headless Debian chromium driven by Playwright) on real Apache Kafka
and PostgreSQL: a picker signs in with a device key and walks a pick list (confirm with a double tap, a short pick,
a line whose order was cancelled meanwhile), a packer packs a tote that holds two shipments of one order, and the
scans on Kafka and the rows in PostgreSQL say exactly that. Every page is photographed at phone and desk width
into the test's output (and copied to docs/images when FULFIL_SCREENSHOTS_TO_DOCS=1)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.embedded import EmbeddedPostgres, free_port
from tests.factories import order_cancelled, order_placed, scan
from tests.integration.conftest import Stack, fulfil, get, load_layout, make_stack, stock_violations, values

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE, DESK = {"width": 390, "height": 844}, {"width": 1280, "height": 860}
LAYOUT = {"warehouses": [{
    "id": "W-1", "name": "One", "latitude": 52.52, "longitude": 13.40, "priority": 1,
    "grid": {"zones": ["A"], "aisles": 3, "bays": 6, "levels": 2},
    "stock": [{"sku": "SKU-MUG", "bin": "A-01-02-1", "on_hand": 2, "description": "Mug, white, 330 ml"},
              {"sku": "SKU-TEA", "bin": "A-02-05-2", "on_hand": 10, "description": "Green tea, 100 g tin"},
              {"sku": "SKU-PLATE", "bin": "A-03-01-1", "on_hand": 10},
              {"sku": "SKU-KETTLE", "bin": "A-03-04-2", "on_hand": 10}]}]}


@pytest.fixture
def floor(kafka_bootstrap: str, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[Stack, int]]:
    """Orders and warehouse workers; a wave closes as soon as two shipments wait (the interval is long)."""
    stack = make_stack(kafka_bootstrap, postgres, tmp_path / "logs", warehouse_wave_interval_s=600,
                       warehouse_wave_max_orders=2)
    load_layout(stack, LAYOUT)
    port = free_port()
    stack.start_worker("orders")
    stack.start_worker("warehouse", FULFIL_HTTP_PORT=str(port))
    try:
        yield stack, port
    finally:
        stack.stop_workers()
    assert not stock_violations(stack)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


class OffLoop:
    """The stack's Kafka calls (asyncio.run) from a thread of their own: Playwright's sync API keeps an event loop
    running in the test's thread."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.pool = ThreadPoolExecutor(1)

    def send(self, topic: str, documents: list[dict[str, Any]], key: str | None = None) -> None:
        self.pool.submit(self.stack.send, topic, documents, key).result()

    def read(self, topic: str, until: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return self.pool.submit(self.stack.read, topic, until, **kwargs).result()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stack, name)


class Shots:
    """Each page at phone and desk width, into the test's output."""

    def __init__(self, where: Path) -> None:
        self.where = where
        where.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> None:
        for width, size in (("phone", PHONE), ("desk", DESK)):
            page.set_viewport_size(size)
            page.screenshot(path=str(self.where / f"{name}-{width}.png"), full_page=True)
        page.set_viewport_size(PHONE)


def picklist_of(stack: Any, *orders: str) -> dict[str, Any]:
    def issued(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["payload"] for e in values(records, "picklist.issued")
                if sorted(o["order_id"] for o in e["payload"]["orders"]) == sorted(orders)]
    (found,) = issued(stack.read("warehouse.events", lambda rs: bool(issued(rs))))
    return found


def test_a_picker_and_a_packer_work_from_the_pages(floor: tuple[Stack, int], browser: Any, tmp_path: Path) -> None:
    stack, port = OffLoop(floor[0]), floor[1]
    base = f"http://127.0.0.1:{port}/staff"
    get(port, "/healthz")
    added = fulfil(stack.stack, "device-key", "add", "W-1")
    assert added.returncode == 0, added.stderr
    key_id, key = re.search(r"key (dk-\w+) for W-1", added.stdout)[1], added.stdout.strip().splitlines()[-1]  # type: ignore[index]
    refused = fulfil(stack.stack, "device-key", "add", "W-NOPE")
    assert refused.returncode == 2 and "no warehouse 'W-NOPE'" in refused.stderr
    shots = Shots(tmp_path / "screenshots")

    # A list of two orders: Y wants tea and a plate, Z a kettle.
    stack.send("shop.orders", [order_placed("Y", lines=[
        {"line_id": "1", "sku": "SKU-TEA", "quantity": 1, "unit_price": "5.00"},
        {"line_id": "2", "sku": "SKU-PLATE", "quantity": 2, "unit_price": "7.00"}]),
        order_placed("Z", lines=[{"line_id": "1", "sku": "SKU-KETTLE", "quantity": 1, "unit_price": "30.00"}])])
    first = picklist_of(stack, "Y", "Z")
    pl = first["picklist_id"]

    page = browser.new_page(viewport=PHONE)
    assert page.goto(f"{base}/W-1").status == 401, "no key, no pages"
    page.goto(f"{base}/")
    page.fill("#key", "not-a-key")
    page.click("button[type=submit]")
    assert "unknown or revoked" in page.content()
    page.fill("#key", key)
    page.click("button[type=submit]")
    assert page.url == f"{base}/W-1" and pl in page.content()
    shots.take(page, "lists")
    assert page.goto(f"{base}/W-OTHER").status == 403, "a key opens its own warehouse's pages only"

    page.goto(f"{base}/W-1/picklists/{pl}")
    steps = {page.text_content("[data-test=sku]"): page.url}
    for _ in range(2):
        page.click("text=next")
        steps[page.text_content("[data-test=sku]")] = page.url
    assert set(steps) == {"SKU-TEA", "SKU-PLATE", "SKU-KETTLE"}

    # Tea: a double tap is one scan.
    page.goto(steps["SKU-TEA"])
    assert page.text_content("[data-test=bin]") == "A-02-05-2" and "Green tea" in page.content()
    shots.take(page, "step")
    form = page.locator("form", has=page.locator("[data-test=confirm]"))
    fields = {name: form.locator(f"input[name={name}]").get_attribute("value") for name in ("csrf", "scan_id")}
    page.click("[data-test=confirm]")
    assert "1 x SKU-TEA into tote" in page.text_content("[data-test=said]")
    again = page.request.post(steps["SKU-TEA"] + "/confirm", form=fields, max_redirects=0)
    assert again.status == 303, "the same form sent again is taken, and is no second scan"

    # Plate: the bin holds one of two.
    page.goto(steps["SKU-PLATE"])
    page.fill("#found", "1")
    page.click("[data-test=short]")
    assert "short: 1 of 2" in page.text_content("[data-test=said]")

    # Kettle: order Z is cancelled while the picker walks (the orders service's answer overtook the list).
    page.goto(steps["SKU-KETTLE"])
    assert page.text_content("[data-test=state]") == "to pick"
    stale = {name: page.locator(f"form input[name={name}]").first.get_attribute("value")
             for name in ("csrf", "scan_id")}
    stack.send("orders.events", [order_cancelled("Z")], key="acme/Z")
    stack.until_sql("SELECT status FROM warehouse.shipments WHERE order_id = 'Z'", [("cancelled",)], 30)
    late = page.request.post(steps["SKU-KETTLE"] + "/confirm", form=stale, max_redirects=0)
    assert late.status == 303
    page.goto(steps["SKU-KETTLE"])
    assert page.text_content("[data-test=state]") == "cancelled" and "put the units back" in page.content()
    assert page.locator("[data-test=confirm]").count() == 0

    # A form from elsewhere, and bad input, are refused in words.
    forged = httpx.post(steps["SKU-TEA"] + "/confirm", data={"csrf": "x", "scan_id": fields["scan_id"]},
                        cookies={"fulfil_device": key})
    assert forged.status_code == 403 and "is not from this device" in forged.text
    odd = httpx.post(steps["SKU-TEA"] + "/confirm", data={"csrf": "é", "scan_id": fields["scan_id"]},
                     cookies={"fulfil_device": key})
    assert odd.status_code == 403, "a token that is not even ASCII is refused the same way"
    foreign = page.request.post(steps["SKU-TEA"] + "/confirm", form=fields, headers={"Origin": "https://evil.example"})
    assert foreign.status == 403 and "another site" in foreign.text()
    page.goto(steps["SKU-PLATE"])
    assert page.text_content("[data-test=state]") in ("waiting", "picked"), "a tapped step takes no second tap"
    bad = page.request.post(f"{base}/W-1/picklists/{pl}/steps/999/short", form={**fields, "found": "x"})
    assert bad.status in (400, 404) and "Traceback" not in bad.text() and "<html" in bad.text()

    on_wire = eventually_scans(stack, "pick.short", sku="SKU-PLATE")
    (plate,) = [e for e in on_wire if e["event_type"] == "pick.short"]
    assert (plate["payload"]["requested_quantity"], plate["payload"]["picked_quantity"]) == (2, 1)
    tea = [e for e in on_wire if e["payload"].get("sku") == "SKU-TEA"]
    assert [e["event_type"] for e in tea] == ["pick.confirmed"], "a double tap is one scan"
    assert all(e["source"] == f"device:{key_id}" for e in on_wire), "the device is named in every scan's source"
    assert not [e for e in on_wire if e["payload"].get("sku") == "SKU-KETTLE"], "a cancelled line takes no tap"
    stack.until_sql("SELECT sku, picked FROM warehouse.shipment_lines l JOIN warehouse.shipments s USING "
                    "(shipment_id) WHERE s.order_id = 'Y' AND s.picklist_id = '" + pl + "' ORDER BY sku",
                    [("SKU-PLATE", 1), ("SKU-TEA", 1)], 30)
    for sku in ("SKU-TEA", "SKU-PLATE"):  # processed: picked, the plate's missing unit re-allocated off this list
        page.goto(steps[sku])
        assert page.text_content("[data-test=state]") == "picked", sku

    # A printable list: A4, one row a step, a code per bin and per tote.
    page.goto(f"{base}/W-1/picklists/{pl}/print")
    assert page.locator("[data-test=print-line]").count() == 3 and page.locator("svg").count() >= 4
    shots.take(page, "print")
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF"

    # Two shipments of one order in one tote: X wants 3 mugs, the bin holds 2; 5 more arrive before the wave.
    stack.send("shop.orders", [order_placed("X", lines=[
        {"line_id": "1", "sku": "SKU-MUG", "quantity": 3, "unit_price": "9.00"}])])
    stack.until_sql("SELECT count(*) FROM warehouse.backorders WHERE order_id = 'X'", [(1,)], 30)
    stack.send("warehouse.scans", [scan("stock.received", "W-1", sku="SKU-MUG", quantity=5, bin="A-01-02-1")])
    second = picklist_of(stack, "X")
    tote = second["lines"][0]["totes"][0]["tote"]
    page.goto(f"{base}/W-1/picklists/{second['picklist_id']}")
    assert page.text_content("[data-test=due]") == "3", "one step for the tote: both shipments' units"
    page.click("[data-test=confirm]")
    stack.until_sql("SELECT count(*) FROM warehouse.shipments WHERE order_id = 'X' AND status = 'picked'", [(2,)], 30)
    page.goto(f"{base}/W-1/picklists/{second['picklist_id']}/totes/{tote}")
    parcels = page.locator("[data-test=parcel]")
    assert parcels.count() == 2 and "pack each into its own parcel" in page.content()
    assert sorted(parcels.nth(i).locator("td").nth(1).text_content() for i in range(2)) == ["1", "2"]
    shots.take(page, "tote")
    page.fill("input[name=weight_kg] >> nth=0", "heavy")
    page.click("[data-test=packed] >> nth=0")
    assert "weight" in page.text_content("[data-test=said]"), "bad input is said on the page"
    for _ in range(2):
        page.click("[data-test=packed] >> nth=0")
        assert "print its label" in page.text_content("[data-test=said]")
        page.goto(f"{base}/W-1/picklists/{second['picklist_id']}/totes/{tote}")
    stack.until_sql("SELECT count(*) FROM warehouse.shipments WHERE order_id = 'X' AND status = 'packed' "
                    "AND tracking_number IS NOT NULL", [(2,)], 30)
    packed = [e for e in eventually_scans(stack, "parcel.packed", order_id="X", count=2)
              if e["event_type"] == "parcel.packed"]
    assert sorted(sum(i["quantity"] for i in p["payload"]["items"]) for p in packed) == [1, 2]
    (number,) = stack.sql("SELECT tracking_number, shipment_id FROM warehouse.shipments WHERE order_id = 'X' "
                          "ORDER BY shipment_id LIMIT 1")
    page.goto(f"{base}/W-1/parcels/{number[1]}/label")
    assert page.text_content("[data-test=tracking]") == number[0]
    shots.take(page, "label")

    # A revoked key stops working at the next request.
    assert fulfil(stack.stack, "device-key", "revoke", key_id).returncode == 0
    assert page.goto(f"{base}/W-1").status == 401
    taken = sorted(p.name for p in shots.where.iterdir())
    assert len(taken) == 10, taken
    if os.environ.get("FULFIL_SCREENSHOTS_TO_DOCS"):
        for name in ("step-phone.png", "lists-desk.png", "tote-phone.png", "print-desk.png"):
            shutil.copy(shots.where / name, ROOT / "docs" / "images" / f"staff-{name}")


def eventually_scans(stack: Any, event_type: str, count: int = 1, **match: Any) -> list[dict[str, Any]]:
    """Every scan on the wire, once `count` of `event_type` matching `match` are there (and 2 s more, for any
    that must not come)."""
    def found(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in values(records, event_type) if all(e["payload"].get(k) == v for k, v in match.items())]
    return values(stack.read("warehouse.scans", lambda rs: len(found(rs)) >= count, timeout_s=30, settle_s=2))
