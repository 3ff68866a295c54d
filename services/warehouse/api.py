"""The warehouse's HTTP API for staff screens: `GET /warehouses/{id}/picklists`."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
from sqlalchemy.orm import Session, sessionmaker

from services.common.http import harden
from services.common.settings import Settings
from services.warehouse import views


NOT_FOUND = {"detail": "no such warehouse"}


def create_api(sessions: sessionmaker[Session], settings: Settings | None = None) -> FastAPI:
    """Every service's API is built as create_api(sessions, settings), so `fulfil api` can serve any."""
    api = harden(FastAPI(title="Fulfil warehouse", version="1"), {"warehouses": NOT_FOUND})

    @api.get("/warehouses/{warehouse_id}/picklists", response_model=list[views.PicklistView])
    def picklists(warehouse_id: Annotated[str, Path(max_length=64)],
                  status: Annotated[views.Status, Query(description="open (default), done or all")] = "open",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[views.PicklistView]:
        """Pick lists of one warehouse, newest first, lines in walking order with a tote per order."""
        with sessions() as session:
            if not views.warehouse_exists(session, warehouse_id):
                raise HTTPException(404)
            return views.picklists(session, warehouse_id, status, limit)

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api
