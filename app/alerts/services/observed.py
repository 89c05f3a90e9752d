"""The observed upgrade of a plan's alert in force (app/alerts/domain/observed.py): from a stored observation
issue and, when given, the latest forecast issue, the upgrade proposal as a Draft ready for proposals.create."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.domain import observed as domain
from app.alerts.models import ForecastIssue, ReadingKind
from app.alerts.services import episodes
from app.alerts.services.drafts import Draft
from app.alerts.services.forecasts import evaluate, frame_of, member_codes
from app.alerts.vocabulary import ProposalKind
from app.core.errors import NotFound, ServiceError
from app.places.models import Jurisdiction
from app.plans import services as plans
from app.reduction.domain.vocabulary import AlertLevel


def _evaluation(session: Session, plan_code: str, issue: ForecastIssue) -> dict[str, Any]:
    frame = frame_of(session, issue)
    return evaluate(session, plan_code, frame[frame["unit"].isin(member_codes(session, plan_code))])


def upgrade(session: Session, plan_code: str, observation: ForecastIssue,
            forecast: ForecastIssue | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The upgrade proposal (evaluation form, with its reason) the observations call for, or None."""
    if observation.kind is not ReadingKind.observation:
        raise ServiceError(_("请选择实测数据（而非预报）。"), field="issue")
    plan = plans.by_code(session, plan_code)
    if plan is None:
        raise NotFound(_("没有代码为 %(code)s 的预案。", code=plan_code[:40]))
    rules = plans.rules_of(plan).alert
    if rules is None or not rules.upgrade_observed_hours:
        return None
    seen = _evaluation(session, plan_code, observation)
    if not seen["activations"]:
        return None
    at = datetime.fromisoformat(max(a["end"] for a in seen["activations"]))
    codes = sorted(member_codes(session, plan_code))
    ids = dict(session.execute(select(Jurisdiction.id, Jurisdiction.code).where(Jurisdiction.code.in_(codes))).all())
    found = episodes.levels_in_force(session, at, list(ids))
    in_force = {c: (found[j].value if j in found else None) for j, c in ids.items()}
    ahead = _evaluation(session, plan_code, forecast) if forecast is not None else None
    return domain.upgrade(seen, in_force, rules, ahead)


def draft(proposal: dict[str, Any]) -> Draft:
    return Draft(kind=ProposalKind.upgrade, level=AlertLevel(proposal["level"]), units=list(proposal["units"]),
                 starts_at=datetime.fromisoformat(proposal["start"]), reason=proposal["reason"])  # fmt: skip
