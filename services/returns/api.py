"""The returns HTTP API: `GET /returns/{rma}` for customers and their shop's support staff. Unknown and
malformed RMAs get the same 404; each client is rate limited like the tracking API."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from services.common.http import harden
from services.common.rate_limit import RateLimiter
from services.returns import views
from services.returns.settings import ReturnsSettings

WELL_FORMED = re.compile(r"RMA-[0-9A-Z]{8,32}")


def create_api(sessions: sessionmaker[Session], settings: ReturnsSettings) -> FastAPI:
    api = harden(FastAPI(title="Fulfil returns", version="1"), {"returns": {"detail": "no return has this RMA"}})
    limiter = RateLimiter(settings.returns_rate_per_s, settings.returns_rate_burst)

    async def limit(request: Request) -> None:
        wait = limiter.allow(request.client.host if request.client else "unknown")
        if wait:
            raise HTTPException(429, detail="too many requests", headers={"Retry-After": str(max(1, round(wait)))})

    @api.get("/returns/{rma}", response_model=views.ReturnView, dependencies=[Depends(limit)],
             responses={404: {"description": "No return has this RMA"}, 429: {"description": "Slow down"}})
    def show(rma: Annotated[str, Path(max_length=64, description="The RMA from return.authorised")]
             ) -> views.ReturnView:
        """A return's state line by line, and its refund with the breakdown."""
        found = None
        if WELL_FORMED.fullmatch(rma):
            with sessions() as session:
                found = views.show(session, rma)
        if found is None or found.rma != rma:  # return ids are not for the public: only RMAs answer here
            raise HTTPException(404, detail="no return has this RMA")
        return found

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api
