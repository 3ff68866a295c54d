"""The demo's report: one self-contained HTML file (no request to the internet when opened): a map per depot
with its routes drawn over the coordinates in colour, stops numbered, the depot and the city area outlined;
the stage funnel and the latency from placed to accepted, reserved and delivered; the KPI table; orders accepted
over time and on-time rate per wave as charts with labelled axes; a pick list as staff get it. All inline SVG."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from services.demo.simulator import STAGES, Outcome
from services.demo.world import CENTRE, RADIUS_KM, World

COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990",
           "#800000", "#808000", "#000075"]
SIZE = 420


def _projector(points: Sequence[tuple[float, float]]) -> Any:
    """Equirectangular projection of (lat, lon) onto the SVG square, around the city."""
    k = math.cos(math.radians(CENTRE[0]))
    span = max([RADIUS_KM * 1.6 / 111.0] + [max(abs(lat - CENTRE[0]), abs(lon - CENTRE[1]) * k) for lat, lon in points])

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (SIZE / 2 + (lon - CENTRE[1]) * k / span * (SIZE / 2 - 12),
                SIZE / 2 - (lat - CENTRE[0]) / span * (SIZE / 2 - 12))
    return xy, (RADIUS_KM / 111.0) / span * (SIZE / 2 - 12)


def depot_map(depot: dict[str, Any], plans: list[dict[str, Any]], where: dict[str, tuple[float, float]]) -> str:
    """The depot's routes over the city, a colour per van and wave, with a legend (van, wave, stops, km) and a
    scale bar. A depot that dispatched twice (a second wave for what the first left) shows both, told apart in
    the legend by the time each wave closed."""
    routes = [(plan, r) for plan in plans for r in plan["routes"]]
    points = [(depot["latitude"], depot["longitude"])] + [where[s["shipment_id"]] for _, r in routes
                                                          for s in r["stops"] if s["shipment_id"] in where]
    xy, city_r = _projector(points)
    home = xy(depot["latitude"], depot["longitude"])
    legend_h = 18 * len(routes) + 8
    parts = [f'<svg class="map" viewBox="0 0 {SIZE} {SIZE + legend_h}" width="{SIZE}" height="{SIZE + legend_h}" '
             f'role="img" aria-label="routes of {html.escape(depot["id"])}">',
             f'<rect width="{SIZE}" height="{SIZE}" fill="#f7f7f2"/>',
             f'<circle cx="{SIZE / 2:.1f}" cy="{SIZE / 2:.1f}" r="{city_r:.1f}" fill="none" stroke="#999" '
             'stroke-dasharray="6 4"><title>city area</title></circle>']
    for n, (plan, route) in enumerate(routes):
        colour = COLOURS[n % len(COLOURS)]
        path = [home] + [xy(*where[s["shipment_id"]]) for s in route["stops"] if s["shipment_id"] in where] + [home]
        stops = len(route["stops"])
        described = (f'{html.escape(route["vehicle_id"])}, wave {_wave_label(plan["wave_id"]).split()[-1]}: '
                     f'{stops} stop{"" if stops == 1 else "s"}, {float(route["distance_km"]):.1f} km')
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in path) + f'"><title>{described}</title></polyline>')
        for stop in route["stops"]:
            if stop["shipment_id"] not in where:
                continue
            x, y = xy(*where[stop["shipment_id"]])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>'
                         f'<text x="{x:.1f}" y="{y + 3:.1f}" font-size="8" text-anchor="middle" fill="#fff">'
                         f'{stop["sequence"]}</text>')
        y = SIZE + 16 + 18 * n
        parts.append(f'<line x1="8" y1="{y - 4}" x2="30" y2="{y - 4}" stroke="{colour}" stroke-width="4"/>'
                     f'<text x="36" y="{y}" font-size="12">{described}</text>')
    km = _nice_km(SIZE / 4 / (city_r / RADIUS_KM))  # about a quarter of the map
    bar = km * city_r / RADIUS_KM
    parts.append(f'<g class="scale"><line x1="{SIZE - 16 - bar:.1f}" y1="{SIZE - 14}" x2="{SIZE - 16}" '
                 f'y2="{SIZE - 14}" stroke="#222" stroke-width="3"/><text x="{SIZE - 16 - bar / 2:.1f}" '
                 f'y="{SIZE - 20}" font-size="11" text-anchor="middle">{km:g} km</text></g>')
    parts.append(f'<rect x="{home[0] - 7:.1f}" y="{home[1] - 7:.1f}" width="14" height="14" fill="#222">'
                 f'<title>depot {html.escape(depot["id"])}</title></rect></svg>')
    return "".join(parts)


def _nice_km(most: float) -> float:
    """The longest of 1, 2 or 5 times a power of ten km that is at most `most`."""
    step = 10 ** math.floor(math.log10(max(most, 1e-9)))
    return max(f * step for f in (1, 2, 5) if f * step <= most)


def _ticks(top: float) -> list[float]:
    """Three to six round values from 0 to at least `top`, for an axis: the finest of 1, 2 or 5 times a power of
    ten that needs no more than five steps."""
    base = 10 ** (math.floor(math.log10(max(top, 1e-9))) - 1)
    for step in (base * f for f in (1, 2, 5, 10, 20, 50, 100)):
        if math.ceil(top / step - 1e-9) <= 5:
            return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]
    return [0, top]  # pragma: no cover: 100 * base always fits


def bar_chart(title: str, values: Sequence[tuple[str, float]], x_label: str, y_label: str, unit: str = "",
              top: float | None = None, chart_id: str = "") -> str:
    """Vertical bars with a labelled y axis (ticks and grid lines), a labelled x axis and each bar's value in its
    tooltip; every bar is labelled under the axis when there is room, every n-th otherwise."""
    width, height, left, right, top_pad, bottom = 640, 300, 78, 16, 16, 92  # room for tick labels and slanted names
    ticks = _ticks(top if top is not None else max([v for _, v in values] + [1]))
    peak = ticks[-1] or 1
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step = plot_w / max(1, len(values))
    every = max(1, math.ceil(len(values) * 34 / plot_w))
    parts = [f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">']
    for t in ticks:
        y = top_pad + plot_h * (1 - t / peak)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{t:g}{unit}</text>')
    for i, (label, value) in enumerate(values):
        h = plot_h * min(value, peak) / peak
        x = left + i * step
        parts.append(f'<rect x="{x + 1:.1f}" y="{top_pad + plot_h - h:.1f}" width="{max(1.0, step - 2):.1f}" '
                     f'height="{h:.1f}" fill="#4363d8"><title>{html.escape(label)}: {value:g}{unit}</title></rect>')
        if i % every == 0:
            cx, cy = x + step / 2, top_pad + plot_h + 12
            parts.append(f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="10" text-anchor="end" '
                         f'transform="rotate(-35 {cx:.1f} {cy:.1f})">{html.escape(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" y2="{top_pad + plot_h}" stroke="#333"/>'
                 f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#333"/>'
                 f'<text class="axis" x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="12" '
                 f'text-anchor="middle">{html.escape(x_label)}</text>'
                 f'<text class="axis" x="16" y="{top_pad + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 16 {top_pad + plot_h / 2:.1f})">{html.escape(y_label)}</text></svg>')
    return f'<figure><figcaption>{html.escape(title)}</figcaption>{"".join(parts)}</figure>'


def funnel(stages: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per stage, each labelled with its count and its share of the orders placed."""
    width, row, left, right = 640, 30, 90, 150
    placed = max(stages[0][1], 1) if stages else 1
    parts = [f'<svg class="chart" id="funnel" viewBox="0 0 {width} {row * len(stages) + 10}" width="{width}" '
             f'height="{row * len(stages) + 10}" role="img" aria-label="orders reaching each stage">']
    for i, (stage, count) in enumerate(stages):
        y, w = 5 + i * row, (width - left - right) * count / placed
        parts.append(f'<text x="{left - 8}" y="{y + 18}" font-size="13" text-anchor="end">{html.escape(stage)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" fill="#3cb44b"/>'
                     f'<text x="{left + w + 6:.1f}" y="{y + 18}" font-size="12">{count} ({100 * count / placed:.0f}%)'
                     '</text>')
    parts.append("</svg>")
    return ('<figure><figcaption>Orders reaching each stage (share of orders placed)</figcaption>'
            f'{"".join(parts)}</figure>')


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def funnel_of(outcome: Outcome) -> dict[str, int]:
    """Orders placed, and orders seen at each later stage."""
    return {"placed": outcome.placed} | {stage: len(outcome.reached.get(stage, {})) for stage in STAGES}


