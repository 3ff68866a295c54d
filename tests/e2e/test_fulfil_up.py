"""The README's first command: `fulfil up` on a bare machine (embedded PostgreSQL + Tansu)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from services.common.embedded import free_port, free_ports, wait_for_port
from tests.eventually import eventually
from tests.factories import order_placed

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_fulfil_up_runs_the_embedded_default_and_stops_cleanly(tmp_path: Path) -> None:
    kafka_port, pg_port, http_port = free_ports(2), free_port(), free_ports(3)  # Tansu; three APIs count up
    env = {**os.environ, "FULFIL_LOG_FORMAT": "json", "FULFIL_WAREHOUSE_WAVE_INTERVAL_S": "1"}
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--kafka-port", str(kafka_port),
                           "--pg-port", str(pg_port), "--http-port", str(http_port), "--data-dir", str(tmp_path / "data"),
                           "--layout", str(ROOT / "deploy/sample/warehouses.yaml"),
                           "--fleet", str(ROOT / "deploy/sample/fleet.yaml")],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = Output(up)
        banner = output.wait_for("fulfil send", timeout_s=120)
        env_file = tmp_path / "data" / "env"
        assert f"source {env_file}" in banner
        assert re.search(r"Layout .*warehouses.yaml: 3 warehouse\(s\), \d+ bin\(s\), \d+ SKU location\(s\), \d+ unit",
                         banner), banner
        assert re.search(r"Fleet .*fleet.yaml: 3 depot\(s\), \d+ vehicle\(s\) \(WH-BER-N \d+", banner), banner
        exports = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
        password = (tmp_path / "data" / "postgres.password").read_text().strip()
        assert exports == {"FULFIL_DATABASE_URL": f"postgresql+psycopg2://postgres:{password}@127.0.0.1:{pg_port}/fulfil",
                           "FULFIL_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}"}
        assert password not in banner, "the password is handed over in the owner-only env file, never printed"
        for private in (env_file, tmp_path / "data" / "postgres.password", *(tmp_path / "data" / "logs").glob("*.log")):
            assert private.stat().st_mode & 0o077 == 0, f"{private} is readable by others"
        assert (tmp_path / "data").stat().st_mode & 0o066 == 0, "others may at most pass through to the database"
        assert "orders-1" in banner and "Tansu" in banner
        assert "warehouse-1" in banner and f"http://127.0.0.1:{http_port}" in banner

        client = {**os.environ, **exports}
        orders = tmp_path / "orders.jsonl"
        mugs = [{"line_id": "1", "sku": "SKU-MUG", "quantity": 2, "unit_price": "9.99"}]
        orders.write_text("\n".join(json.dumps(order_placed(f"e2e-{i}", lines=mugs)) for i in range(3)))
        key = tmp_path / "acme.pem"
        enrolled = subprocess.run([sys.executable, "-m", "services.cli", "signing-key", "add", "acme", "--out",
                                   str(key)], env=client, capture_output=True, text=True, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        sent = subprocess.run([sys.executable, "-m", "services.cli", "send", "shop.orders", str(orders), "--sign",
                               str(key)], env=client, capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        tailed = subprocess.run([sys.executable, "-m", "services.cli", "tail", "orders.events", "--from-beginning",
                                 "-n", "3", "-t", "90"], env=client, capture_output=True, text=True, timeout=120)
        events = [json.loads(line)["value"] for line in tailed.stdout.splitlines()]
        assert sorted((e["event_type"], e["payload"]["order_id"]) for e in events) == [
            ("order.accepted", f"e2e-{i}") for i in range(3)], tailed.stderr

        # The nearest warehouse with mugs (Berlin North, for a customer in Gent) reserves them, and a wave
        # becomes a pick list that staff can fetch over HTTP and print.
        picklists: list[dict[str, object]] = eventually(
            lambda: httpx.get(f"http://127.0.0.1:{http_port}/warehouses/WH-BER-N/picklists", timeout=5).json(),
            timeout_s=90, every_s=1, ignoring=(httpx.TransportError,),
            context=lambda: output.rest(0) if up.poll() is not None else
            (tmp_path / "data/logs/warehouse-1.log").read_text()[-3000:])
        assert sorted(o["order_id"] for p in picklists for o in p["orders"]) == [  # type: ignore[attr-defined]
            f"e2e-{i}" for i in range(3)]
        printed = subprocess.run([sys.executable, "-m", "services.cli", "picklists", "WH-BER-N"], env=client,
                                 capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0 and "SKU-MUG" in printed.stdout, printed.stderr
        assert printed.stderr == "" and sent.stderr.strip().startswith("sent "), "commands print no log lines"
        for log in (tmp_path / "data" / "logs").glob("*.log"):
            assert "\x1b" not in log.read_text(errors="replace"), f"{log.name} holds terminal escapes"
        assert_in_no_command_line(password)

        # The API is a process apart from the stream worker: with the warehouse's API frozen, events still flow.
        api = re.search(r"warehouse-api\s+api\s+pid (\d+)", banner)
        worker = re.search(r"warehouse-1\s+worker\s+pid (\d+)", banner)
        assert api and worker and api.group(1) != worker.group(1), banner
        os.kill(int(api.group(1)), signal.SIGSTOP)
        try:
            orders.write_text(json.dumps(order_placed("e2e-frozen-api", lines=mugs)))
            sent = subprocess.run([sys.executable, "-m", "services.cli", "send", "shop.orders", str(orders),
                                   "--sign", str(key)], env=client, capture_output=True, text=True, timeout=60)
            assert sent.returncode == 0, sent.stderr
            tailed = subprocess.run([sys.executable, "-m", "services.cli", "tail", "warehouse.events",
                                     "--from-beginning", "--type", "stock.reserved", "-n", "4", "-t", "60"],
                                    env=client, capture_output=True, text=True, timeout=90)
            reserved = [json.loads(line)["value"]["payload"]["order_id"] for line in tailed.stdout.splitlines()]
            assert "e2e-frozen-api" in reserved, tailed.stderr
        finally:
            os.kill(int(api.group(1)), signal.SIGCONT)
    finally:
        up.send_signal(signal.SIGINT)
        rest = output.rest(60)
    assert up.returncode == 0, rest
    assert "Stopped." in rest
    for port in (kafka_port, pg_port):
        with pytest.raises(TimeoutError):
            wait_for_port(port, 0.5)

    # Again, on the same data directory (as root, PostgreSQL runs as a user of its own that must get through it)
    again = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--kafka-port", str(kafka_port),
                              "--pg-port", str(pg_port), "--http-port", "0", "--data-dir", str(tmp_path / "data")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        Output(again).wait_for("fulfil send", timeout_s=120)
        shown = subprocess.run([sys.executable, "-m", "services.cli", "orders", "show", "acme", "e2e-0"], env=client,
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and "accepted" in shown.stdout, shown.stdout + shown.stderr
        assert_in_no_command_line(password)
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(60)
    assert again.returncode == 0


def assert_in_no_command_line(secret: str) -> None:
    """Any local user can read every process's arguments: no password may be among them."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            assert secret.encode() not in cmdline.read_bytes(), f"{cmdline} holds a password"


class Output:
    """Collects a process's output lines on a thread, so the test can wait for a line without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.process = process
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, marker: str, timeout_s: float) -> str:
        def printed() -> bool:
            if self.process.poll() is not None and not any(marker in line for line in self.lines):
                raise AssertionError(f"`fulfil up` stopped without printing {marker!r}:\n{''.join(self.lines)}")
            return any(marker in line for line in self.lines)

        eventually(printed, timeout_s=timeout_s, every_s=0.2,
                   context=lambda: f"`fulfil up` never printed {marker!r}:\n{''.join(self.lines)}")
        return "".join(self.lines)

    def rest(self, timeout_s: float) -> str:
        self.process.wait(timeout_s)
        self.thread.join(5)
        return "".join(self.lines)
