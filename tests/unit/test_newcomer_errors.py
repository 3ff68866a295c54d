"""What a newcomer sees when something is off: one line that says what to do, never a traceback or a bare
exception name. Each case runs the real `fulfil` in a fresh directory, with no infrastructure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fulfil(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {**{k: v for k, v in os.environ.items() if not k.startswith("FULFIL_")}, **env}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=where, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_a_shell_without_the_settings_fulfil_up_wrote_is_told_to_source_them(tmp_path: Path) -> None:
    (tmp_path / ".fulfil").mkdir()
    (tmp_path / ".fulfil" / "env").write_text("export FULFIL_DATABASE_URL=postgresql+psycopg2://x@127.0.0.1:1/x\n")
    done = fulfil(tmp_path, "returns", "show", "R-1")
    assert done.returncode == 2 and "source .fulfil/env" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_error_no_command_caught_is_one_line_by_its_kind() -> None:
    from services.cli.root import said
    assert said(FileNotFoundError(2, "No such file or directory", "orders.json")) == \
        "orders.json: No such file or directory"
    assert "--debug shows the traceback" in said(RuntimeError("x"))


def test_a_data_directory_in_use_is_said_so_before_anything_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "postgres").mkdir(parents=True)
    (data / "postgres" / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n")
    done = fulfil(tmp_path, "up", "--data-dir", str(data), "--pg-port", "1", "--kafka-port", "2", "--http-port", "0")
    assert done.returncode == 2 and "is in use by another `fulfil up`" in done.stderr, done.stderr
    assert f"pid {os.getpid()}" in done.stderr and "RuntimeError" not in done.stderr


@pytest.mark.parametrize("args", [("warehouses", "load", "nothere.yaml"), ("fleet", "load", "nothere.yaml"),
                                  ("signing-key", "add", "acme", "--public-key", "nothere.pem")])
def test_a_missing_file_is_named(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = fulfil(tmp_path, *args)
    assert done.returncode == 2 and "nothere" in done.stderr and "unexpected error" not in done.stderr, done.stderr


def test_help_shows_options_and_whole_sentences_without_type_tags(tmp_path: Path) -> None:
    shown = fulfil(tmp_path, "--help", COLUMNS="100").stdout
    assert "<bool>" not in shown and "--debug" in shown
    assert "Serve only a service's HTTP API" in shown
