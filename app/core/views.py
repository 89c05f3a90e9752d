"""Home page (the work list and the latest notifications), language switch and health check."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from app.auth import services as auth
from app.core.access import login_required, public
from app.extensions import db
from app.notifications import services as notifications
from app.notifications.todos import todos
from app.places.models import Jurisdiction

bp = Blueprint("core", __name__)


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    home = s.get(Jurisdiction, g.user.jurisdiction_id)
    return render_template(
        "core/index.html", home=home, todos=todos(s, g.user, datetime.now(UTC)),
        recent=notifications.for_user(s, g.user, limit=5),
    )  # fmt: skip


@bp.post("/language")
@public
def set_language():  # type: ignore[no-untyped-def]
    lang = request.form.get("lang", "zh")
    lang = lang if lang in ("zh", "en") else "zh"
    if g.user is not None:
        auth.set_locale(db.session(), g.user, lang)
    session["lang"] = lang
    return redirect(request.referrer if _same_site(request.referrer) else url_for("core.index"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)  # type: ignore[union-attr]


@bp.get("/healthz")
@public
def health():  # type: ignore[no-untyped-def]
    db.session.execute(select(1))
    return {"status": "ok"}
