"""The publisher and the scheduler on their own, without a broker or a database: a producer's answers become
per-record outcomes (Faust's wrapped errors read by their cause), records that exist nowhere else are sent until
the broker takes them, a job or a sweep that fails never reaches Faust (it would stop the worker), and the outage
watch says when consumption stands still. And the agent lands on a real Faust app as declared."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from sqlalchemy.exc import OperationalError

from services.common.consuming import Consumer
from services.common.faust_app import create_app
from services.common.handling import Scheduled
from services.common.health import Health
from services.common.messaging import OutboxRecord
from services.common.publishing import Outbox, ProducerPublisher, classify
from services.common.scheduling import Scheduler
from services.common.settings import Settings


def record(n: int, key: str = "k") -> OutboxRecord:
    return OutboxRecord("orders.events", key.encode(), f"v{n}".encode(), uuid.uuid4(), [], None)


class Producer:
    """Answers each send with a future; the n-th attempt of a record may fail."""

    def __init__(self, fail: Callable[[OutboxRecord, int], BaseException | None]) -> None:
        self.fail = fail
        self.attempts: dict[bytes, int] = {}
        self.taken: list[bytes] = []

    async def send(self, r: OutboxRecord) -> asyncio.Future[Any]:
        n = self.attempts[r.value] = self.attempts.get(r.value, 0) + 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        error = self.fail(r, n)
        if error is None:
            self.taken.append(r.value)
            future.set_result(None)
        else:
            future.set_exception(error)
        return future


async def inline(fn: Callable[[], Any]) -> Any:
    return fn()


def test_faust_wrapped_errors_are_judged_by_their_cause() -> None:
    wrapped = ProducerSendError("send failed")
    wrapped.__cause__ = MessageSizeTooLargeError()
    assert classify(wrapped).permanent
    transient = ProducerSendError("send failed")
    transient.__cause__ = KafkaConnectionError()
    assert not classify(transient).permanent
    assert classify(MessageSizeTooLargeError()).permanent and not classify(KafkaConnectionError()).permanent


def test_each_record_gets_its_own_outcome() -> None:
    producer = Producer(lambda r, n: MessageSizeTooLargeError() if r.value == b"v2" else None)
    outcomes = asyncio.run(ProducerPublisher(producer.send).send([record(1), record(2, "other"), record(3)]))
    assert [o is None for o in outcomes] == [True, False, True]
    assert outcomes[1] is not None and outcomes[1].permanent


def test_records_that_exist_nowhere_else_are_sent_until_the_broker_takes_them() -> None:
    producer = Producer(lambda r, n: KafkaConnectionError() if n < 3 else None)
    outbox = Outbox(ProducerPublisher(producer.send), None, None, inline, Settings())  # type: ignore[arg-type]
    report = asyncio.run(outbox.publish([record(1), record(2)]))
    assert producer.taken == [b"v1", b"v2"] and producer.attempts == {b"v1": 3, b"v2": 3}
    assert [r.value for r in report.sent] == [b"v1", b"v2"]


class Processor:
    def __init__(self, job_error: Exception | None = None) -> None:
        self.job_error = job_error
        self.jobs = 0

    def run_job(self, job: Any) -> list[OutboxRecord]:
        self.jobs += 1
        if self.job_error is not None:
            raise self.job_error
        return [record(9)]


class Sweeping:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[list[OutboxRecord]] = []

    async def publish(self, records: list[OutboxRecord]) -> None:
        self.published.append(records)

    async def sweep(self) -> None:
        if self.error is not None:
            raise self.error


def scheduler(processor: Processor, outbox: Sweeping, health: Health) -> Scheduler:
    return Scheduler("test", processor, outbox, health, None, None, inline, inline)  # type: ignore[arg-type]


def test_a_job_that_fails_is_logged_and_the_next_tick_runs_again() -> None:
    processor = Processor(job_error=RuntimeError("a bug"))
    s = scheduler(processor, Sweeping(), Health(60))
    job = Scheduled("close", 1.0, lambda uow, ctx: None)
    asyncio.run(s.tick(job))
    asyncio.run(s.tick(job))
    assert processor.jobs == 2


def test_a_jobs_records_are_published() -> None:
    outbox = Sweeping()
    asyncio.run(scheduler(Processor(), outbox, Health(60)).tick(Scheduled("close", 1.0, lambda uow, ctx: None)))
    assert [[r.value for r in p] for p in outbox.published] == [[b"v9"]]


def test_an_idle_worker_learns_of_an_outage_from_its_sweep_and_the_watch_pauses_then_resumes() -> None:
    health = Health(60)
    s = scheduler(Processor(), Sweeping(OperationalError("SELECT 1", {}, Exception("connection refused"))), health)
    asyncio.run(s.sweep())
    assert health.outage
    asyncio.run(s.watch_outage())
    assert health.paused and not health.verdict().ready
    health.database_up()
    asyncio.run(s.watch_outage())
    assert not health.paused


def test_the_agent_and_the_timers_land_on_a_faust_app() -> None:
    settings = Settings()
    app = create_app("orders", settings)
    processor: Any = type("P", (), {"handlers": {"shop.orders": {}, "warehouse.events": {}}})()
    consumer = Consumer("orders", settings, processor, Sweeping().publish, Health(60), inline, inline,
                        lambda tp: None, set)
    consumer.attach(app)
    agents = list(app.agents.values())
    assert [a.name for a in agents] == ["orders.consume"]
    assert sorted(agents[0].channel.topics) == ["shop.orders", "warehouse.events"]
    assert app.positions == consumer.positions
    assert app.conf.broker_max_poll_records == settings.batch_size
    assert app.conf.stream_buffer_maxsize == 2 * settings.batch_size
