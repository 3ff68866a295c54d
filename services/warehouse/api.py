"""The warehouse's HTTP API for staff screens: `GET /warehouses/{id}/picklists`, and the staff pages under /staff
(services/warehouse/staff_pages.py).

Staff-facing: it binds to an internal address (FULFIL_HTTP_HOST), and with FULFIL_WAREHOUSE_STAFF_TOKEN_SHA256 set
every request must also carry the staff token (`Authorization: Bearer <token>`; only its sha256 is configured)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from services.common.http import harden
from services.warehouse import views
from services.warehouse.settings import WarehouseSettings
from services.warehouse.staff_pages import create_staff_pages

NOT_FOUND = {"detail": "no such warehouse"}
BEARER = HTTPBearer(auto_error=False, description="The staff token, when one is configured")


def create_api(sessions: sessionmaker[Session], settings: WarehouseSettings | None = None) -> FastAPI:
    """Every service's API is built as create_api(sessions, settings), so `fulfil api` can serve any."""
    api = harden(FastAPI(title="Fulfil warehouse", version="1"), {"warehouses": NOT_FOUND})
    expected = (settings.warehouse_staff_token_sha256 if settings else "").lower()

    def staff(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if not expected:
            return
        given = hashlib.sha256(credentials.credentials.encode()).hexdigest() if credentials else ""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, detail="pick lists are for warehouse staff: send the staff token as "
                                "'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})

    @api.get("/warehouses/{warehouse_id}/picklists", response_model=list[views.PicklistView],
             dependencies=[Depends(staff)])
    def picklists(warehouse_id: Annotated[str, Path(max_length=64)],
                  status: Annotated[views.Status, Query(description="open (default), done or all")] = "open",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[views.PicklistView]:
        """Pick lists of one warehouse, newest first, lines in walking order with a tote per order."""
        with sessions() as session:
            if not views.warehouse_exists(session, warehouse_id):
                raise HTTPException(404)
            return views.picklists(session, warehouse_id, status, limit)

    api.mount("/staff", create_staff_pages(sessions, settings or WarehouseSettings()))

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api
