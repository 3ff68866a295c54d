"""`fulfil up`: the embedded default, supervised. PostgreSQL and Tansu as child processes, then every
service's workers; Ctrl-C stops them all in reverse order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from services.common.embedded import EmbeddedPostgres, Tansu, stop_process, wait_for_port
from services.common.settings import Settings
from services.common.topics import apply_spec, load_spec
from services.migrations import upgrade


@dataclass
class Child:
    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=private_log(self.log_path),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, timeout_s: float) -> None:
        stop_process(self.process, timeout_s)


def private_log(path: Path) -> IO[bytes]:
    """A log file only its owner may read: worker logs name orders, shops and places."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(descriptor, "ab")


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """The connection settings another shell needs, password included, readable by the owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.writelines(f"export {key}={value}\n" for key, value in env.items())


def _port_taken(port: int) -> bool:
    try:
        wait_for_port(port, 0.2)
        return True
    except TimeoutError:
        return False


def _data_in_use(postgres_data: Path) -> int | None:
    """The pid of a live PostgreSQL that holds this data directory (its postmaster.pid), if any."""
    try:
        pid = int((postgres_data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a crash left the file: PostgreSQL starts over it
    except PermissionError:
        pass  # alive, as another user
    return pid


def run_stack(settings: Settings, *, kafka_port: int, pg_port: int, broker: str, workers: int,
              services: list[str], http_services: list[str], http_port: int,
              prepare: Callable[[Settings], None] | None = None, metrics_port: int = 0) -> int:
    """`http_services` get an HTTP port each, counting up from `http_port` (0: none); `prepare` runs once the
    database is migrated (e.g. to load a warehouse layout)."""
    data = private_dir(settings.data_dir.resolve())
    logs = private_dir(data / "logs")
    http_ports = {f"{service}-api": http_port + n for n, service in enumerate(
        s for s in services if s in http_services)} if http_port else {}
    metrics_ports = {f"{service}-{index + 1}": metrics_port + n for n, (service, index) in enumerate(
        (s, i) for s in services for i in range(workers))} if metrics_port else {}
    if (holder := _data_in_use(data / "postgres")) is not None:
        print(f"fulfil up: {data} is in use by another `fulfil up` (its PostgreSQL runs as pid {holder}); stop that "
              f"one first (Ctrl-C in its shell), or give this one its own --data-dir", file=sys.stderr)
        return 2
    checks = [(pg_port, "PostgreSQL (--pg-port)"), (kafka_port if broker == "tansu" else 0, "Kafka (--kafka-port)")]
    checks += [(port, f"{name}'s HTTP (--http-port)") for name, port in http_ports.items()]
    checks += [(port, f"{name}'s metrics (--metrics-port)") for name, port in metrics_ports.items()]
    for port, what in checks:
        if port and _port_taken(port):
            print(f"fulfil up: port {port} for {what} is already in use; pick another port", file=sys.stderr)
            return 2

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    postgres = EmbeddedPostgres(data / "postgres", pg_port)  # it lets its own user through `data` when it starts
    tansu = Tansu(kafka_port, logs / "tansu.log") if broker == "tansu" else None
    children: list[Child] = []
    try:
        postgres.start()
        postgres.create_database("fulfil")
        bootstrap = settings.kafka_bootstrap
        if tansu is not None:
            tansu.start()
            bootstrap = f"127.0.0.1:{kafka_port}"
        env = {"FULFIL_DATABASE_URL": postgres.url("fulfil"), "FULFIL_KAFKA_BOOTSTRAP": bootstrap}
        child_settings = settings.model_copy(update={"database_url": env["FULFIL_DATABASE_URL"],
                                                     "kafka_bootstrap": bootstrap})
        upgrade(child_settings)
        asyncio.run(apply_spec(child_settings, load_spec(settings.topics_file), child_settings.kafka_replication_factor))
        if prepare is not None:
            prepare(child_settings)
        child_env = {**os.environ, **env}
        for service in services:
            for index in range(workers):
                name = f"{service}-{index + 1}"
                ports = {"FULFIL_METRICS_PORT": str(metrics_ports[name])} if name in metrics_ports else {}
                child = Child(name, [sys.executable, "-m", "services.cli", "worker", service],
                              logs / f"{name}.log", {**child_env, **ports})
                child.start()
                children.append(child)
            if f"{service}-api" in http_ports:  # a process apart: a flooded API cannot slow the worker
                name = f"{service}-api"
                child = Child(name, [sys.executable, "-m", "services.cli", "api", service, "--port",
                                     str(http_ports[name])], logs / f"{name}.log", child_env)
                child.start()
                children.append(child)

        env_file = data / "env"
        write_env_file(env_file, env)
        print("Fulfil is up (embedded default). Ctrl-C stops everything.\n")
        print(f"  PostgreSQL   {env['FULFIL_DATABASE_URL'].replace(postgres.password, '***')}   data: {postgres.data_dir}")
        print(f"  Kafka        {bootstrap}   " + ("Tansu, in memory" if tansu else "external broker"))
        for child in children:
            assert child.process is not None
            web = f"   http://{settings.http_host}:{http_ports[child.name]}" if child.name in http_ports else ""
            if child.name in metrics_ports:
                web += f"   metrics :{metrics_ports[child.name]}"
            kind = "api   " if child.name.endswith("-api") else "worker"
            print(f"  {child.name:14} {kind} pid {child.process.pid}   log: {child.log_path}{web}")
        print(f"\nTo reach it from another shell (the file holds the database password; only you can read it):\n\n"
              f"  source {env_file}")
        print("\n  fulfil signing-key add acme --out acme.pem    fulfil send shop.orders orders.jsonl --sign acme.pem"
              "\n  fulfil tail orders.events --from-beginning\n", flush=True)

        while not stopping:
            time.sleep(0.5)
            for child in children:
                if child.process is not None and child.process.poll() is not None and not stopping:
                    child.restarts = [t for t in child.restarts if t > time.monotonic() - 60] + [time.monotonic()]
                    if len(child.restarts) > 5:
                        print(f"fulfil up: {child.name} keeps exiting (see {child.log_path}); stopping",
                              file=sys.stderr)
                        return 1
                    print(f"fulfil up: {child.name} exited with {child.process.returncode}; restarting",
                          file=sys.stderr, flush=True)
                    child.start()
        print("\nStopping...", flush=True)
        return 0
    finally:
        for child in reversed(children):
            child.stop(15)
        if tansu is not None:
            tansu.stop()
        postgres.stop()
        if children or stopping:
            print("Stopped.", flush=True)
