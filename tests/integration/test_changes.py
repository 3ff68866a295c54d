"""Long polls wake on change: LISTEN/NOTIFY against real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from services.common.changes import ChangeFeed
from services.common.embedded import EmbeddedPostgres
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def test_a_notify_wakes_only_the_waiters_of_its_key_and_a_lost_connection_wakes_all(postgres: EmbeddedPostgres) -> None:
    name = f"c{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    engine = create_engine(postgres.url(name))
    feed = ChangeFeed(engine, "tracking_changed")

    def listeners() -> set[int]:
        """The backends listening on the feed's channel: a LISTEN is the last thing the feed's connection said."""
        with engine.connect() as connection:
            return {pid for (pid,) in connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()"))}

    async def listening(besides: frozenset[int] = frozenset()) -> set[int]:
        return await asyncio.to_thread(eventually, lambda: listeners() - besides, timeout_s=30, every_s=0.1)

    async def scenario() -> None:
        mine = asyncio.create_task(feed.wait("FL-1", 30))
        other = asyncio.create_task(feed.wait("FL-2", 30))
        first = await listening()
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_notify('tracking_changed', 'FL-1')"))
        assert await mine is True and time.perf_counter() - started < 1.0
        assert not other.done(), "a change of another parcel wakes nobody else"
        with engine.begin() as connection:  # the listening connection dies: everyone must look again
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1' AND pid <> pg_backend_pid()"))
        assert await asyncio.wait_for(other, 10) is True
        again = asyncio.create_task(feed.wait("FL-1", 30))
        await listening(besides=frozenset(first))  # reconnected and listening again
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_notify('tracking_changed', 'FL-1')"))
        assert await asyncio.wait_for(again, 10) is True
        assert await feed.wait("FL-3", 0.3) is False, "no change: the wait times out"

    try:
        asyncio.run(scenario())
    finally:
        feed.stopping.set()
        engine.dispose()
