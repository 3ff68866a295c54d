"""Which database errors are worth retrying, and how long to wait between attempts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, TimeoutError

if TYPE_CHECKING:
    from services.common.settings import Settings

RETRYABLE_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01", "57P02", "57P03",  # admin_shutdown, crash_shutdown, cannot_connect_now
    "08000", "08001", "08003", "08004", "08006",  # connection exceptions
})


def is_transient(exc: BaseException) -> bool:
    """True for failures that say nothing about the event itself: the database was away or busy."""
    if isinstance(exc, (DisconnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return True
        return getattr(exc.orig, "pgcode", None) in RETRYABLE_SQLSTATES
    return False


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential back-off: base, 2*base, 4*base, ... never above cap. `attempt` counts from 1, without bound
    (a relay settles through an outage of any length: 2 ** 1100 is past what a float holds)."""
    return float(min(cap, base * 2.0 ** min(attempt - 1, 64)))


T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try through a database outage (FULFIL_DB_RETRY_*); `attempts` None: for as long as it lasts."""

    attempts: int | None = 12
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0

    def forever(self) -> RetryPolicy:
        return RetryPolicy(None, self.base_delay_s, self.max_delay_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.db_retry_attempts, settings.db_retry_base_delay_s, settings.db_retry_max_delay_s)

    def delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self.base_delay_s, self.max_delay_s)


def retry_transient(fn: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `fn`, retrying transient database errors with back-off; re-raises past the budget."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            attempt += 1
            if not is_transient(exc) or (policy.attempts is not None and attempt >= policy.attempts):
                raise
            sleep(policy.delay(attempt))
