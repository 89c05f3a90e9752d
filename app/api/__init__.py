"""The JSON API under /api/v1: session cookie or bearer token, scoped like the screens, errors as JSON."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, g

from app.core.access import login_required, public

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.yaml")


@bp.get("/openapi.yaml")
@public
def openapi():  # type: ignore[no-untyped-def]
    return Response(OPENAPI.read_bytes(), mimetype="application/yaml")


@bp.get("/me")
@login_required
def me():  # type: ignore[no-untyped-def]
    user = g.user
    return {
        "username": user.username,
        "display_name": user.display_name,
        "bureau": {"id": user.bureau.id, "name": user.bureau.name},
        "jurisdiction": user.jurisdiction.code,
        "roles": sorted(r.value for r in user.roles),
    }


from app.api import alerts as _alerts  # noqa: E402,F401  routes register on bp
from app.api import cases as _cases  # noqa: E402,F401  routes register on bp
from app.api import crosscheck as _crosscheck  # noqa: E402,F401  routes register on bp
from app.api import jobs as _jobs  # noqa: E402,F401  routes register on bp
from app.api import places as _places  # noqa: E402,F401  routes register on bp
from app.api import reduction as _reduction  # noqa: E402,F401  routes register on bp
from app.api import response as _response  # noqa: E402,F401  routes register on bp
