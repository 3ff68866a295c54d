"""The README's commands run as written. Its walk-through starts `fulfil up` exactly as the README says, in a fresh
directory (so `.fulfil/` and the default ports are what a newcomer gets), then runs the section's later `bash` blocks
in one shell that stops at the first failing command. Every other `bash` block of the README is accounted
for below, with the place that runs it; a new block in a section not listed here fails the test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_fulfil_up import Output

ROOT = Path(__file__).resolve().parents[2]
WALK_THROUGH = "Try it: one order's whole life"
ELSEWHERE = {
    "The two commands": "CI runs `make test`; tests/e2e/test_demo.py runs `fulfil demo`",
    "Running in production": "needs Docker and a Kafka cluster: docker compose is for users",
    "Benchmarks": "minutes each, printing figures: `make bench` runs every one of them (checked below)",
}

pytestmark = pytest.mark.e2e


def bash_blocks(readme: str) -> list[tuple[str, str]]:
    """(section heading, code) of every ```bash block, in order."""
    found, section = [], ""
    for match in re.finditer(r"^## ([^\n]+)$|^```bash\n(.*?)^```", readme, re.M | re.S):
        if match.group(1):
            section = match.group(1).strip()
        else:
            found.append((section, match.group(2)))
    return found


def test_every_bash_block_is_run_by_a_test_or_says_where_it_runs() -> None:
    sections = {section for section, _ in bash_blocks((ROOT / "README.md").read_text())}
    assert WALK_THROUGH in sections
    assert sections - {WALK_THROUGH} <= set(ELSEWHERE), sections - {WALK_THROUGH} - set(ELSEWHERE)


def test_make_bench_runs_every_command_of_the_benchmarks_section() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nbench:"):].split("\n\n")[0]
    for section, code in bash_blocks((ROOT / "README.md").read_text()):
        if section != "Benchmarks":
            continue
        for line in code.splitlines():
            command = line.split(" #")[0].strip().replace(".venv/bin/", "$(BIN)/")
            if command:
                assert command in recipe, f"`make bench` does not run the README's `{command}`"


def test_the_readme_walk_through_runs_as_written_on_a_fresh_fulfil_up(tmp_path: Path) -> None:
    blocks = [code for section, code in bash_blocks((ROOT / "README.md").read_text()) if section == WALK_THROUGH]
    start, *walk = blocks
    assert start.strip().startswith("fulfil up "), start
    (tmp_path / "deploy").symlink_to(ROOT / "deploy")  # the README's relative paths, from a directory of its own
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in [k for k in env if k.startswith("FULFIL_")]:
        del env[name]  # a newcomer's shell has none of them
    up = subprocess.Popen(["bash", "-c", f"exec {start.strip()}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = Output(up)
    try:
        banner = output.wait_for("fulfil send", timeout_s=180)
        for port in ("http://127.0.0.1:8080", "http://127.0.0.1:8081", "http://127.0.0.1:8082", "127.0.0.1:9092"):
            assert port in banner, f"the README's ports are not what `fulfil up` prints:\n{banner}"
        script = "".join(f"echo '=== block {n}'\n{code}" for n, code in enumerate(walk, 1))  # one shell, as a user's
        ran = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", script], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=900)
        assert ran.returncode == 0, f"the README walk-through failed:\n{ran.stderr[-4000:]}"
        first, second = ran.stdout.split("=== block 2\n")
        assert '"event_type": "order.accepted"' in first and "PL-000001" in first and "SKU-MUG" in first
        assert '"status":"planned"' in first and '"order_id":"A-1001"' in first and "order A-1001 of acme" in first
        assert "refunded" in first and "refund RF-" in first and "returns   return R-1" in first
        assert "deliveries" in first and "fill rate" in first
        assert "short" in second and "invalid envelope" in second and "shop.orders.dlq" in second
        assert "may not act for shop 'globex'" in second
    finally:
        os.killpg(up.pid, signal.SIGINT)
        rest = output.rest(90)
    assert up.returncode == 0, rest[-3000:]
