"""Home page, language switch and health check."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from app.auth import services as auth
from app.auth.models import User
from app.core.access import login_required, public
from app.extensions import db
from app.places.models import Jurisdiction

bp = Blueprint("core", __name__)


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    scope = s.info["scope"]
    jurisdictions = len(scope.readable)
    users = s.scalar(select(func.count()).select_from(User))
    home = s.get(Jurisdiction, g.user.jurisdiction_id)
    return render_template("core/index.html", home=home, jurisdictions=jurisdictions, users=users)


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
