"""Which database errors are worth retrying, and how long to wait between attempts."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, TimeoutError

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
    """Exponential back-off: base, 2*base, 4*base, ... never above cap. `attempt` counts from 1."""
    return float(min(cap, base * (2 ** (attempt - 1))))
