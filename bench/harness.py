"""What every benchmark needs: Apache Kafka (or a given broker), an embedded PostgreSQL, migrated schemas,
topics, worker processes; publishing at a rate and collecting the first answer per key. Figures only."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.registry import SHOP_BOUND  # noqa: E402
from services.cli.signing import enrol_many  # noqa: E402
from services.common.embedded import EmbeddedPostgres, free_port  # noqa: E402
from services.common.kafka_io import partitions_of  # noqa: E402
from services.common.messaging import Headers  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.common.topics import apply_spec, load_spec  # noqa: E402
from services.migrations import upgrade  # noqa: E402


@dataclass
class Bench:
    settings: Settings
    env: dict[str, str]
    work: Path
    broker: str
    code: Path = ROOT  # the checkout whose workers and CLI run: this one, or a base revision's worktree
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    broker_pid: int | None = None  # the Apache Kafka broker this run started, if it started one

    def _env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.env, **extra, "PYTHONPATH": str(self.code)}

    def start_worker(self, service: str, **extra: str) -> None:
        log = (self.work / f"{service}-{len(self.workers)}.log").open("wb")
        self.workers.append(subprocess.Popen([interpreter(self.code), "-m", "services.cli", "worker", service],
                                             env=self._env(**extra), cwd=self.code, stdout=log,
                                             stderr=subprocess.STDOUT))

    def fulfil(self, *args: str) -> None:
        """A CLI command of the checkout under test (its own migrations, topics and loaders)."""
        subprocess.run([interpreter(self.code), "-m", "services.cli", *args], env=self._env(), cwd=self.code, check=True,
                       stdout=subprocess.DEVNULL)

    def keeps_keys(self) -> bool:
        """Whether the checkout under test keeps shops' signing keys (a base revision may be older)."""
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(text("SELECT to_regclass('orders.signing_keys')")).scalar() is not None
        finally:
            engine.dispose()

    def check_workers(self) -> None:
        """A worker that exited stops the run with its log, rather than a wait for answers that never come."""
        for i, w in enumerate(self.workers):
            if w.poll() is not None:
                log = (self.work / f"{w.args[-1]}-{i}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"worker {w.args[-1]}-{i} exited with {w.returncode}:\n{log}")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each worker, by PostgreSQL (all its backends) and by the broker this run
        started (a JVM: the same machine's cores)."""
        used = {f"{w.args[-1]}-{i}": sum(psutil.Process(w.pid).cpu_times()[:2])
                for i, w in enumerate(self.workers) if w.poll() is None}
        postgres = [p for p in psutil.process_iter(["cmdline"]) if str(self.work / "pg") in " ".join(
            p.info["cmdline"] or [])]
        backends = {c for p in postgres for c in p.children(recursive=True)} | set(postgres)
        used["postgres"] = sum(sum(p.cpu_times()[:2]) for p in backends)
        if self.broker_pid is not None and psutil.pid_exists(self.broker_pid):
            used["kafka"] = sum(psutil.Process(self.broker_pid).cpu_times()[:2])
        return used

    def batches(self) -> str:
        """Per worker, from its log: batches processed, events per batch and seconds per batch (p50/p99); a
        checkout whose log does not say is left out."""
        found = []
        for i, w in enumerate(self.workers):
            sizes, seconds = [], []
            for line in (self.work / f"{w.args[-1]}-{i}.log").read_text(errors="replace").splitlines():
                if '"batch.done"' in line and '"seconds"' in line:
                    record = json.loads(line)
                    sizes.append(record["size"])
                    seconds.append(record["seconds"])
            if sizes:
                ordered = sorted(seconds)
                found.append(f"{w.args[-1]}-{i} {len(sizes)} batches, {statistics.mean(sizes):.0f} events each, "
                             f"{1000 * ordered[len(ordered) // 2]:.0f}/{1000 * ordered[int(len(ordered) * 0.99)]:.0f}"
                             " ms p50/p99")
        return "; ".join(found)

    def rss_mib(self) -> list[float]:
        return [psutil.Process(w.pid).memory_info().rss / 2**20 for w in self.workers if w.poll() is None]


class Waits:
    """What PostgreSQL's active backends wait on, sampled every 20 ms while running (CPU when on none): shows
    whether workers take turns on each other's row locks."""

    def __init__(self, settings: Settings) -> None:
        self.settings, self.seen, self.stop = settings, Counter[str](), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as connection:
                while not self.stop.is_set():
                    for wait, n in connection.execute(text(
                            "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*) FROM pg_stat_activity "
                            "WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database() "
                            "GROUP BY 1")):
                        self.seen[wait] += n
                    connection.commit()
                    time.sleep(0.02)
        finally:
            engine.dispose()

    def summary(self) -> str:
        self.stop.set()
        self.thread.join(5)
        total = sum(self.seen.values()) or 1
        return ", ".join(f"{wait} {100 * n / total:.0f}%" for wait, n in self.seen.most_common(6))


@cache
def interpreter(code: Path) -> str:
    """The Python a checkout's workers run on: this one's for this checkout; for a base revision a virtualenv with
    that revision's own dependencies (it may need a library this checkout dropped), made once per dependency list
    under ~/.cache/fulfil/bench-venvs."""
    if code == ROOT:
        return sys.executable
    wanted = sorted(tomllib.loads((code / "pyproject.toml").read_text())["project"]["dependencies"])
    current = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    if wanted == current:
        return sys.executable
    venv = Path.home() / ".cache/fulfil/bench-venvs" / hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print(f"bench: installing {code.name}'s dependencies into {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True)
        (venv / ".installed").touch()
    # The checkout itself, for what it registers by entry point (its Faust transport); its code comes from
    # PYTHONPATH all the same.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(code)], check=True)
    return str(python)


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A worktree of `revision` (anything git names: a commit, a tag, HEAD~3) for the time of a comparison."""
    where = Path(tempfile.mkdtemp(prefix="fulfil-base-")) / "code"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(where), revision], check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False)


def profile(pids: dict[str, int], seconds: float, into: Path) -> subprocess.Popen[bytes] | None:
    """py-spy records each worker while the measured orders flow (collapsed stacks, one file per worker), or
    None when py-spy is not installed (pip install py-spy). Threads are sampled while they run (py-spy leaves out
    the ones it sees idle). Not `--gil`: py-spy names the GIL's *last* holder, so a thread blocked in psycopg2 (GIL
    released, no other thread wanting it) can count as busy, and waits for PostgreSQL read as CPU."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: no profile")
        return None
    script = " & ".join(f"{spy} record --nonblocking --format raw --rate 200 --duration {int(seconds)} "
                        f"--pid {pid} --output {into / name}.txt >/dev/null 2>&1" for name, pid in pids.items())
    return subprocess.Popen(["bash", "-c", f"{script} & wait"])


def profile_summary(path: Path, top: int = 12) -> str:
    """Where a worker's samples are, by package: the innermost frame of our code or a library."""
    totals: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        leaf = frames[-1] if frames else "?"
        where = leaf.split(" (")[-1].rstrip(")")
        package = next((p for p in ("faust", "mode", "aiokafka", "kafka", "asyncio", "sqlalchemy", "psycopg2",
                                    "pydantic", "structlog", "json", "orjson", "services", "schemas", "selectors",
                                    "prometheus_client") if f"/{p}/" in where or where.startswith(p)), "other")
        totals[package] = totals.get(package, 0) + int(count)
    whole = sum(totals.values()) or 1
    return ", ".join(f"{k} {100 * v / whole:.0f}%" for k, v in sorted(totals.items(), key=lambda kv: -kv[1])[:top])


RUNTIME_PACKAGES = ("faust", "mode")
LIBRARIES = ("faust", "mode", "aiokafka", "kafka", "sqlalchemy", "psycopg2", "pydantic", "pydantic_core", "structlog",
             "prometheus_client", "uvicorn", "starlette", "fastapi", "services", "schemas")


MAIN_LOOP = "mode/worker.py"
"""The frame that runs the worker's event loop: a sample whose innermost library frame is this one is the loop
itself (callbacks, the selector), serving everyone."""


def runtime_share(path: Path) -> tuple[float, float]:
    """The shares of a worker's samples that the stream runtime (Faust and mode) owns, and that the main event loop
    owns on its own: each sample goes to the innermost frame of a library or of our code, so time a selector or
    asyncio spends under a Faust frame is Faust's, under our coroutine ours."""
    owned = looping = whole = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        owner = "other"
        for frame in reversed(stack.split(";")):
            where = frame.split(" (")[-1].rstrip(")")
            found = next((p for p in LIBRARIES if where.startswith(f"{p}/") or f"/{p}/" in where), None)
            if found is not None:
                owner = "loop" if where.startswith(MAIN_LOOP) else found
                break
        whole += int(count)
        owned += int(count) if owner in RUNTIME_PACKAGES else 0
        looping += int(count) if owner == "loop" else 0
    return owned / (whole or 1), looping / (whole or 1)


def broker_dir(port: int) -> Path:
    """Where deploy/kafka/broker.sh keeps the broker on `port`: its data, pid and logs."""
    return Path(subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "dir", str(port)], capture_output=True,
                               text=True, check=True).stdout.strip())


