"""Whether a worker is alive and ready, as `/healthz` and `/readyz` tell an orchestrator.

Ready means: the database answers, the consumer has its partitions, consumption is not paused for an outage,
and the oldest unsent outbox row is younger than a threshold. The processor, the worker and the outbox
sweep report here from their threads; the HTTP server reads it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    ready: bool
    reasons: list[str]
    details: dict[str, object]


class Health:
    def __init__(self, outbox_max_age_s: float) -> None:
        self._lock = threading.Lock()
        self.outbox_max_age_s = outbox_max_age_s
        self.database_error: str | None = None
        self.database_down_since: float | None = None
        self.assigned: int | None = None
        self.paused = False
        self.outbox_rows = 0
        self.outbox_oldest_s: float | None = None
        self.parked = 0

    def database_down(self, error: str) -> None:
        with self._lock:
            self.database_error = error
            if self.database_down_since is None:
                self.database_down_since = time.monotonic()

    def database_up(self) -> None:
        with self._lock:
            self.database_error = None
            self.database_down_since = None

    @property
    def outage(self) -> bool:
        return self.database_error is not None

    def partitions_assigned(self, count: int) -> None:
        with self._lock:
            self.assigned = count

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self.paused = paused

    def outbox(self, rows: int, oldest_s: float | None, parked: int) -> None:
        with self._lock:
            self.outbox_rows, self.outbox_oldest_s, self.parked = rows, oldest_s, parked

    def verdict(self) -> Verdict:
        with self._lock:
            reasons = []
            if self.database_error is not None:
                down = time.monotonic() - (self.database_down_since or time.monotonic())
                reasons.append(f"database unreachable for {down:.0f} s: {self.database_error}")
            if self.assigned is None:
                reasons.append("no partitions assigned yet (joining the consumer group)")
            if self.paused:
                reasons.append("consumption paused until the database is back")
            if self.outbox_oldest_s is not None and self.outbox_oldest_s > self.outbox_max_age_s:
                reasons.append(f"oldest unsent outbox row is {self.outbox_oldest_s:.0f} s old "
                               f"(threshold {self.outbox_max_age_s:.0f} s)")
            details: dict[str, object] = {
                "partitions_assigned": self.assigned, "paused": self.paused, "outbox_rows": self.outbox_rows,
                "outbox_oldest_s": self.outbox_oldest_s, "parked": self.parked,
                "database": "down" if self.database_error else "up",
            }
            return Verdict(not reasons, reasons, details)
