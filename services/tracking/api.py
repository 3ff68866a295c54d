"""The customer's `GET /track/{tracking_number}` and the shop's `GET /orders/{order_id}`.

Polling-friendly: every answer has an ETag (the shipment's version) and Cache-Control; a client that sends
If-None-Match gets 304, and with `?wait=N` the request is held until the status changes or N seconds pass.
Unknown and malformed tracking numbers get the same 404, so numbers cannot be probed; each client is rate
limited (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import hmac
import re
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from services.common import access_keys
from services.common.changes import ChangeFeed
from services.common.http import harden
from services.common.rate_limit import RateLimiter
from services.tracking import tables, views
from services.tracking.settings import TrackingSettings
from services.tracking.store import CHANGES

WELL_FORMED = re.compile(r"[A-Z0-9]{8,64}")
NOT_FOUND = {"detail": "no shipment has this tracking number"}
NO_ORDER = {"detail": "your shop has no order with this id"}
FINAL_MAX_AGE_S = 3600
LONGEST_WAIT_S = 300
BEARER = HTTPBearer(auto_error=False, description="The shop's API key")  # module level: annotations resolve here


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _caching(version: int, final: bool, settings: TrackingSettings) -> dict[str, str]:
    max_age = FINAL_MAX_AGE_S if final else settings.tracking_cache_max_age_s
    return {"ETag": f'"{version}"', "Cache-Control": f"public, max-age={max_age}"}


def shop_of(key: str, keys: dict[str, str]) -> str | None:
    """The shop whose key this is; keys are kept as sha256 hex, compared in constant time."""
    digest = access_keys.digest(key)
    found = None
    for shop, expected in keys.items():
        if hmac.compare_digest(digest, expected.lower()):
            found = shop
    return found


def create_api(sessions: sessionmaker[Session], settings: TrackingSettings) -> FastAPI:
    api = harden(FastAPI(title="Fulfil tracking", version="1",
                         description="Shipment status for customers (no personal data) and order views for shops."),
                 {"track": NOT_FOUND, "orders": NO_ORDER})
    limiter = RateLimiter(settings.tracking_rate_per_s, settings.tracking_rate_burst)

    feed: list[ChangeFeed] = []

    def changes() -> ChangeFeed:
        """One listening connection per API process, opened by the first long poll."""
        if not feed:
            feed.append(ChangeFeed(sessions.kw["bind"], CHANGES))
        return feed[0]

    def read(fn: Any, *args: Any) -> Any:
        with sessions() as session:
            return fn(session, *args)

    async def limit(request: Request) -> None:  # async: no thread hop for a few microseconds of work
        client = request.client.host if request.client else "unknown"
        wait = limiter.allow(client)
        if wait:
            raise HTTPException(429, detail="too many requests; slow down",
                                headers={"Retry-After": str(max(1, round(wait)))})

    @api.get("/track/{tracking_number}", response_model=views.Tracking, dependencies=[Depends(limit)],
             responses={304: {"description": "Not modified (If-None-Match matched)"},
                        404: {"description": "Unknown tracking number"},
                        429: {"description": "Rate limited; see Retry-After"}})
    async def track(request: Request,
                    tracking_number: Annotated[str, Path(max_length=128)],
                    wait: Annotated[int, Query(ge=0, le=LONGEST_WAIT_S,
                                               description="With If-None-Match: hold the answer up to this many "
                                                           "seconds (at most FULFIL_TRACKING_LONG_POLL_MAX_S) "
                                                           "until the status changes")] = 0) -> Response:
        """Status, ETA window and checkpoints of one parcel."""
        wait = min(wait, settings.tracking_long_poll_max_s)
        number = tracking_number.strip().upper()
        if not WELL_FORMED.fullmatch(number):
            return JSONResponse(NOT_FOUND, status_code=404)
        asked = request.headers.get("if-none-match")
        if asked:  # the cheap path: the client may have the current answer already
            current = await run_in_threadpool(read, views.version, number)
            if current is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            deadline = asyncio.get_running_loop().time() + wait
            while _matches(asked, f'"{current.version}"') and (left := deadline - asyncio.get_running_loop().time()) > 0:
                if await changes().wait(number, left):  # woken by the handler's NOTIFY: look again
                    current = await run_in_threadpool(read, views.version, number)
            if _matches(asked, f'"{current.version}"'):
                return Response(status_code=304, headers=_caching(current.version, current.final, settings))
        found = await run_in_threadpool(read, views.tracking, number)
        if found is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        view, version = found
        return JSONResponse(view.model_dump(mode="json"), headers=_caching(version, view.final, settings))

    @api.get("/orders/{order_id}", response_model=views.OrderView, dependencies=[Depends(limit)],
             responses={401: {"description": "Missing or unknown API key"},
                        404: {"description": "No such order for this shop"},
                        429: {"description": "Rate limited; see Retry-After"}})
    def order(order_id: Annotated[str, Path(max_length=128)],
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> Any:
        """One of the shop's orders with its shipments. A shop sees only its own orders."""
        shop = None
        if credentials:
            shop = shop_of(credentials.credentials, settings.tracking_shop_keys)
            if shop is None and (owner := read(tables.shop_keys.owner_of, credentials.credentials)) is not None:
                shop = owner[1]
        if shop is None:
            raise HTTPException(401, detail="send your shop's API key as 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        found = read(views.order, shop, order_id)
        if found is None:
            raise HTTPException(404, detail=NO_ORDER["detail"])
        return found

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api
