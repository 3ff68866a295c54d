"""Wake long polls on change, not on a timer: PostgreSQL LISTEN/NOTIFY.

A handler calls `notify(session, channel, key)` in the transaction that changes what a key's readers see; the
notification is delivered at commit, and never for a transaction that rolls back. An API process keeps one
listening connection (`ChangeFeed`, in a thread of its own) and wakes only the requests waiting for that key, so
a thousand idle long polls cost nothing but their sockets. When the listening connection is lost, every waiter is
woken to look again (a notification may have been missed), and it reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import select
import threading
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from services.common.logging import get_logger
from services.common.retry import backoff_delay

log = get_logger(__name__)


def notify(session: Session, channel: str, key: str) -> None:
    session.execute(sql_select(func.pg_notify(channel, key)))


class ChangeFeed:
    def __init__(self, engine: Engine, channel: str) -> None:
        self.engine, self.channel = engine, channel
        self.waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.stopping = threading.Event()

    async def wait(self, key: str, timeout_s: float) -> bool:
        """Until `key` changes (True) or `timeout_s` passes (False). A True may be spurious: look again."""
        if self._start():  # the first waiter lets the listener connect, off the event loop
            await asyncio.to_thread(self.started.wait, min(timeout_s, 10))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(key, set()).add(future)
        try:
            await asyncio.wait_for(future, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self.waiters.get(key)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    self.waiters.pop(key, None)

    def _start(self) -> bool:
        """True when this call started the listener."""
        if self.loop is not None:
            return False
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._listen, name=f"listen-{self.channel}", daemon=True).start()
        return True

    def _wake(self, key: str | None) -> None:
        """On the event loop: wake the waiters of `key`, or every waiter (None)."""
        keys = list(self.waiters) if key is None else [key]
        for k in keys:
            for future in self.waiters.get(k, ()):
                if not future.done():
                    future.set_result(None)

    def _listen(self) -> None:
        attempt = 0
        while not self.stopping.is_set():
            try:
                self._listen_once()
                attempt = 0
            except Exception as exc:
                attempt += 1
                log.warning("changes.listen_lost", channel=self.channel, error=str(exc).splitlines()[0][:200])
            self.started.set()
            self._call(None)  # a notification may have been missed: everyone looks again
            self.stopping.wait(backoff_delay(max(attempt, 1), 0.2, 5.0))

    def _listen_once(self) -> None:
        raw = self.engine.raw_connection()
        connection: Any = raw.driver_connection  # taken before detaching, which forgets it
        raw.detach()  # this connection listens for as long as the process lives: not the pool's
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'LISTEN "{self.channel}"')
            self.started.set()
            while not self.stopping.is_set():
                if select.select([connection], [], [], 5.0) == ([], [], []):
                    with connection.cursor() as cursor:  # quiet for a while: make sure the line is still up
                        cursor.execute("SELECT 1")
                    continue
                connection.poll()
                while connection.notifies:
                    self._call(connection.notifies.pop(0).payload)
        finally:
            connection.close()

    def _call(self, key: str | None) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake, key)