def latency_of(outcome: Outcome) -> dict[str, dict[str, float]]:
    """Per stage: how many orders reached it and the p50/p95/p99 seconds from placing them."""
    found = {}
    for stage in ("accepted", "reserved", "delivered"):
        waits = [t - outcome.placed_at[k] for k, t in outcome.reached.get(stage, {}).items() if k in outcome.placed_at]
        found[stage] = {"orders": len(waits)} | {
            f"p{q}": round(percentile(waits, q), 3) if waits else 0.0 for q in (50, 95, 99)}
    return found


def out_of_order(outcome: Outcome) -> list[str]:
    """Orders stamped at a later stage before an earlier one (placed, accepted, reserved, delivered): each stage
    is caused by the one before, so any here means the stamps, not the orders, are wrong."""
    stages = [outcome.placed_at] + [outcome.reached.get(s, {}) for s in ("accepted", "reserved", "delivered")]
    found = []
    for key in outcome.placed_at:
        stamps = [stage[key] for stage in stages if key in stage]
        if stamps != sorted(stamps):
            found.append(key)
    return found


def render(world: World, where: dict[str, tuple[float, float]],
           kpis: list[tuple[str, str, str]], outcome: Outcome, conservation: dict[str, bool], title: str,
           picklist: str) -> str:
    maps = []
    for w in world.warehouses:
        plans = [plan for _, plan in sorted(outcome.plans.items()) if plan["depot_id"] == w["id"]]
        routes = [r for plan in plans for r in plan["routes"]]
        stops = sum(len(r["stops"]) for r in routes)
        km = sum(float(r["distance_km"]) for r in routes)
        waves = f", {len(plans)} waves" if len(plans) > 1 else ""
        maps.append(f'<section class="depot"><h3>{html.escape(w["id"])} ({html.escape(w["name"])}): '
                    f'{len(routes)} route{"" if len(routes) == 1 else "s"}, {stops} stop{"" if stops == 1 else "s"}, '
                    f'{km:.1f} km{waves}</h3>{depot_map(w, plans, where)}</section>')
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td class='v'>{html.escape(v)}</td><td>{html.escape(h)}</td></tr>"
                   for n, v, h in kpis)
    checks = "".join(f"<li class='{'ok' if ok else 'bad'}'>{'✔' if ok else '✘'} {html.escape(name)}</li>"
                     for name, ok in conservation.items())
    latency_rows = []
    for stage, figures in latency_of(outcome).items():
        cells = "".join(f"<td class='v'>{figures[q]:.2f}</td>" if figures["orders"] else "<td class='v'>-</td>"
                        for q in ("p50", "p95", "p99"))
        latency_rows.append(f"<tr><td>placed &rarr; {stage}</td><td class='v'>{figures['orders']:g}</td>{cells}</tr>")
    accepted = sorted(outcome.reached.get("accepted", {}).values())
    width = _bucket_s(accepted[-1] if accepted else 0)
    buckets: dict[int, int] = {}
    for t in accepted:
        buckets[int(t // width)] = buckets.get(int(t // width), 0) + 1
    over_time = [(f"{b * width:g}-{(b + 1) * width:g}", float(buckets.get(b, 0)))
                 for b in range(max(buckets, default=0) + 1)]
    per_wave = [(_wave_label(wave), 100.0 * sum(v) / len(v)) for wave, v in sorted(outcome.on_time.items()) if v]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.maps {{ display: flex; flex-wrap: wrap; gap: 1.5em; }} .depot h3 {{ font-size: 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }} td.v {{ text-align: right; }}
.ok {{ color: #2a7d2a; }} .bad {{ color: #b00; font-weight: bold; }} figure {{ display: inline-block; margin: 1em; }}
figcaption {{ font-weight: 600; margin-bottom: .4em; }}
pre {{ background: #f7f7f2; padding: 1em; display: inline-block; max-width: 100%; white-space: pre-wrap;
       overflow-wrap: anywhere; box-sizing: border-box; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Flow</h2>
{funnel(list(funnel_of(outcome).items()))}
<figure><figcaption>Latency from an order placed to each stage (seconds of this run)</figcaption>
<table id="latency"><tr><th>from &rarr; to</th><th>orders</th><th>p50 s</th><th>p95 s</th><th>p99 s</th></tr>
{"".join(latency_rows)}</table>
<p><small>Picks, parcels and deliveries are scanned by the simulation as soon as each is possible, and waves close
when the system has drained: delivery latency is that of the system, not of a day's driving.</small></p></figure>
<h2>Routes per depot</h2><div class="maps">{''.join(maps)}</div>
<h2>Key figures</h2><table id="kpis"><tr><th>KPI</th><th>value</th><th>how it is counted</th></tr>{rows}</table>
<h2>Conservation checks</h2><ul id="conservation">{checks}</ul>
<h2>Over time</h2>
{bar_chart(f"Orders accepted per {width:g} second{'' if width == 1 else 's'}", over_time,
           "seconds since the first order", "orders accepted", chart_id="accepted")}
{bar_chart("On-time deliveries per dispatch wave (inside the promised ETA window)", per_wave,
           "dispatch wave (depot, time it closed)", "on time", "%", 100, chart_id="on-time")}
<h2>A pick list, as printed</h2>
<pre id="picklist">{html.escape(picklist)}</pre>
</body></html>
"""


def _bucket_s(span_s: float) -> float:
    """A round bucket width giving about twenty bars over `span_s` seconds (never under a tenth of a second)."""
    wanted = max(span_s / 20, 0.1)
    step = 10 ** math.floor(math.log10(wanted))
    return min(f * step for f in (1, 2, 5, 10) if f * step >= wanted)


def _wave_label(wave_id: str) -> str:
    """DW-WH-N-20261202025251809 -> WH-N 02:52:51"""
    depot, _, stamp = wave_id.removeprefix("DW-").rpartition("-")
    return f"{depot} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}" if len(stamp) >= 14 else wave_id
