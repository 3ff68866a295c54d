"""What each worker tells Prometheus and an orchestrator: events handled by outcome, how long a batch takes in its
transaction, dead letters, how far behind the end of each partition it is, the outbox backlog and what is
parked; `/healthz` (alive) and `/readyz` (see health.py) beside `/metrics` on FULFIL_METRICS_PORT (0: off)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from services.common.health import Health
from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger(__name__)

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


def serve(settings: Settings, service: str, health: Health) -> None:
    if not settings.metrics_port:
        return

    class Endpoints(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            path = self.path.split("?")[0]
            if path == "/metrics":
                READY.labels(service).set(1 if health.verdict().ready else 0)
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._answer(200, b'{"alive": true}\n', "application/json")
            elif path == "/readyz":
                verdict = health.verdict()
                body = {"service": service, "ready": verdict.ready, "reasons": verdict.reasons, **verdict.details}
                self._answer(200 if verdict.ready else 503, json.dumps(body).encode() + b"\n", "application/json")
            else:
                self._answer(404, b'{"error": "not found: /metrics, /healthz and /readyz are served here"}\n',
                             "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the standard library's name)
            pass

    server = ThreadingHTTPServer((settings.http_host, settings.metrics_port), Endpoints)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    base = f"http://{settings.http_host}:{settings.metrics_port}"
    log.info("metrics.serving", service=service, url=f"{base}/metrics", ready=f"{base}/readyz")
