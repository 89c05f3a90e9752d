"""Routes: the lists of a bureau and their lifecycle (being written)."""

from flask import redirect, url_for

from app.auth.roles import Permission
from app.core.access import require
from app.reduction.views import bp


@bp.get("/")
@require(Permission.view_lists)
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for("core.index"))
