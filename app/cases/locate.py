"""Where a new case is, when the form leaves the county to the system: the listed enterprise's county (its
credit code on a reduction list), else the place its coordinates fall in (inventories/places/outlines.geojson:
重庆's districts and counties, 四川's cities; a point in a Sichuan city gives the city, to be narrowed by hand)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.scoping import unscoped
from app.places.mapsvg import outlines
from app.places.models import Jurisdiction

AUTO = "auto"  # the picker's first option: from the location or the enterprise


def enterprise_place(session: Session, uscc: str | None) -> tuple[Jurisdiction, str] | None:
    """The county of the enterprise with this credit code on the latest reduction list holding it, and its name."""
    from app.reduction.models import Enterprise

    if not uscc:
        return None
    with unscoped(session):
        row = session.execute(
            select(Enterprise.jurisdiction_id, Enterprise.name).where(Enterprise.uscc == uscc)
            .order_by(Enterprise.id.desc()).limit(1)
        ).first()  # fmt: skip
        place = session.get(Jurisdiction, row.jurisdiction_id) if row else None
    return (place, row.name) if place is not None and row is not None else None


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting: is the point inside the ring (lon/lat pairs)?"""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / ((yj - yi) or 1e-12) + xi:
            inside = not inside
        j = i
    return inside


def code_at(lat: float, lon: float) -> str | None:
    """The code of the unit whose outline holds the point (a hole counts as outside), the smallest if several."""
    found = []
    for code, feature in outlines().items():
        geometry: dict[str, Any] = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry.get("coordinates", [])
        if geometry["type"] not in ("Polygon", "MultiPolygon"):
            continue
        for polygon in polygons:
            outer, *holes = polygon
            if _inside(lon, lat, outer) and not any(_inside(lon, lat, h) for h in holes):
                found.append(code)
                break
    # a county's code does not end in "00"; prefer it to a city's
    return sorted(found, key=lambda c: (c.endswith("00"), c))[0] if found else None


def place_at(session: Session, lat: float | None, lon: float | None) -> Jurisdiction | None:
    if lat is None or lon is None:
        return None
    code = code_at(lat, lon)
    if code is None:
        return None
    with unscoped(session):
        return session.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).first()


__all__ = ["AUTO", "code_at", "enterprise_place", "place_at"]
