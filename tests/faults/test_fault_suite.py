"""The fault suite's short run (the full one is `make faults`): real Apache Kafka and PostgreSQL, two workers
each for orders, warehouse and tracking, kill -9 throughout, PostgreSQL away past any old retry budget, the
broker killed and restarted on its data; nothing lost, doubled, oversold or stranded."""

from __future__ import annotations

import pytest

from tests.faults.suite import Plan, failed, run, table

pytestmark = pytest.mark.integration


@pytest.mark.timeout(900)
def test_faults_lose_nothing_double_nothing_and_strand_nothing() -> None:
    plan = Plan.short()
    figures = run(plan)
    print(table(plan, figures))
    assert not failed(figures), table(plan, figures)
    assert figures["workers killed (-9)"] >= 5, "the faults did not happen: the test proved nothing"
    assert figures["orders accepted"] >= plan.orders * 0.9
