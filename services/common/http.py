"""A service's HTTP API (FastAPI) served by uvicorn in a thread of the worker process, with its own event
loop: slow requests never hold up the stream processor, and the worker keeps its signal handling.

Every API is hardened the same way (`harden`): a malformed id in a path is answered like an unknown one (404,
never a 500 from the database nor a 422 that echoes it), other invalid input gets a 422 that names the field
without echoing the value, an unexpected error is a 500 logged with its stack, and forwarded headers are trusted
only from the proxies named in FULFIL_HTTP_TRUSTED_PROXIES, so the rate limit keys on the real client.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.http_limits import KEEP_ALIVE_S, LimitedProtocol
from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger(__name__)


def serve_in_thread(api: FastAPI, settings: Settings, service: str) -> threading.Thread | None:
    """Start serving when FULFIL_HTTP_PORT is set; returns the thread (None when HTTP is off)."""
    if settings.http_port == 0:
        return None
    config = uvicorn.Config(api, host=settings.http_host, port=settings.http_port, lifespan="off",
                            **server_options(settings))
    server = uvicorn.Server(config)

    def run() -> None:
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; say so in our log rather than die silently
            log.error("http.failed", service=service, host=settings.http_host, port=settings.http_port)

    thread = threading.Thread(target=run, name=f"{service}-http", daemon=True)
    thread.start()
    log.info("http.serving", service=service, url=f"http://{settings.http_host}:{settings.http_port}")
    return thread


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn as every API runs it: the limits of http_limits.py, at most FULFIL_HTTP_MAX_CONNECTIONS at once
    (beyond, a request is answered 503), our logging, and the proxies we believe."""
    return {"http": LimitedProtocol, "timeout_keep_alive": KEEP_ALIVE_S,
            "limit_concurrency": settings.http_max_connections, "log_config": None, "access_log": False,
            **proxy_options(settings)}


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 unless told otherwise: a local client could then rotate its
    address at will. Only the proxies named in the setting are believed (none by default)."""
    trusted = settings.http_trusted_proxies.strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or ""}


def _control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def harden(api: FastAPI, not_found: Mapping[str, dict[str, str]]) -> FastAPI:
    """`not_found`: the body each route gives a well-formed unknown id, by the route's first path segment
    ("track" for /track/...); every malformed id under that route gets the same."""
    default = {"detail": "not found"}

    def missing(request: Request) -> JSONResponse:
        first = request.url.path.strip("/").split("/", 1)[0]
        return JSONResponse(not_found.get(first, default), status_code=404)

    @api.middleware("http")
    async def refuse_control_characters(request: Request, call_next: Any) -> Any:
        # a NUL in an id reaches PostgreSQL as an error (a 500); no id of ours holds a control character
        query = unquote_plus(request.scope.get("query_string", b"").decode("latin-1"))
        if _control_characters(request.scope["path"]) or _control_characters(query):
            return missing(request)
        return await call_next(request)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):
            return missing(request)
        # FastAPI's published shape (loc, msg, type) without the input it would echo
        return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e["msg"], "type": e["type"]}
                                        for e in errors]}, status_code=422)

    @api.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.failed", method=request.method, path=request.url.path[:200])
        return JSONResponse({"detail": "internal error; it is logged"}, status_code=500)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return missing(request)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return api