@contextmanager
def infrastructure(kafka_bootstrap: str | None, code: Path = ROOT, **settings: str) -> Iterator[Bench]:
    """Apache Kafka (unless a bootstrap is given) and PostgreSQL for one run, torn down afterwards; the schema and
    topics are made by `code`'s own CLI, so a base revision runs on what it expects."""
    work = Path(tempfile.mkdtemp(prefix="fulfil-bench-"))
    broker_port = None
    if not kafka_bootstrap:
        broker_port = free_port()
        subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "start", str(broker_port)], check=True)
        kafka_bootstrap = f"127.0.0.1:{broker_port}"
    postgres = EmbeddedPostgres(work / "pg")
    postgres.start()
    bench = None
    try:
        postgres.create_database("bench")
        namespace = f"bench{uuid.uuid4().hex[:6]}."
        env = {"FULFIL_KAFKA_BOOTSTRAP": kafka_bootstrap, "FULFIL_DATABASE_URL": postgres.url("bench"),
               "FULFIL_TOPIC_NAMESPACE": namespace, "FULFIL_LOG_FORMAT": "json",
               "FULFIL_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "info"),  # the production default
               **{f"FULFIL_{k.upper()}": v for k, v in settings.items()}}
        bench = Bench(Settings(**{k.removeprefix("FULFIL_").lower(): v for k, v in env.items()}), env, work,
                      f"Apache Kafka {kafka_bootstrap}" if broker_port else kafka_bootstrap, code)
        if broker_port:
            pid_file = broker_dir(broker_port) / "pid"
            bench.broker_pid = int(pid_file.read_text()) if pid_file.exists() else None
        if code == ROOT:
            upgrade(bench.settings)
            asyncio.run(apply_spec(bench.settings, load_spec()))
        else:
            bench.fulfil("db", "upgrade")
            bench.fulfil("topics", "apply")
        yield bench
    finally:
        if bench:
            for w in bench.workers:
                w.terminate()
            for w in bench.workers:
                w.wait(30)
        postgres.stop()
        shutil.rmtree(work / "pg", ignore_errors=True)  # 800 MB a run: the logs stay, the data goes
        if broker_port:
            subprocess.run([str(ROOT / "deploy/kafka/broker.sh"), "destroy", str(broker_port)], check=False)


