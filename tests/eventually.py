"""Waiting for something to become true, the one way tests do it: poll, and fail with what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], until: Callable[[T], object] = bool, *, timeout_s: float = 60,
               every_s: float = 0.3, ignoring: tuple[type[Exception], ...] = (),
               context: Callable[[], str] = lambda: "") -> T:
    """The first value of `probe()` that `until` accepts, trying every `every_s` for `timeout_s`; otherwise an
    AssertionError with the last value seen (or the last error `ignoring` let pass) and `context()` (a worker
    log's tail, say)."""
    deadline = time.monotonic() + timeout_s
    last: object = "nothing yet"
    while True:
        try:
            value = probe()
        except ignoring as exc:
            last = exc
        else:
            if until(value):
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not so within {timeout_s:g} s; last seen: {repr(last)[:2000]}\n{context()}")
        time.sleep(every_s)
