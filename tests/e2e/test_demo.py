"""The README's first command, `fulfil demo`, on the embedded default: a short run through the CLI, checked
by its conservation laws and by the report it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_a_short_demo_on_a_loaded_machine_keeps_its_conservation_laws_and_draws_a_map_per_depot(
        tmp_path: Path) -> None:
    report = tmp_path / "demo.html"
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a CPU-bound neighbour takes a core
    try:
        run = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--orders", "40", "--seed", "7",
                              "--report", str(report), "--timeout", "300"], capture_output=True, text=True,
                             timeout=600, cwd=ROOT,
                             env={**{k: v for k, v in os.environ.items() if not k.startswith("FULFIL_")},
                                  "FULFIL_DATA_DIR": str(tmp_path / "data")})
    finally:
        busy.kill()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(report.with_suffix(".json").read_text())
    assert all(summary["conservation"].values()), summary["conservation"]
    stages = summary["stages"]
    assert summary["orders_placed"] == 40 and stages["accepted"] >= 30
    assert stages["packed"] >= 1 and stages["routed"] >= 1 and stages["delivered"] >= 1
    assert isinstance(summary["refund_totals"], dict) and summary["events_processed"] > 100
    assert "fill rate" in run.stdout and "Report:" in run.stdout

    assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in summary), "one naming for the figures' keys"
    funnel = summary["funnel"]
    assert list(funnel) == ["placed", "accepted", "reserved", "picked", "packed", "routed", "delivered", "returned"]
    assert funnel["placed"] == 40 and funnel["accepted"] == stages["accepted"] >= funnel["reserved"] >= 1
    latency = summary["latency_s"]
    for stage in ("accepted", "reserved", "delivered"):
        figures = latency[stage]
        assert figures["orders"] >= 1 and 0 < figures["p50"] <= figures["p95"] <= figures["p99"], latency
    # Each stage is caused by the one before it, so no order may be stamped at one before the last (medians over
    # the orders reaching each stage need not be ordered: the populations differ).
    assert summary["orders_stamped_out_of_stage_order"] == []

    page = report.read_text()
    assert len(re.findall(r'<section class="depot"><h3>WH-(N|SE|SW) ', page)) == 3
    assert page.count('<svg class="map"') == 3 and '<table id="kpis">' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing to fetch when opened

    # Opened in a real browser (headless Chromium), the page shows the maps and the KPI table and logs no
    # error to its console.
    browser = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                              "--v=0", "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert browser.returncode == 0, browser.stderr[-2000:]
    dom = browser.stdout
    assert dom.count('<svg class="map"') == 3 and dom.count("<polyline") >= 1 and '<table id="kpis">' in dom
    assert dom.count("<tr>") >= 12  # a header and a row per KPI
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    # What an operations lead reads: the funnel, the latency table, both charts with their axes named, and a pick
    # list as printed.
    assert '<svg class="chart" id="funnel"' in dom and dom.count("<text x=") > 20
    for label in ("seconds since the first order", "orders accepted", "dispatch wave (depot, time it closed)",
                  "on time", "placed → accepted", "placed → reserved", "placed → delivered", "p99 s"):
        assert label in dom, label
    assert re.search(r'<pre id="picklist">PL-\d+ +wave WV-\d+ +warehouse WH-', dom)
    assert "km</text></g>" in dom and dom.count('class="scale"') == 3, "each map has a scale bar"
    assert re.search(r"VAN-[\w-]+, wave \d\d:\d\d:\d\d: \d+ stops?, [\d.]+ km</text>", dom), "and a legend"

    # And drawn: a screenshot of the page holds the funnel's green bars, the charts' blue bars and the routes.
    shot = tmp_path / "report.png"
    taken = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--screenshot={shot}", "--window-size=1400,3200", report.as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    from PIL import Image
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    count = {rgb: n for n, rgb in colours}
    assert count.get((0x3C, 0xB4, 0x4B), 0) > 2000, "the funnel's bars are not drawn"
    assert count.get((0x43, 0x63, 0xD8), 0) > 2000, "the charts' bars are not drawn"
    assert count.get((0xF7, 0xF7, 0xF2), 0) > 3 * 300 * 300, "the three depot maps are not drawn"