def signed(bench: Bench, topic: str, messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes, Headers]]:
    """Each message with the headers its shop signs it with, as shops send (signed before the clock starts). A
    base revision from before signing keeps no keys and reads no signatures: its messages go unsigned."""
    if topic not in SHOP_BOUND or not bench.keeps_keys():
        return [(key, value, []) for key, value in messages]
    shops = [json.loads(value)["payload"][SHOP_BOUND[topic]] for _, value in messages]
    signers = enrol_many(bench.settings, shops)
    return [(key, value, list(signers[shop].headers(topic, value))) for (key, value), shop in zip(messages, shops,
                                                                                                  strict=True)]


async def publish(bench: Bench, topic: str, messages: list[tuple[str, bytes]], rate: float) -> dict[str, int]:
    """Send (key, value) messages, signed where a shop would sign them, at `rate` per second (0: as fast as
    possible); returns key -> broker timestamp."""
    settings = bench.settings
    ready = signed(bench, topic, messages)
    producer = AIOKafkaProducer(**settings.aiokafka_options(), acks="all", linger_ms=5)
    await producer.start()
    sent: dict[str, int] = {}
    try:
        started = time.monotonic()
        pending = []
        for i, (key, value, headers) in enumerate(ready):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append((key, await producer.send(settings.topic(topic), value, key=key.encode(),
                                                     headers=headers)))
        for key, future in pending:
            sent[key] = (await future).timestamp
    finally:
        await producer.stop()
    return sent


