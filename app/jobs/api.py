"""Jobs over JSON: a job's state and progress, and cancelling it (GET/POST /api/v1/jobs/{id})."""

from __future__ import annotations

from flask import g

from app.api.blueprint import bp
from app.core.access import login_required
from app.extensions import db
from app.jobs import services


@bp.get("/jobs/<bigid:job_id>")
@login_required
def job(job_id: int):  # type: ignore[no-untyped-def]
    return services.status_json(services.get_for(db.session(), g.user, job_id)), 200, {"Cache-Control": "no-store"}


@bp.post("/jobs/<bigid:job_id>/cancel")
@login_required
def job_cancel(job_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    j = services.get_for(s, g.user, job_id)
    services.cancel(s, g.user, j)
    return services.status_json(j), 200
