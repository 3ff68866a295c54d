"""The operator's commands against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from schemas.signing import Signer
from services.common.embedded import EmbeddedPostgres
from services.common.kafka_io import partitions_of
from services.common.topics import load_spec
from services.migrations.models import all_metadata
from tests.factories import order_placed
from tests.integration.conftest import Stack, log_records, values

pytestmark = pytest.mark.integration


def fulfil(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, input=stdin, timeout=120)


def test_topics_apply_creates_every_topic_with_its_dead_letter_twin(kafka_bootstrap: str) -> None:
    env = {"FULFIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "FULFIL_TOPIC_NAMESPACE": "apply-test."}
    first = fulfil(env, "topics", "apply")
    assert first.returncode == 0, first.stderr
    assert "apply-test.shop.orders" in first.stdout and "created (8 partitions, 1 copy, 1 in sync)" in first.stdout
    again = fulfil(env, "topics", "apply")
    assert "created" not in again.stdout and "up to date (8 partitions)" in again.stdout
    from services.common.settings import Settings
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_namespace="apply-test.")
    for name, spec in load_spec().items():
        assert len(asyncio.run(partitions_of(settings, settings.topic(name)))) == spec.partitions, name


def test_db_upgrade_builds_schemas_that_match_the_models(postgres: EmbeddedPostgres) -> None:
    postgres.create_database("upgrade_test")
    env = {"FULFIL_DATABASE_URL": postgres.url("upgrade_test")}
    done = fulfil(env, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert fulfil(env, "db", "upgrade").returncode == 0
    engine = create_engine(postgres.url("upgrade_test"))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_schemas": True, "compare_type": True,
                                                               "include_name": lambda n, t, p: t != "schema" or n in {
                                                                   "orders", "warehouse", "routing", "tracking", "returns"}})
        # alembic compares a list of MetaData at run time (its multiple-metadata support); its annotation says one
        drift = compare_metadata(context, all_metadata())  # type: ignore[arg-type]
    engine.dispose()
    assert drift == [], f"models and migrations disagree: {drift}"


def key_file(where: Path) -> str:
    """A signing key of no registered shop: enough for commands that fail before anything is judged."""
    path = where / "unregistered.pem"
    if not path.exists():
        path.write_bytes(Signer.generate().pem())
    return str(path)


def test_db_upgrade_on_an_unreachable_database_says_so() -> None:
    done = fulfil({"FULFIL_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/none"}, "db", "upgrade")
    assert done.returncode == 2
    assert "database upgrade failed" in done.stderr and "Traceback" not in done.stderr


def test_commands_say_one_line_when_infrastructure_is_away_and_the_traceback_only_with_debug(tmp_path: Path) -> None:
    away = {"FULFIL_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/none",
            "FULFIL_KAFKA_BOOTSTRAP": "127.0.0.1:1", "FULFIL_DB_RETRY_ATTEMPTS": "1"}
    dispatched = fulfil(away, "dispatch", "WH-1")
    assert dispatched.returncode == 2 and dispatched.stdout == ""
    assert dispatched.stderr.count("\n") == 1 and "the database did not answer" in dispatched.stderr
    order = tmp_path / "order.json"
    order.write_text(json.dumps(order_placed("o-away")))
    sent = fulfil(away, "send", "shop.orders", str(order), "--sign", key_file(tmp_path))
    assert sent.returncode == 2 and sent.stderr.count("\n") == 1 and "could not publish" in sent.stderr
    assert "Unclosed" not in sent.stderr and "Traceback" not in sent.stderr + dispatched.stderr
    debugged = fulfil(away, "--debug", "dispatch", "WH-1")
    assert debugged.returncode != 0 and "Traceback" in debugged.stderr


def test_send_validates_everything_before_sending_anything(stack: Stack, tmp_path: Path) -> None:
    good, bad = order_placed("o-ok"), order_placed("o-broken")
    bad["payload"]["currency"] = "euro"
    file = tmp_path / "orders.jsonl"
    file.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    done = fulfil(stack.env, "send", "shop.orders", str(file), "--sign", key_file(tmp_path))
    assert done.returncode == 2
    assert f"{file}:3: invalid order.placed payload: payload.currency" in done.stderr
    assert stack.read("shop.orders", lambda rs: True, timeout_s=3) == []


def test_send_and_tail_round_trip_through_the_orders_worker(stack: Stack, tmp_path: Path) -> None:
    stack.start_worker()
    file = tmp_path / "orders.json"
    file.write_text(json.dumps([order_placed("o-a"), order_placed("o-b")]))
    made = fulfil(stack.env, "signing-key", "add", "acme", "--out", str(tmp_path / "acme.pem"))
    assert made.returncode == 0 and made.stdout.startswith("sk-"), made.stderr
    sent = fulfil(stack.env, "send", "shop.orders", str(file), "--sign", str(tmp_path / "acme.pem"))
    assert sent.returncode == 0, sent.stderr
    assert "sent 2 event(s) to shop.orders" in sent.stderr
    tailed = fulfil(stack.env, "tail", "orders.events", "--from-beginning", "--max", "2", "--timeout", "60")
    assert tailed.returncode == 0, tailed.stderr
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert sorted(line["key"] for line in lines) == ["acme/o-a", "acme/o-b"]
    assert {line["value"]["event_type"] for line in lines} == {"order.accepted"}
    quiet = fulfil(stack.env, "tail", "orders.events", "--timeout", "2")
    assert quiet.returncode == 0 and quiet.stdout == "", "from the end prints only what is written from now on"
    assert datetime.fromisoformat(lines[0]["timestamp"]).utcoffset() == timedelta(0)
    only = fulfil(stack.env, "tail", "orders.events", "--from-beginning", "--key", "acme/o-b", "--type",
                  "order.accepted", "--timeout", "5")
    assert [json.loads(line)["key"] for line in only.stdout.splitlines()] == ["acme/o-b"], only.stderr
    none = fulfil(stack.env, "tail", "orders.events", "--from-beginning", "--type", "order.rejected", "-t", "3")
    assert none.returncode == 0 and none.stdout == ""
    unknown = fulfil(stack.env, "tail", "orders.event", "-t", "1")
    assert unknown.returncode == 2 and "unknown topic 'orders.event'" in unknown.stderr


def test_bad_arguments_get_precise_messages(stack: Stack, tmp_path: Path) -> None:
    unknown = fulfil(stack.env, "send", "shop.order", "-", stdin="{}")
    assert unknown.returncode == 2 and "unknown topic 'shop.order'" in unknown.stderr
    not_json = fulfil(stack.env, "send", "shop.orders", "-", "--sign", key_file(tmp_path), stdin="{oops\n")
    assert not_json.returncode == 2 and "-:1: not JSON" in not_json.stderr
    unsigned = fulfil(stack.env, "send", "shop.returns", "-", stdin="{}")
    assert unsigned.returncode == 2 and "events on shop.returns must be signed" in unsigned.stderr
    (tmp_path / "garbage.pem").write_text("hello")
    garbage = fulfil(stack.env, "send", "shop.orders", "-", "--sign", str(tmp_path / "garbage.pem"), stdin="{}")
    assert garbage.returncode == 2 and "not an unencrypted PEM private key" in garbage.stderr
    bad_env = fulfil({**stack.env, "FULFIL_BATCH_SIZE": "many"}, "tail", "orders.events", "-t", "1")
    assert bad_env.returncode == 2 and "FULFIL_BATCH_SIZE" in bad_env.stderr
    no_service = fulfil(stack.env, "worker", "billing")
    assert no_service.returncode == 2 and "unknown service 'billing'" in no_service.stderr


def test_examples_are_valid_events_and_say_in_one_line_when_there_is_nothing_to_act_on(stack: Stack) -> None:
    from schemas.registry import TOPIC_OF, decode
    from schemas.registry import payload_model as model_of
    standalone = {("order", "A-1"): "shop.orders", ("cancel", "A-1"): "shop.orders",
                  ("stock-received", "WH-1", "SKU-MUG", "3"): "warehouse.scans",
                  ("stock-counted", "WH-1", "SKU-MUG", "0"): "warehouse.scans"}
    for args, topic in standalone.items():
        made = fulfil(stack.env, "example", *args)
        assert made.returncode == 0 and made.stderr == "", made.stderr
        event = decode(topic, made.stdout.strip().encode())  # every required field, at the version read now
        assert TOPIC_OF[model_of(topic, event.envelope.event_type, event.envelope.schema_version)] == topic
    for args in (("picks", "acme", "NOPE"), ("pick-short", "acme", "NOPE"), ("parcel", "acme", "NOPE"),
                 ("carrier-scan", "acme", "NOPE", "delivered"), ("return", "acme", "NOPE"),
                 ("return-received", "acme", "R-NOPE"), ("return-inspected", "acme", "R-NOPE")):
        made = fulfil(stack.env, "example", *args)
        assert made.returncode == 2 and made.stdout == "", (args, made.stdout)
        assert len(made.stderr.strip().splitlines()) == 1 and "NOPE" in made.stderr, (args, made.stderr)
    wrong = fulfil(stack.env, "example", "carrier-scan", "acme", "A-1", "teleported")
    assert wrong.returncode == 2 and "teleported" in wrong.stderr


def test_two_workers_share_the_partitions_and_process_each_order_once(stack: Stack) -> None:
    stack.start_worker()
    stack.start_worker()
    stack.wait_for_assignments("shop.orders", workers=2)
    total = 60
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(total)])
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= total, timeout_s=90, settle_s=3)
    ids = [e["event_id"] for e in values(records)]
    assert len(ids) == len(set(ids)) == total
    logs = [p.read_text() for p in sorted(stack.logs.glob("orders-*.log"))]
    assert all(any(r["processed"] for r in log_records(log, "batch.done")) for log in logs), \
        "one worker did no work: no scale-out"
