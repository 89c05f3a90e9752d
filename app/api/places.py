"""GET /api/v1/places: jurisdictions with codes, parents, zones and neighbours."""

from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api.blueprint import bp
from app.auth.roles import Permission
from app.core.access import require
from app.core.web import json_error
from app.extensions import db
from app.places import queries
from app.places.models import Jurisdiction, JurisdictionLevel
from app.plans import services as plans


@bp.get("/places")
@require(Permission.view_places)
def places():  # type: ignore[no-untyped-def]
    s = db.session()
    stmt = select(Jurisdiction).order_by(Jurisdiction.code)
    level = request.args.get("level")
    if level:
        if level not in {lv.value for lv in JurisdictionLevel}:
            return json_error(
                400, "invalid_parameter", f"level must be one of province, city, county; got {level!r}", field="level"
            )
        stmt = stmt.where(Jurisdiction.level == JurisdictionLevel(level))
    under = request.args.get("under")
    if under:
        root = s.scalars(select(Jurisdiction).where(Jurisdiction.code == under[:12])).first()
        if root is None:
            return json_error(400, "invalid_parameter", f"unknown jurisdiction code {under!r}", field="under")
        stmt = stmt.where(Jurisdiction.path.startswith(root.path))
    rows = s.scalars(stmt).all()
    parents = dict(s.execute(select(Jurisdiction.id, Jurisdiction.code)).all())
    neighbours = queries.neighbour_codes(s)
    zones = plans.zones_by_member(s)
    return {
        "count": len(rows),
        "places": [
            {
                "code": j.code,
                "name": j.name,
                "short_name": j.short_name,
                "level": j.level.value,
                "kind": j.kind,
                "official_code": j.official,
                "parent": parents.get(j.parent_id) if j.parent_id else None,
                "zones": zones.get(j.code, []),
                "neighbours": neighbours.get(j.code, []),
            }
            for j in rows
        ],
    }