async def collect(settings: Settings, topic: str, count: int, timeout_s: float,
                  key_of: Callable[[bytes, bytes], str | None] = lambda key, value: key.decode()) -> dict[str, int]:
    """Read `topic` from the beginning until `count` distinct keys were seen; key -> first record timestamp."""
    physical = settings.topic(topic)
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, int] = {}
    try:
        parts = [TopicPartition(physical, p) for p in await partitions_of(settings, physical)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout_s
        while len(seen) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    key = key_of(record.key, record.value)
                    if key is not None:
                        seen.setdefault(key, record.timestamp)
    finally:
        await consumer.stop()
    return seen


def wait_until_counted(settings: Settings, table: str, count: int, timeout_s: float) -> None:
    """Wait until `table` (schema.name) holds `count` rows, so that reading the results from Kafka afterwards
    does not take CPU from the system while it is being measured. Polls PostgreSQL's insert counter, which
    costs nothing, and counts the rows (a scan of the whole table) only once that says they may all be there:
    polling count(*) would slow the measured system more and more as the table grows."""
    schema, name = table.split(".")
    inserted = text("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE schemaname = :s AND relname = :n")
    engine = create_engine(settings.database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                if (connection.execute(inserted, {"s": schema, "n": name}).scalar_one() >= count
                        and connection.execute(text(f"SELECT count(*) FROM {schema}.{name}")).scalar_one() >= count):
                    return
            time.sleep(0.25)
    finally:
        engine.dispose()


def report(sent: dict[str, int], seen: dict[str, int], what: str) -> dict[str, float]:
    """Prints throughput and latency; returns them (orders/s, p50 and p99 ms)."""
    latencies = sorted(seen[k] - sent[k] for k in seen if k in sent)
    if not latencies:
        print("nothing was processed")
        return {"throughput": 0.0, "p50": 0.0, "p99": 0.0}
    span_ms = max(seen.values()) - min(sent.values())
    print(f"processed {len(seen)}/{len(sent)}")
    throughput = len(seen) / (span_ms / 1000)
    print(f"sustained throughput: {throughput:.0f} orders/s (first send to last answer: {span_ms / 1000:.1f} s)")
    q = statistics.quantiles(latencies, n=100)
    print(f"latency {what}: p50 {q[49]:.0f} ms  p99 {q[98]:.0f} ms  max {latencies[-1]} ms")
    return {"throughput": throughput, "p50": q[49], "p99": q[98]}
