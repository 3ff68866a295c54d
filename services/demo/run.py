"""Running the demo: the embedded stack exactly as `fulfil up` starts it (in a child process, with the
generated world loaded), the simulator against it with progress bars, then the KPIs, the conservation checks
and the report, read from the services' own tables before the stack stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.catalog import NAMES, consumers
from services.cli.signing import enrol
from services.common.embedded import free_port
from services.common.settings import Settings
from services.common.status import wait_drained
from services.demo.report import funnel_of, latency_of, out_of_order, render
from services.demo.simulator import DEMO_SHOP, STAGES, Outcome, Simulation
from services.demo.world import generate
from services.kpis import compute
from services.routing.settings import RoutingSettings

EVERY_ORDER_ENDS = "every accepted order is delivered, backordered, cancelled or failed with a reason"
CONSERVATION = {
    EVERY_ORDER_ENDS: """
        SELECT o.shop_id || '/' || o.order_id FROM orders.orders o WHERE o.status NOT IN ('rejected', 'cancelled')
        AND NOT EXISTS (SELECT 1 FROM warehouse.backorders b WHERE (b.shop_id, b.order_id) = (o.shop_id, o.order_id))
        AND (NOT EXISTS (SELECT 1 FROM warehouse.shipments s WHERE (s.shop_id, s.order_id) = (o.shop_id, o.order_id)
                         AND s.status <> 'cancelled')
             OR EXISTS (SELECT 1 FROM warehouse.shipments s LEFT JOIN tracking.shipments t USING (shipment_id)
                        WHERE (s.shop_id, s.order_id) = (o.shop_id, o.order_id) AND s.status <> 'cancelled'
                        AND NOT (coalesce(t.status, '') = 'delivered'
                                 OR (t.status IN ('delivery_failed', 'returned_to_sender') AND t.reason IS NOT NULL))))""",
    "every unit of stock is accounted for (on hand = its ledger, reserved within on hand)": """
        SELECT s.warehouse_id, s.sku FROM warehouse.stock s
        LEFT JOIN warehouse.stock_ledger l USING (warehouse_id, sku)
        GROUP BY s.warehouse_id, s.sku, s.on_hand, s.reserved
        HAVING s.on_hand <> coalesce(sum(l.delta), 0) OR s.reserved > s.on_hand OR s.reserved < 0""",
    "refunds never exceed payments": """
        SELECT f.shop_id || '/' || f.order_id FROM returns.refunds f JOIN returns.orders o USING (shop_id, order_id)
        GROUP BY f.shop_id, f.order_id, o.lines, o.discount, o.shipping
        HAVING sum(f.amount_cents) > round(100 * ((SELECT sum((x->>'quantity')::int * (x->>'unit_price')::numeric)
                                                   FROM jsonb_array_elements(o.lines) x) - o.discount + o.shipping))""",
}


class Stack:
    """`fulfil up` in a child process, until stop()."""

    def __init__(self, data: Path, layout: Path, fleet: Path) -> None:
        self.data = data
        self.kafka_port, self.pg_port, self.metrics_port = free_port(), free_port(), free_port()
        env = {**os.environ, "FULFIL_DATA_DIR": str(data), "FULFIL_WAREHOUSE_WAVE_INTERVAL_S": "2",
               "FULFIL_WAREHOUSE_WAVE_MAX_ORDERS": "25", "FULFIL_ROUTING_TIME_LIMIT_S": "3",
               # the demo plays tomorrow's deliveries (and returns two days after them) now: its drivers' scans
               # are dated ahead of the clock, on purpose
               "FULFIL_MAX_CLOCK_SKEW_S": str(4 * 24 * 3600),
               "FULFIL_LOG_FORMAT": "json", "FULFIL_OUTBOX_SWEEP_GRACE_S": "2"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--kafka-port", str(self.kafka_port), "--pg-port",
             str(self.pg_port), "--http-port", "0", "--metrics-port", str(self.metrics_port), "--layout", str(layout),
             "--fleet", str(fleet)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout_s: float) -> RoutingSettings:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text_so_far = "".join(self.lines)
            if "fulfil send" in text_so_far:
                exports = dict(line.strip().removeprefix("export ").split("=", 1)
                               for line in (self.data / "env").read_text().splitlines() if line.startswith("export "))
                self._wait_workers_ready(deadline)
                return RoutingSettings(database_url=exports["FULFIL_DATABASE_URL"],
                                       kafka_bootstrap=exports["FULFIL_KAFKA_BOOTSTRAP"])
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the embedded stack did not come up:\n" + "".join(self.lines[-30:]))

    def _wait_workers_ready(self, deadline: float) -> None:
        """Until every worker's /readyz says it holds its partitions, so the first orders' latency is the
        system's, not that of consumers still joining their groups."""
        import urllib.request
        ports = [self.metrics_port + n for n in range(len(NAMES))]
        while ports and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        ports.pop(0)
                        continue
            except OSError:
                pass
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()


