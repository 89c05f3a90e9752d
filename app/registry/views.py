"""The registry page of an enterprise: its identity, units, facilities and meters, the list versions that
hold it and its history (scoped like every row: the reader's jurisdictions only)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from app.auth.roles import Permission
from app.core.access import require
from app.extensions import db
from app.reduction.services.lists import STATE_LABELS
from app.registry import services as registry

bp = Blueprint("registry", __name__, url_prefix="/registry")

ACTION_LABELS = {
    "registered": _l("登记"),
    "changed": _l("变更"),
    "listed": _l("列入清单"),
    "delisted": _l("移出清单"),
}
ENTITY_LABELS = {"enterprise": _l("企业"), "unit": _l("生产单元"), "facility": _l("治污设施"), "meter": _l("电表")}


@bp.get("/enterprises/<bigid:registry_id>")
@require(Permission.view_lists)
def enterprise(registry_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    reg = registry.get_enterprise(s, registry_id)
    return render_template(
        "registry/enterprise.html",
        reg=reg,
        history=registry.history(s, reg),
        listings=registry.listings(s, reg),
        action_labels=ACTION_LABELS,
        entity_labels=ENTITY_LABELS,
        state_labels=STATE_LABELS,
    )
