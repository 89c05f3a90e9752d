"""Places: the jurisdiction tree, the plans' linkage zones and each unit's neighbours."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from app.auth.roles import Permission
from app.core.access import require
from app.extensions import db
from app.places import queries
from app.places.models import Jurisdiction
from app.plans import services as plan_services
from app.plans import services as plans

bp = Blueprint("places", __name__, url_prefix="/places")


@bp.app_template_global("unit_map")
def unit_map(levels, title: str = "", labels=None):  # type: ignore[no-untyped-def]
    """The SVG map of `levels` (unit code → level) for templates: see templates/places/_map.html."""
    from app.places import mapsvg

    return mapsvg.render(levels, title=title, labels=labels)


@bp.get("/")
@require(Permission.view_places)
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    provinces = s.scalars(
        select(Jurisdiction).where(Jurisdiction.parent_id.is_(None)).order_by(Jurisdiction.code)
    ).all()
    plans = plan_services.all_plans(s)
    return render_template("places/index.html", provinces=provinces, plans=plans)


@bp.get("/<code>")
@require(Permission.view_places)
def detail(code: str):  # type: ignore[no-untyped-def]
    s = db.session()
    place = s.scalars(select(Jurisdiction).where(Jurisdiction.code == code[:12])).first()
    if place is None:
        abort(404)
    codes = queries.neighbour_codes(s).get(place.code, [])
    neighbours = s.scalars(select(Jurisdiction).where(Jurisdiction.code.in_(codes)).order_by(Jurisdiction.code)).all()
    zones = plans.zones_by_member(s).get(place.code, [])
    return render_template("places/detail.html", place=place, neighbours=neighbours, zones=zones)
