"""The demo's report: one self-contained HTML file (no request to the internet when opened): a map per depot
with its routes drawn over the coordinates in colour, stops numbered, the depot and the city area outlined;
the KPI table; orders accepted over time and on-time rate per wave as bar charts. All inline SVG."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

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


def depot_map(depot: dict[str, Any], routes: list[dict[str, Any]], where: dict[str, tuple[float, float]]) -> str:
    points = [(depot["latitude"], depot["longitude"])] + [where[s["shipment_id"]] for r in routes for s in r["stops"]
                                                          if s["shipment_id"] in where]
    xy, city_r = _projector(points)
    home = xy(depot["latitude"], depot["longitude"])
    parts = [f'<svg class="map" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}" role="img" '
             f'aria-label="routes of {html.escape(depot["id"])}">',
             f'<rect width="{SIZE}" height="{SIZE}" fill="#f7f7f2"/>',
             f'<circle cx="{SIZE / 2:.1f}" cy="{SIZE / 2:.1f}" r="{city_r:.1f}" fill="none" stroke="#999" '
             'stroke-dasharray="6 4"><title>city area</title></circle>']
    for n, route in enumerate(routes):
        colour = COLOURS[n % len(COLOURS)]
        path = [home] + [xy(*where[s["shipment_id"]]) for s in route["stops"] if s["shipment_id"] in where] + [home]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in path) + f'"><title>{html.escape(route["vehicle_id"])}: '
                     f'{len(route["stops"])} stops, {route["distance_km"]} km</title></polyline>')
        for stop in route["stops"]:
            if stop["shipment_id"] not in where:
                continue
            x, y = xy(*where[stop["shipment_id"]])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>'
                         f'<text x="{x:.1f}" y="{y + 3:.1f}" font-size="8" text-anchor="middle" fill="#fff">'
                         f'{stop["sequence"]}</text>')
    parts.append(f'<rect x="{home[0] - 7:.1f}" y="{home[1] - 7:.1f}" width="14" height="14" fill="#222">'
                 f'<title>depot {html.escape(depot["id"])}</title></rect></svg>')
    return "".join(parts)


def bar_chart(title: str, values: Sequence[tuple[str, float]], unit: str = "", top: float | None = None) -> str:
    width, height, pad = 520, 200, 30
    peak = top or max([v for _, v in values] + [1])
    step = (width - 2 * pad) / max(1, len(values))
    bars = []
    for i, (label, value) in enumerate(values):
        h = (height - 2 * pad) * value / peak
        x = pad + i * step
        bars.append(f'<rect x="{x + 1:.1f}" y="{height - pad - h:.1f}" width="{max(1.0, step - 2):.1f}" height="{h:.1f}" '
                    f'fill="#4363d8"><title>{html.escape(label)}: {value:g}{unit}</title></rect>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}"><line x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
            f'y2="{height - pad}" stroke="#333"/>{"".join(bars)}<text x="{pad}" y="{pad - 10}" font-size="11">'
            f'max {peak:g}{unit}</text></svg></figure>')


def render(world: World, plans: dict[str, dict[str, Any]], where: dict[str, tuple[float, float]],
           kpis: list[tuple[str, str, str]], accepted_at: Sequence[float], on_time: dict[str, list[bool]],
           conservation: dict[str, bool], title: str) -> str:
    maps = []
    for w in world.warehouses:
        routes = [r for plan in plans.values() if plan["depot_id"] == w["id"] for r in plan["routes"]]
        stops = sum(len(r["stops"]) for r in routes)
        maps.append(f'<section class="depot"><h3>{html.escape(w["id"])} ({html.escape(w["name"])}): '
                    f'{len(routes)} route(s), {stops} stop(s)</h3>{depot_map(w, routes, where)}</section>')
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td class='v'>{html.escape(v)}</td><td>{html.escape(h)}</td></tr>"
                   for n, v, h in kpis)
    checks = "".join(f"<li class='{'ok' if ok else 'bad'}'>{'✔' if ok else '✘'} {html.escape(name)}</li>"
                     for name, ok in conservation.items())
    buckets: dict[int, int] = {}
    for t in accepted_at:
        buckets[int(t // 5)] = buckets.get(int(t // 5), 0) + 1
    over_time = [(f"{b * 5}-{b * 5 + 5} s", float(buckets.get(b, 0))) for b in range(max(buckets, default=0) + 1)]
    per_wave = [(wave, 100.0 * sum(v) / len(v)) for wave, v in sorted(on_time.items()) if v]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.maps {{ display: flex; flex-wrap: wrap; gap: 1.5em; }} .depot h3 {{ font-size: 1em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }} td.v {{ text-align: right; }}
.ok {{ color: #2a7d2a; }} .bad {{ color: #b00; font-weight: bold; }} figure {{ display: inline-block; margin: 1em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Routes per depot</h2><div class="maps">{''.join(maps)}</div>
<h2>Key figures</h2><table id="kpis"><tr><th>KPI</th><th>value</th><th>how it is counted</th></tr>{rows}</table>
<h2>Conservation checks</h2><ul id="conservation">{checks}</ul>
<h2>Over time</h2>
{bar_chart("Orders accepted per 5 s", over_time)}
{bar_chart("On-time deliveries per wave (inside the promised ETA window)", per_wave, "%", 100)}
</body></html>
"""
