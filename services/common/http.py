"""A service's HTTP API (FastAPI) served by uvicorn in a thread of the worker process, with its own event
loop: slow requests never hold up the stream processor, and Faust keeps its signal handling."""

from __future__ import annotations

import threading

import uvicorn
from fastapi import FastAPI

from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger(__name__)


def serve_in_thread(api: FastAPI, settings: Settings, service: str) -> threading.Thread | None:
    """Start serving when FULFIL_HTTP_PORT is set; returns the thread (None when HTTP is off)."""
    if settings.http_port == 0:
        return None
    config = uvicorn.Config(api, host=settings.http_host, port=settings.http_port, log_config=None,
                            access_log=False, lifespan="off")
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
