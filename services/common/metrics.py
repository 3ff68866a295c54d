"""What each worker tells Prometheus and an orchestrator: events handled by outcome, how long a batch takes in its
transaction, dead letters, how far behind the end of each partition it is, the outbox backlog and what is
parked; `/healthz` (alive) and `/readyz` (see health.py) beside `/metrics` on FULFIL_METRICS_PORT (0: off)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.health import Health

EVENTS = Counter("fulfil_events_total", "Events a worker handled, by outcome: processed, duplicate (already in "
                 "the inbox), ignored (a type this service does not handle) or dead (dead-lettered)",
                 ["service", "topic", "outcome"])
BATCH_SECONDS = Histogram("fulfil_batch_seconds", "Time to handle one batch, in its database transaction",
                          ["service", "topic"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
DEAD_LETTERS = Counter("fulfil_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic"])
LAG = Gauge("fulfil_consumer_lag", "Messages between the last one handled and the end of the partition",
            ["service", "topic", "partition"])
OUTBOX_ROWS = Gauge("fulfil_outbox_rows", "Outbox rows still to publish", ["service"])
OUTBOX_OLDEST = Gauge("fulfil_outbox_oldest_seconds", "Age of the oldest outbox row still to publish (0: none)",
                      ["service"])
PARKED = Gauge("fulfil_outbox_parked", "Records that can never be published, parked with their reason", ["service"])
READY = Gauge("fulfil_ready", "1 when the worker is ready (see /readyz), else 0", ["service"])
JOB_SECONDS = Histogram("fulfil_job_seconds", "Time a timer's job took (pick waves, dispatch waves)",
                        ["service", "job"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60))


def record_batch(service: str, topic: str, seconds: float, processed: int, duplicates: int, ignored: int,
                 dead: int) -> None:
    BATCH_SECONDS.labels(service, topic).observe(seconds)
    for outcome, count in (("processed", processed), ("duplicate", duplicates), ("ignored", ignored),
                           ("dead", dead)):
        if count:
            EVENTS.labels(service, topic, outcome).inc(count)
    if dead:
        DEAD_LETTERS.labels(service, topic).inc(dead)


def record_backlog(service: str, rows: int, oldest_s: float | None, parked: int) -> None:
    OUTBOX_ROWS.labels(service).set(rows)
    OUTBOX_OLDEST.labels(service).set(oldest_s or 0)
    PARKED.labels(service).set(parked)


def endpoints(service: str, health: Health) -> FastAPI:
    """/metrics (prometheus_client's exposition), /healthz and /readyz; the worker serves them through Faust's web
    server hook on its own loop (services/common/worker.py)."""
    web = FastAPI(title=f"fulfil-{service} worker", openapi_url=None, docs_url=None, redoc_url=None)

    @web.get("/metrics")
    def exposition() -> Response:
        READY.labels(service).set(1 if health.verdict().ready else 0)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @web.get("/healthz")
    def alive() -> dict[str, bool]:
        return {"alive": True}

    @web.get("/readyz")
    def ready() -> JSONResponse:
        verdict = health.verdict()
        body = {"service": service, "ready": verdict.ready, "reasons": verdict.reasons, **verdict.details}
        return JSONResponse(body, status_code=200 if verdict.ready else 503)

    @web.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": "not found: /metrics, /healthz and /readyz are served here"},
                            status_code=exc.status_code)

    return web
