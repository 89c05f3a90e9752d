"""The notifications page: read by the reader's bureau; opening one marks it read (a POST) and goes to its object."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for

from app.core.access import login_required
from app.extensions import db
from app.notifications import services
from app.notifications.models import Notification

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

# The object each endpoint's id names, as url_for's keyword.
TARGET_ARGS = {
    "cases.detail": "case_id",
    "reduction.show": "list_id",
    "alerts.proposal": "proposal_id",
    "experts.review": "review_id",
}


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    items = services.for_user(db.session(), g.user, limit=services.PAGE)
    return render_template("notifications/index.html", items=items)


@bp.post("/<bigid:notification_id>/open")
@login_required
def open_one(notification_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    n = s.get(Notification, notification_id)
    if n is None or n.bureau_id != g.user.bureau_id or n.user_id not in (None, g.user.id):
        abort(404)
    services.mark_read(s, g.user, n.id)
    s.commit()
    return redirect(target_url(n.endpoint, n.object_id))


@bp.post("/read")
@login_required
def read_all():  # type: ignore[no-untyped-def]
    s = db.session()
    services.mark_read(s, g.user)
    s.commit()
    return redirect(url_for("notifications.index"))


def target_url(endpoint: str, object_id: int) -> str:
    key = TARGET_ARGS.get(endpoint)
    return url_for(endpoint, **{key: object_id}) if key else url_for("core.index")
