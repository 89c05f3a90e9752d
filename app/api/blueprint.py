"""The API blueprint and its own two routes; each feature's routes add themselves to it (app/api/<feature>.py)."""

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
