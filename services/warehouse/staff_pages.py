"""Pages for warehouse staff, served by the warehouse's API under /staff: a warehouse's open pick lists, one list a
step at a time on a phone (bin, SKU, description, units, tote) with Confirm and Short, the packing bench's view of a
tote (which units go into which parcel) with Packed and the parcel's label, and an A4 pick list to print. Rendered
on the server (Jinja2), no script, nothing fetched from elsewhere.

A device signs in once with its key (`fulfil device-key add WAREHOUSE`): the key is kept in an HttpOnly,
SameSite=Strict cookie and looked up on every request, so a revoked key stops working at once, and it opens its own
warehouse's pages only. Every form carries a token derived from the key (a page elsewhere cannot make one) and its
own id, so a double tap or a resubmitted form is one scan (services/warehouse/staff.py)."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import barcode
from barcode.writer import SVGWriter
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from services.common.logging import get_logger
from services.common.processor import Processor
from services.common.unit_of_work import UnitOfWork
from services.warehouse import staff, tables, views
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import Store

log = get_logger(__name__)
COOKIE, FLASH = "fulfil_device", "fulfil_said"
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PAGES = Environment(loader=PackageLoader("services.warehouse", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True, slots=True)
class Device:
    key_id: str
    warehouse_id: str
    csrf: str


class Page(HTTPException):
    """An answer drawn as a page: what went wrong, in words, with the status it deserves."""


def barcode_svg(text: str) -> Markup:
    """Code 128 of `text` as inline SVG: no image library, nothing to fetch."""
    out = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(out, options={
        "module_height": 9.0, "module_width": 0.25, "quiet_zone": 2.0, "write_text": False})
    svg = out.getvalue().decode()
    return Markup(svg[svg.index("<svg"):])  # noqa: S704 (drawn by python-barcode from our own ids)


PAGES.filters["barcode"] = barcode_svg


def create_staff_pages(sessions: sessionmaker[Session], settings: WarehouseSettings,
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        said = unquote(request.cookies.get(FLASH, "")) or None
        response = HTMLResponse(PAGES.get_template(name).render(said=said, root=request.scope.get("root_path", ""),
                                                               **context), status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; " \
                                                      "form-action 'self'; frame-ancestors 'none'"
        if said:
            response.delete_cookie(FLASH, path="/staff")
        return response

    def back(request: Request, path: str, said: str) -> RedirectResponse:
        """Post, then redirect, then get: a reload never sends the form again."""
        response = RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)
        response.set_cookie(FLASH, quote(said)[:300], path="/staff", httponly=True, samesite="strict", max_age=60)
        return response

    def device(request: Request, warehouse_id: str | None = None) -> Device:
        key = request.cookies.get(COOKIE, "")
        owner = None
        if key:
            with sessions() as session:
                owner = tables.device_keys.owner_of(session, key)
        if owner is None:
            raise Page(401, "sign in with this device's key (fulfil device-key add WAREHOUSE)")
        if warehouse_id is not None and warehouse_id != owner[1]:
            raise Page(403, f"this device's key opens the pages of {owner[1]} only")
        csrf = hmac.new(key.encode(), f"csrf/{owner[0]}".encode(), hashlib.sha256).hexdigest()
        return Device(owner[0], owner[1], csrf)

    async def form(request: Request, signed_in: Device | None) -> dict[str, str]:
        """The posted form, once it is shown to come from one of our own pages."""
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            raise Page(403, "this form was sent from another site; open the page again and tap once more")
        try:
            fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        except Exception:
            raise Page(400, "the form could not be read; open the page again") from None
        if signed_in is not None and not hmac.compare_digest(fields.get("csrf", "").encode(), signed_in.csrf.encode()):
            raise Page(403, "this form is not from this device's page; open the page again and tap once more")
        return fields

    def scan_id(fields: dict[str, str]) -> uuid.UUID:
        try:
            return uuid.UUID(fields.get("scan_id", ""))
        except ValueError:
            raise Page(400, "the form has no tap id; open the page again") from None

    def picklist(session: Session, warehouse_id: str, picklist_id: str) -> views.PicklistView:
        if not ID.fullmatch(picklist_id):
            raise Page(404, "no such pick list")
        found = views.picklists(session, warehouse_id, "all", 1, picklist_id=picklist_id)
        if not found:
            raise Page(404, f"no pick list {picklist_id} in {warehouse_id}")
        return found[0]

    # A tap is a job of the warehouse's processor: one transaction, retried through a database blip, its scan
    # written to the outbox (checked against the broker's size limit) as the device's; the worker's sweep sends it.
    processor = Processor("warehouse", sessions, tables.messaging, {}, settings, clock, store=Store)

    def act(signed_in: Device, work: Callable[[UnitOfWork[Store]], str]) -> str:
        said: list[str] = []
        processor.run_job(lambda uow, ctx: said.append(work(uow)), source=f"device:{signed_in.key_id}")
        return said[-1]

    @app.exception_handler(Page)
    async def page(request: Request, exc: Page) -> HTMLResponse:
        return render(request, "error.html", exc.status_code, message=exc.detail,
                      sign_in=exc.status_code == 401)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        return render(request, "error.html", exc.status_code, message=str(exc.detail))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> HTMLResponse:
        log.exception("staff_page.failed", path=request.url.path[:200])
        return render(request, "error.html", 500, message="something went wrong on our side; it is logged. "
                                                         "Open the page again.")

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        key = request.cookies.get(COOKIE, "")
        if key:
            with sessions() as session:
                owner = tables.device_keys.owner_of(session, key)
            if owner is not None:
                return RedirectResponse(f"{request.scope.get('root_path', '')}/{owner[1]}", status_code=303)
        return render(request, "sign_in.html")

    @app.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        fields = await form(request, None)
        key = fields.get("key", "").strip()
        with sessions() as session:
            owner = tables.device_keys.owner_of(session, key) if key else None
        if owner is None:
            return render(request, "sign_in.html", 401, message="that key is unknown or revoked")
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/{owner[1]}", status_code=303)
        response.set_cookie(COOKIE, key, path="/staff", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
        return response

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        await form(request, device(request))
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
        response.delete_cookie(COOKIE, path="/staff")
        return response

    @app.get("/{warehouse_id}", response_class=HTMLResponse)
    def lists(request: Request, warehouse_id: str) -> Response:
        signed_in = device(request, warehouse_id)
        with sessions() as session:
            open_lists = views.picklists(session, warehouse_id, "open", 100)
        return render(request, "lists.html", device=signed_in, warehouse_id=warehouse_id, lists=open_lists)

    @app.get("/{warehouse_id}/picklists/{picklist_id}", response_class=HTMLResponse)
    def first_step(request: Request, warehouse_id: str, picklist_id: str) -> Response:
        device(request, warehouse_id)
        with sessions() as session:
            steps = views.steps(session, warehouse_id, picklist(session, warehouse_id, picklist_id))
        due = next((s.number for s in steps if s.state == "to_pick"), len(steps) or 1)
        return RedirectResponse(f"{request.scope.get('root_path', '')}/{warehouse_id}/picklists/{picklist_id}/"
                                f"steps/{due}", status_code=303)

    @app.get("/{warehouse_id}/picklists/{picklist_id}/steps/{number}", response_class=HTMLResponse)
    def step_page(request: Request, warehouse_id: str, picklist_id: str, number: str) -> Response:
        signed_in = device(request, warehouse_id)
        with sessions() as session:
            view = picklist(session, warehouse_id, picklist_id)
            steps = views.steps(session, warehouse_id, view)
        step = _step(steps, number)
        return render(request, "step.html", device=signed_in, warehouse_id=warehouse_id, picklist=view, step=step,
                      steps=steps, scan_id=uuid.uuid4(), messages=staff.REFUSED)

    @app.post("/{warehouse_id}/picklists/{picklist_id}/steps/{number}/{action}")
    async def tap(request: Request, warehouse_id: str, picklist_id: str, number: str, action: str) -> Response:
        signed_in = device(request, warehouse_id)
        fields = await form(request, signed_in)
        if action not in ("confirm", "short"):
            raise Page(404, "no such action: Confirm or Short")
        found = None
        if action == "short":
            text = fields.get("found", "").strip()
            if not text.isdigit() or len(text) > 6:
                raise Page(400, f"enter how many units you found in the bin, as a whole number (got {text[:10]!r})")
            found = int(text)
        tapped = scan_id(fields)
        here = f"/{warehouse_id}/picklists/{picklist_id}/steps/{number}"
        def record(uow: UnitOfWork[Store]) -> str:
            step = _step(views.steps(uow.session, warehouse_id, view), number)
            for shipment_id in step.shipment_ids:
                uow.store.lock_shipment(shipment_id)
            step = _step(views.steps(uow.session, warehouse_id, view), number)  # as it is, now it is ours
            return staff.pick(uow, step, warehouse_id, picklist_id, signed_in.key_id, tapped, found)

        with sessions() as session:
            view = picklist(session, warehouse_id, picklist_id)
        try:
            said = act(signed_in, record)
        except staff.Refused as exc:
            return back(request, here, f"not recorded: {exc}")
        log.info("staff.tapped", warehouse_id=warehouse_id, picklist_id=picklist_id, step=number, action=action,
                 device=signed_in.key_id)
        following = f"/{warehouse_id}/picklists/{picklist_id}/steps/{int(number) + 1}" \
            if int(number) < _count(view) else here
        return back(request, following if said != "already recorded" else here, said)

    @app.get("/{warehouse_id}/picklists/{picklist_id}/print", response_class=HTMLResponse)
    def printable(request: Request, warehouse_id: str, picklist_id: str) -> Response:
        device(request, warehouse_id)
        with sessions() as session:
            view = picklist(session, warehouse_id, picklist_id)
            steps = views.steps(session, warehouse_id, view)
        totes = sorted({(s.tote, s.shop_id, s.order_id) for s in steps})
        return render(request, "print.html", warehouse_id=warehouse_id, picklist=view, steps=steps, totes=totes)

    @app.get("/{warehouse_id}/picklists/{picklist_id}/totes/{tote}", response_class=HTMLResponse)
    def tote_page(request: Request, warehouse_id: str, picklist_id: str, tote: str) -> Response:
        signed_in = device(request, warehouse_id)
        if not ID.fullmatch(tote):
            raise Page(404, "no such tote")
        with sessions() as session:
            view = picklist(session, warehouse_id, picklist_id)
            parcels = views.tote(session, warehouse_id, picklist_id, tote)
        if not parcels:
            raise Page(404, f"no tote {tote} on pick list {picklist_id}")
        return render(request, "tote.html", device=signed_in, warehouse_id=warehouse_id, picklist=view, tote=tote,
                      parcels=parcels, scan_ids={p.shipment_id: uuid.uuid4() for p in parcels})

    @app.post("/{warehouse_id}/picklists/{picklist_id}/totes/{tote}/packed")
    async def packed(request: Request, warehouse_id: str, picklist_id: str, tote: str) -> Response:
        signed_in = device(request, warehouse_id)
        fields = await form(request, signed_in)
        tapped = scan_id(fields)
        here = f"/{warehouse_id}/picklists/{picklist_id}/totes/{tote}"
        try:
            weight = staff.measure(fields.get("weight_kg", ""), "the weight (kg)", 3, Decimal("99999"))
            volume = staff.measure(fields.get("volume_m3", ""), "the volume (m3)", 4, Decimal("9999"))
        except staff.Refused as exc:
            return back(request, here, f"not recorded: {exc}")
        shipment_id = fields.get("shipment_id", "")
        def record(uow: UnitOfWork[Store]) -> str:
            uow.store.lock_shipment(shipment_id)
            parcel = next((p for p in views.tote(uow.session, warehouse_id, picklist_id, tote)
                           if p.shipment_id == shipment_id), None)
            if parcel is None:
                raise Page(404, f"no shipment {shipment_id[:64]} in tote {tote}")
            return staff.pack(uow, parcel, warehouse_id, signed_in.key_id, tapped, weight, volume)

        with sessions() as session:
            picklist(session, warehouse_id, picklist_id)
        try:
            said = act(signed_in, record)
        except staff.Refused as exc:
            return back(request, here, f"not recorded: {exc}")
        log.info("staff.packed", warehouse_id=warehouse_id, shipment_id=shipment_id, device=signed_in.key_id)
        return back(request, f"/{warehouse_id}/parcels/{shipment_id}/label", said)

    @app.get("/{warehouse_id}/parcels/{shipment_id}/label", response_class=HTMLResponse)
    def label(request: Request, warehouse_id: str, shipment_id: str) -> Response:
        device(request, warehouse_id)
        if not ID.fullmatch(shipment_id):
            raise Page(404, "no such parcel")
        with sessions() as session:
            found = views.label(session, warehouse_id, shipment_id)
        if found is None:
            raise Page(404, f"no parcel {shipment_id} in {warehouse_id}")
        return render(request, "label.html", warehouse_id=warehouse_id, label=found)

    return app


def _count(view: views.PicklistView) -> int:
    return sum(len(line.totes) for line in view.lines)


def _step(steps: list[views.Step], number: str) -> views.Step:
    if not number.isdigit() or not 1 <= int(number) <= len(steps):
        raise Page(404, f"no step {number[:10]} on this list (it has {len(steps)})")
    return steps[int(number) - 1]