def unfinished(settings: Settings) -> list[str]:
    """Accepted orders that have not reached an end yet (the first conservation check, asked while running)."""
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return [str(row[0]) for row in connection.execute(text(CONSERVATION[EVERY_ORDER_ENDS]))]
    finally:
        engine.dispose()


def delivered(settings: Settings) -> int:
    """Shipments tracking holds as delivered."""
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM tracking.shipments WHERE status = 'delivered'")).scalar_one())
    finally:
        engine.dispose()


def sample_picklist(session: Session) -> str:
    """The longest pick list of the run, as `fulfil picklists` prints it."""
    from services.warehouse import views
    from services.warehouse.printing import picklist_table
    warehouses = session.execute(text("SELECT warehouse_id FROM warehouse.warehouses ORDER BY warehouse_id")).scalars()
    lists = [v for w in warehouses.all() for v in views.picklists(session, w, "all", 20)]
    return picklist_table(max(lists, key=lambda v: (len(v.lines), v.picklist_id))) if lists else "(no pick list)"


def figures(settings: Settings, outcome: Outcome) -> tuple[list[tuple[str, str, str]], dict[str, list[str]],
                                                          dict[str, tuple[float, float]], dict[str, Any]]:
    """The KPI table, the conservation checks (name -> the ids that break it), shipment positions, the summary."""
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            kpis = compute(lambda service: connection)  # the demo's services share one database
            checks = {name: [" ".join(str(v) for v in row) for row in connection.execute(text(sql))]
                      for name, sql in CONSERVATION.items()}
            where = {row[0]: (row[1], row[2]) for row in connection.execute(text(
                "SELECT shipment_id, latitude, longitude FROM routing.shipments WHERE latitude IS NOT NULL"))}
            picklist = sample_picklist(Session(bind=connection))
    finally:
        engine.dispose()
    table = [(k.name, k.shown(), k.how) for k in kpis]
    summary = {k.key: k.value for k in kpis} | {"dead_letters_on_the_wire": outcome.dead_letters,
                                                "orders_placed": outcome.placed,
                                                 "stages": dict(outcome.counts),
                                                 "conservation": {name: not ids for name, ids in checks.items()},
                                                 "conservation_failures": {n: ids for n, ids in checks.items() if ids},
                                                "funnel": funnel_of(outcome), "latency_s": latency_of(outcome),
                                                "orders_stamped_out_of_stage_order": out_of_order(outcome),
                                                "sample_picklist": picklist}
    return table, checks, where, summary


def run_demo(orders: int, seed: int, report: Path, timeout_s: float, say: Callable[[str], None]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    world = generate(seed)
    with tempfile.TemporaryDirectory(prefix="fulfil-demo-") as tmp:
        data = Path(tmp)
        (data / "layout.json").write_text(json.dumps(world.layout()))
        (data / "fleet.json").write_text(json.dumps(world.fleet()))
        say(f"Starting the embedded stack (PostgreSQL, Tansu, one worker per service) in {data} ...")
        stack = Stack(data / "stack", data / "layout.json", data / "fleet.json")
        try:
            settings = stack.wait_ready(240)
            say(f"Up. Simulating {orders} orders (seed {seed}) through Kafka ...")
            with Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[note]}")) as bars:
                # Orders, as the report's funnel counts them: each bar out of the orders that reached the stage
                # before it, so a bar that ends short says how many went no further (cancelled, failed, not returned).
                tasks = {stage: bars.add_task(stage, total=orders, note="") for stage in STAGES}

                def progress(o: Outcome) -> None:
                    before = o.placed
                    for stage in STAGES:
                        reached = len(o.reached.get(stage, {}))
                        first = stage == STAGES[0]
                        note = (f"orders, of {before} {'placed' if first else 'at the stage before'}"
                                + (f"; {o.dead_letters} message(s) dead-lettered" if first else ""))
                        bars.update(tasks[stage], completed=reached, total=max(before, reached, 1), note=note)
                        before = reached

                readers = consumers()
                simulation = Simulation(settings, world, orders, seed, progress, consumers=readers,
                                        unfinished=lambda: unfinished(settings), delivered=lambda: delivered(settings),
                                        signer=enrol(settings, DEMO_SHOP))
                outcome = asyncio.run(simulation.run(timeout_s))
            drained, _ = wait_drained(settings, readers, 120)  # the last scans settle in tracking and returns
            if not drained:
                say("The system had not drained two minutes after the simulation ended; figures as they stand.")
            table, checks, where, summary = figures(settings, outcome)
        finally:
            stack.stop()
    passed = {name: not ids for name, ids in checks.items()}
    report.write_text(render(world, where, table, outcome, passed, f"Fulfil demo: {orders} orders, seed {seed}",
                             summary["sample_picklist"]))
    report.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str))
    say("")
    for name, value, how in table:
        say(f"  {name:22} {value:>12}   {how}")
    for name, ids in checks.items():
        say(f"  {'FAIL' if ids else 'ok  '} {name}")
        if ids:
            say(f"       {len(ids)} break it: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}")
    say(f"\nReport: {report.resolve()}  (figures: {report.with_suffix('.json').name})")
    return 1 if any(checks.values()) else 0
