"""deploy/kafka/broker.sh keeps a broker's data for `restart` after `stop` or `kill`, and `destroy` removes it:
every test session and benchmark run starts a throwaway broker, and their data once filled the disk."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from services.common.embedded import free_ports
from tests.integration.conftest import BROKER


def _broker(command: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BROKER), command, str(port)], capture_output=True, text=True, timeout=300)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stop_and_kill_keep_the_data_for_restart_and_destroy_removes_it() -> None:
    port = free_ports(2)
    run = Path(_broker("dir", port).stdout.strip())
    assert run.is_absolute() and str(port) in run.name
    try:
        assert _broker("start", port).returncode == 0
        assert _broker("kill", port).returncode == 0
        assert (run / "server.properties").exists(), "a killed broker's data stays, for restart"
        assert _broker("restart", port).returncode == 0 and _answers(port)
        assert _broker("stop", port).returncode == 0
        assert (run / "server.properties").exists(), "a stopped broker's data stays, for restart"

        assert _broker("destroy", port).returncode == 0, "destroying a stopped broker is not an error"
        assert not run.exists()

        assert _broker("start", port).returncode == 0
        assert _broker("destroy", port).returncode == 0
        assert not run.exists() and not _answers(port)
    finally:
        _broker("destroy", port)
