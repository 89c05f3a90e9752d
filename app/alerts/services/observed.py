"""The observed upgrade of a plan's alert in force (app/alerts/domain/observed.py): from a stored observation
issue and, when given, the latest forecast issue, the upgrade proposal as a Draft ready for proposals.create.

`arise` runs when a new observation issue is stored (`app.alerts.services.store`, the one entry of the upload
page, the API and `flask alerts import --observed`): for each issued episode of a plan with the rule, the upgrade
the observations call for is drafted for the episode's running bureau and submitted into the plan's chain
(proposals.propose_on_rule), so that its deciders see it in their work list and get a notification at once:
its own kind (实测升级待审批, `NotificationKind.alert_observed`), naming the observed level and the units that
reached it, for each step of the chain.
An episode that already has an upgrade under way to that level or higher gets no second one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.domain import observed as domain
from app.alerts.models import Episode, EpisodeUnit, ForecastIssue, Proposal, ReadingKind
from app.alerts.services import episodes, proposals
from app.alerts.services.drafts import Draft
from app.alerts.services.forecasts import evaluate, frame_of, latest_forecast, member_codes
from app.alerts.vocabulary import EpisodeState, ProposalKind
from app.core.errors import NotFound, ServiceError
from app.core.scoping import unscoped
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


def arise(session: Session, observation: ForecastIssue, uploader: Any = None,
          now: datetime | None = None) -> list[Proposal]:  # fmt: skip
    """The upgrade proposals a newly stored observation issue calls for, submitted by the plan's rule (above).
    System work on behalf of each episode's running bureau: it reads the episodes and writes their proposals
    whatever the uploader's reach (the forecast centre's scope need not hold the plan's bureau)."""
    if observation.kind is not ReadingKind.observation:
        return []
    made: list[Proposal] = []
    with unscoped(session):
        issued = list(session.scalars(select(Episode).where(Episode.state == EpisodeState.issued).order_by(Episode.id)))
        by_plan: dict[str, list[Episode]] = {}
        for e in issued:
            by_plan.setdefault(e.plan_code, []).append(e)
        ahead = latest_forecast(session) if by_plan else None
        for code, found_episodes in by_plan.items():
            plan = plans.by_code(session, code)
            rules = plans.rules_of(plan).alert if plan is not None else None
            if rules is None or not rules.upgrade_observed_hours:
                continue
            found = upgrade(session, code, observation, ahead)
            if found is None:
                continue
            for episode in found_episodes:
                open_codes = _open_codes(session, episode)
                units = [u for u in found["units"] if u in open_codes]
                level = AlertLevel(found["level"])
                if not units or any(p.level is not None and p.level.order >= level.order
                                    for p in proposals.pending(episode, ProposalKind.upgrade)):  # fmt: skip
                    continue
                made.append(proposals.propose_on_rule(
                    session, episode, draft({**found, "units": units}), forecast_issue=observation, uploader=uploader,
                    now=now,
                ))  # fmt: skip
    return made


def _open_codes(session: Session, episode: Episode) -> set[str]:
    return set(session.scalars(
        select(Jurisdiction.code).join(EpisodeUnit, EpisodeUnit.jurisdiction_id == Jurisdiction.id)
        .where(EpisodeUnit.episode_id == episode.id, EpisodeUnit.ends_at.is_(None))
    ))  # fmt: skip
