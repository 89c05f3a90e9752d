"""A server-drawn SVG map of member units coloured by alert level, from inventories/places/outlines.geojson.

Plain Python (no shapely, no tiles from outside): the outlines were simplified once by app/places/derive.py;
here they are projected (equirectangular, x scaled by cos of the mean latitude), fitted into a viewBox and
written as one <path> per unit. The SVG has a viewBox and width 100 %, so it scales to a 375 px phone (its
height follows from the CSS class `lf-map`: no inline style, which the Content-Security-Policy refuses).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import lru_cache
from html import escape
from pathlib import Path

from markupsafe import Markup

OUTLINES = Path(__file__).resolve().parents[2] / "inventories" / "places" / "outlines.geojson"
WIDTH = 1000  # viewBox units; the rendered width follows the container

# Alert levels in ascending order with their conventional colours (GB/T 27962 style: blue, yellow, orange, red).
LEVEL_COLOURS = {
    None: "#e5e7eb",
    "none": "#e5e7eb",
    "blue": "#3b82f6",
    "yellow": "#facc15",
    "orange": "#f97316",
    "red": "#dc2626",
}


@lru_cache(maxsize=4)
def outlines(path: Path = OUTLINES) -> dict[str, dict]:
    """Unit code → GeoJSON feature, read once per process."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {f["properties"]["code"]: f for f in doc["features"]}


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for poly in geometry["coordinates"] for ring in poly]
    return []


def render(
    levels: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "",
    path: Path = OUTLINES,
) -> Markup:
    """SVG of the units in `levels` (unit code → level name, an AlertLevel member, or None), each filled
    with its level's colour.

    Units without an outline (local codes such as 两江新区) are left out of the drawing; `labels` (code → text)
    overrides the short names shown in each unit's tooltip (<title>)."""
    features = outlines(path)
    codes = [c for c in levels if c in features]
    if not codes:
        return Markup('<svg class="lf-map" viewBox="0 0 10 10" role="img" aria-label="无地图数据"></svg>')
    rings = {c: _rings(features[c]["geometry"]) for c in codes}
    lats = [pt[1] for c in codes for ring in rings[c] for pt in ring]
    lons = [pt[0] for c in codes for ring in rings[c] for pt in ring]
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
    x0, x1, y0, y1 = min(lons) * kx, max(lons) * kx, min(lats), max(lats)
    scale = WIDTH / max(x1 - x0, 1e-9)
    height = max(1, round((y1 - y0) * scale))

    def point(lon: float, lat: float) -> str:
        return f"{(lon * kx - x0) * scale:.1f},{(y1 - lat) * scale:.1f}"

    parts = [
        f'<svg class="lf-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(title or "地图")}">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for code in sorted(codes):
        level = getattr(levels[code], "value", levels[code])  # an AlertLevel member or its name
        colour = LEVEL_COLOURS.get(level, LEVEL_COLOURS[None])
        d = "".join("M" + "L".join(point(x, y) for x, y in ring) + "Z" for ring in rings[code])
        name = (labels or {}).get(code) or features[code]["properties"].get("name", code)
        parts.append(
            f'<path d="{d}" fill="{colour}" stroke="#374151" stroke-width="0.75" stroke-linejoin="round" '
            'vector-effect="non-scaling-stroke" '
            f'data-unit="{escape(code)}" data-level="{escape(level or "none")}">'
            f"<title>{escape(name)}</title></path>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped, the rest are numbers
