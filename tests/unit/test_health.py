"""What /readyz says, and why."""

from __future__ import annotations

from services.common.health import Health


def test_a_worker_is_ready_once_assigned_with_the_database_up_and_the_outbox_moving() -> None:
    health = Health(outbox_max_age_s=60)
    assert health.verdict().reasons == ["no partitions assigned yet (joining the consumer group)"]
    health.partitions_assigned(0)  # more workers than partitions: idle, but ready
    assert health.verdict().ready


def test_an_outage_a_pause_or_a_stuck_outbox_each_say_not_ready() -> None:
    health = Health(outbox_max_age_s=60)
    health.partitions_assigned(4)
    health.database_down("connection refused")
    health.set_paused(True)
    health.outbox(rows=3, oldest_s=61.0, parked=1)
    verdict = health.verdict()
    assert not verdict.ready and len(verdict.reasons) == 3
    assert verdict.reasons[0].startswith("database unreachable for") and "connection refused" in verdict.reasons[0]
    assert "oldest unsent outbox row is 61 s old" in verdict.reasons[2]
    assert verdict.details["parked"] == 1 and verdict.details["database"] == "down"
    health.database_up()
    health.set_paused(False)
    health.outbox(rows=0, oldest_s=None, parked=1)
    assert health.verdict().ready, "parked records are shown, not a reason to stop serving"
