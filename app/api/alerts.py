"""/api/v1/alerts: the forecast center posts forecasts and observed AQI as JSON, and asks for an evaluation.

The body is the upload's rows as objects ({"values": [{"unit": "510100", "date": "2026-12-10", "aqi": 250}]}):
docs/alerts.md. A body with any bad item is refused whole, each problem naming the item and the field.
"""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _

from app.alerts import services as alerts
from app.alerts.domain import readings
from app.alerts.models import ReadingKind
from app.api import bp
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import ServiceError
from app.extensions import db


def _parse(plan: str | None) -> readings.Readings:
    s = db.session()
    try:
        return readings.parse("api.json", request.get_data(), alerts.member_codes(s, plan))
    except readings.ReadingsError as e:
        raise ServiceError("；".join(e.problems[:20]), field="values") from e


def _store(kind: ReadingKind):  # type: ignore[no-untyped-def]
    parsed = _parse(None)
    issue, created = alerts.store(db.session(), parsed, kind, "api", g.user)
    body = {"id": issue.id, "kind": issue.kind.value, "created": created, "rows": issue.row_count,
            "resolution": issue.resolution, "digest": issue.digest, "notes": list(parsed.notes)}  # fmt: skip
    return body, 201 if created else 200


@bp.post("/alerts/forecasts")
@require(Permission.submit_forecasts)
def alerts_post_forecast():  # type: ignore[no-untyped-def]
    return _store(ReadingKind.forecast)


@bp.post("/alerts/observations")
@require(Permission.submit_forecasts)
def alerts_post_observation():  # type: ignore[no-untyped-def]
    return _store(ReadingKind.observation)


@bp.post("/alerts/evaluate/<plan>")
@require(Permission.submit_forecasts)
def alerts_evaluate(plan: str):  # type: ignore[no-untyped-def]
    """The evaluation of the posted forecast under the plan (nothing stored): the JSON of `flask alerts evaluate`."""
    if not plan.isidentifier():
        raise ServiceError(_("预案代码无效。"), field="plan")
    parsed = _parse(plan)
    result = alerts.evaluate(db.session(), plan, parsed.frame)
    result["notes"] = list(parsed.notes) + result["notes"]
    return result
