"""The README's commands run as written. Its walk-through starts `fulfil up` exactly as the README says, in a fresh
directory (so `.fulfil/` and the default ports are what a newcomer gets), then runs the section's later `bash` blocks
in one shell that stops at the first failing command. Every other `bash` block of the README is accounted
for below, with the place that runs it; a new block in a section not listed here fails the test."""

from __future__ import annotations

import os
import re
import shutil
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
        # One shell, as a user's. Where the README sends staff to the pages, the shell waits while a browser
        # does what the README's text block says, as a picker and a packer would.
        pause = "echo '=== staff pages'\nwhile [ ! -e .staff-done ]; do sleep 0.5; done\n"
        script = "".join(f"{pause if n == 2 else ''}echo '=== block {n}'\n{code}" for n, code in enumerate(walk, 1))
        shell = subprocess.Popen(["bash", "-euo", "pipefail", "-x", "-c", script], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = Output(shell)
        printed = said.wait_for("=== staff pages", timeout_s=300)
        key = re.search(r"key dk-\w+ for WH-BER-N.*\n(\S+)\n", printed)
        assert key is not None, printed[-3000:]
        pick_and_pack_on_the_pages(staff_steps((ROOT / "README.md").read_text()), key[1])
        (tmp_path / ".staff-done").touch()
        ran = said.rest(900)
        assert shell.returncode == 0, f"the README walk-through failed:\n{ran[-4000:]}"
        first, second = ran.split("=== block 3\n")
        assert '"event_type": "order.accepted"' in first and "PL-000001" in first and "SKU-MUG" in first
        assert '"event_type": "parcel.packed"' in first and '"source": "device:dk-' in first
        assert '"status":"planned"' in first and '"order_id":"A-1001"' in first
        assert "order A-1001 of acme: delivered, return R-1 refunded" in first
        assert "refunded" in first and "refund RF-" in first and "returns   return R-1" in first
        assert "deliveries" in first and "fill rate" in first
        assert "short" in second and "invalid envelope" in second and "shop.orders.dlq" in second
        assert "may not act for shop 'globex'" in second
    finally:
        os.killpg(up.pid, signal.SIGINT)
        rest = output.rest(90)
    assert up.returncode == 0, rest[-3000:]


def staff_steps(readme: str) -> str:
    """The walk-through's text block: what staff do on the pages."""
    section = readme[readme.index(f"## {WALK_THROUGH}"):]
    found = re.search(r"^```text\n(.*?)^```", section, re.M | re.S)
    assert found is not None, "the walk-through has no staff steps"
    return found.group(1)


def pick_and_pack_on_the_pages(steps: str, key: str) -> None:
    """What the README's text block says, in headless Chromium: sign in, Pick, Confirm each step, Pack, Packed,
    and the label with its tracking number."""
    from playwright.sync_api import sync_playwright

    from tests.eventually import eventually
    words = ("http://localhost:8080/staff/", "sign in", "Pick on PL-000001", "Confirm each step",
             "bin A-01-02-1, SKU-MUG, 2 units into tote T01", "Pack T01", "Packed", "tracking number")
    assert all(w in steps for w in words), f"the README's staff steps no longer say what is done here:\n{steps}"
    base = "http://localhost:8080/staff"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{base}/")
            page.fill("#key", key)
            page.click("button[type=submit]")
            page.click("a.button:has-text('Pick')")
            assert (page.text_content("[data-test=bin]"), page.text_content("[data-test=sku]"),
                    page.text_content("[data-test=due]"), page.text_content("[data-test=tote]")) == (
                "A-01-02-1", "SKU-MUG", "2", "T01")
            while page.locator("[data-test=confirm]").count():
                page.click("[data-test=confirm]")

            def ready_to_pack() -> bool:
                page.goto(f"{base}/WH-BER-N/picklists/PL-000001/totes/T01")
                return page.locator("[data-test=packed]").count() == 1
            eventually(ready_to_pack, timeout_s=60, every_s=0.5, context=lambda: page.content()[-2000:])
            page.click("[data-test=packed]")

            def tracking() -> str:
                page.reload()
                return page.text_content("[data-test=tracking]") or ""
            eventually(tracking, lambda number: number.startswith("FL"), timeout_s=60, every_s=0.5)
        finally:
            browser.close()
