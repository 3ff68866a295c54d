"""What each worker tells Prometheus: events handled by outcome, how long a batch takes in its transaction,
dead letters, and how far behind the end of each partition it is. Served on FULFIL_METRICS_PORT (0: off)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


def serve(settings: Settings, service: str) -> None:
    if not settings.metrics_port:
        return
    start_http_server(settings.metrics_port, addr=settings.http_host)
    log.info("metrics.serving", service=service, url=f"http://{settings.http_host}:{settings.metrics_port}/metrics")
