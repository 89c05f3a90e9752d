"""/api/v1/alerts: the forecast center posts forecasts and observed AQI as JSON, and asks for an evaluation;
stored forecasts replay their evaluation; episodes, proposals, decisions and confirmations (scoped as every
read: an episode is seen across its reach).

The body is the upload's rows as objects ({"values": [{"unit": "510100", "date": "2026-12-10", "aqi": 250}]}):
docs/alerts.md. A body with any bad item is refused whole, each problem naming the item and the field.
"""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.alerts import services as alerts
from app.alerts import workflow
from app.alerts.domain import readings
from app.alerts.models import Episode, EpisodeUnit, ForecastIssue, Proposal, ReadingKind
from app.alerts.services import drafts, forecasts, observed, proposals
from app.alerts.services import episodes as episode_services
from app.alerts.vocabulary import ProposalKind, ProposalState, label
from app.api.blueprint import bp
from app.api.common import iso
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import NotFound, ServiceError
from app.core.inputs import json_object
from app.db import utcnow
from app.extensions import db
from app.places.models import Jurisdiction


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


# --- stored forecasts, episodes, proposals, decisions, confirmations ----------------------------------------


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ServiceError(_("%(key)s 应为文本。", key=key), field=key)
    return value


def _int(data: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ServiceError(_("%(key)s 应为整数。", key=key), field=key)
    return value


def issue_json(issue: ForecastIssue) -> dict[str, Any]:
    return {"id": issue.id, "kind": issue.kind.value, "rows": issue.row_count, "resolution": issue.resolution,
            "digest": issue.digest, "source": issue.source_name, "first_start": iso(issue.first_start),
            "last_start": iso(issue.last_start), "created_at": iso(issue.created_at)}  # fmt: skip


def proposal_json(p: Proposal, user: Any) -> dict[str, Any]:
    return {
        "id": p.id, "episode_id": p.episode_id, "plan": p.episode.plan_code, "kind": p.kind.value,
        "level": p.level.value if p.level else None, "units": list(p.units), "unit_levels": dict(p.unit_levels),
        "starts_at": iso(p.starts_at), "pollution": p.pollution, "weather": p.weather, "reason": p.reason,
        "state": p.state.value, "state_label": label(p.state), "without_approval": p.without_approval,
        "propose_by": iso(p.propose_by), "issued_late": p.issued_late, "issued_at": iso(p.issued_at),
        "chain": [{**step, "words": proposals.step_words(step)} for step in p.chain or []],
        "open_steps": workflow.open_steps(p) if p.state is ProposalState.under_approval else [],
        "decisions": [{"step": d.step, "action": d.action, "role": d.role, "delegated": d.delegated,
                       "user": d.user_name, "decision": d.decision.value, "opinion": d.opinion, "at": iso(d.at)}
                      for d in p.decisions],
        "actions": [a.value for a in workflow.Action if workflow.can(p, a, user)],
    }  # fmt: skip


def episode_json(e: Episode, user: Any, *, full: bool = False) -> dict[str, Any]:
    now = utcnow()
    late = {u.id for u in proposals.unconfirmed(e, now)}
    out: dict[str, Any] = {
        "id": e.id, "plan": e.plan_code, "state": e.state.value, "state_label": label(e.state),
        "level": e.level.value if e.level else None, "started_at": iso(e.started_at), "lifted_at": iso(e.lifted_at),
        "unconfirmed": len(late),
    }  # fmt: skip
    if full:
        codes = dict(db.session.execute(select(Jurisdiction.id, Jurisdiction.code).where(
            Jurisdiction.id.in_({u.jurisdiction_id for u in e.units} or {0}))).all())  # fmt: skip
        out["periods"] = [
            {"id": u.id, "unit": codes.get(u.jurisdiction_id), "level": u.level.value, "starts_at": iso(u.starts_at),
             "ends_at": iso(u.ends_at), "confirmed_at": iso(u.confirmed_at), "unconfirmed": u.id in late,
             "can_confirm": u.can_confirm(user)}
            for u in e.units
        ]  # fmt: skip
        out["proposals"] = [{"id": p.id, "kind": p.kind.value, "state": p.state.value,
                             "level": p.level.value if p.level else None} for p in e.proposals]  # fmt: skip
        out["events"] = [{"kind": ev.kind.value, "label": label(ev.kind), "at": iso(ev.at), "actor": ev.actor_name,
                          "detail": ev.detail} for ev in e.events]  # fmt: skip
    return out


def _issue(issue_id: int) -> ForecastIssue:
    issue = db.session.get(ForecastIssue, issue_id)
    if issue is None:
        raise NotFound(_("没有这份预报。"))
    return issue


@bp.get("/alerts/forecasts/<id:issue_id>")
@require(Permission.view_alerts)
def alerts_forecast(issue_id: int):  # type: ignore[no-untyped-def]
    return issue_json(_issue(issue_id))


@bp.get("/alerts/forecasts/<id:issue_id>/evaluation/<plan>")
@require(Permission.view_alerts)
def alerts_forecast_evaluation(issue_id: int, plan: str):  # type: ignore[no-untyped-def]
    """A stored issue's evaluation under the plan (replayable: the same issue gives the same answer)."""
    if not plan.isidentifier():
        raise ServiceError(_("预案代码无效。"), field="plan")
    issue = _issue(issue_id)
    s = db.session()
    codes = alerts.member_codes(s, plan)
    frame = alerts.frame_of(s, issue)
    return alerts.evaluate(s, plan, frame[frame["unit"].isin(codes)])


@bp.get("/alerts/observations/<id:issue_id>/upgrade/<plan>")
@require(Permission.view_alerts)
def alerts_observed_upgrade(issue_id: int, plan: str):  # type: ignore[no-untyped-def]
    """The upgrade the stored observations call for under the plan's alert in force (seed 002 §3.7.1), judged
    against the latest forecast; `proposal` is null when none is due."""
    if not plan.isidentifier():
        raise ServiceError(_("预案代码无效。"), field="plan")
    s = db.session()
    latest = forecasts.latest_forecast(s)
    return {"plan": plan, "observation": issue_id, "forecast": latest.id if latest else None,
            "proposal": observed.upgrade(s, plan, _issue(issue_id), latest)}  # fmt: skip


@bp.get("/alerts/episodes")
@require(Permission.view_alerts)
def alerts_episodes():  # type: ignore[no-untyped-def]
    s, now = db.session(), utcnow()
    in_force = episode_services.levels_issued(s, now)
    codes = dict(s.execute(select(Jurisdiction.id, Jurisdiction.code).where(
        Jurisdiction.id.in_(set(in_force) or {0}))).all())  # fmt: skip
    return {
        "episodes": [episode_json(e, g.user) for e in episode_services.active(s)],
        "levels": {codes[j]: lv.value for j, lv in sorted(in_force.items()) if j in codes},
    }


@bp.get("/alerts/episodes/<id:episode_id>")
@require(Permission.view_alerts)
def alerts_episode(episode_id: int):  # type: ignore[no-untyped-def]
    return episode_json(proposals.get_episode(db.session(), episode_id), g.user, full=True)


@bp.post("/alerts/proposals")
@require(Permission.propose_alerts)
def alerts_create_proposal():  # type: ignore[no-untyped-def]
    """A proposal from a stored forecast's evaluation (`forecast_issue` + `index`) or by hand."""
    s, data = db.session(), json_object()
    plan = _text(data, "plan")
    if not plan.isidentifier():
        raise ServiceError(_("预案代码无效。"), field="plan")
    episode_id = _int(data, "episode", required=False)
    episode = proposals.get_episode(s, episode_id) if episode_id else None
    issue = None
    if data.get("forecast_issue") is not None:
        issue = _issue(_int(data, "forecast_issue") or 0)
        codes = alerts.member_codes(s, plan)
        frame = alerts.frame_of(s, issue)
        result = alerts.evaluate(s, plan, frame[frame["unit"].isin(codes)])
        draft = drafts.draft_from_evaluation(result, _int(data, "index") or 0, pollution=_text(data, "pollution"),
                                                weather=_text(data, "weather"))  # fmt: skip
    else:
        try:
            kind = ProposalKind(_text(data, "kind"))
        except ValueError:
            raise ServiceError(_("kind 应为 issue、upgrade、downgrade 或 lift。"), field="kind") from None
        units = data.get("units") or []
        if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
            raise ServiceError(_("units 应为行政区划代码的列表。"), field="units")
        unit_levels = data.get("unit_levels") or {}
        if not isinstance(unit_levels, dict) or not all(isinstance(v, str) for v in unit_levels.values()):
            raise ServiceError(_("unit_levels 应为 代码 → 级别 的对象。"), field="unit_levels")
        level = _text(data, "level")
        draft = drafts.Draft(
            kind=kind, level=drafts.parse_level(level) if level else None, units=units,
            starts_at=drafts.parse_when(_text(data, "starts_at")), pollution=_text(data, "pollution"),
            weather=_text(data, "weather"), reason=_text(data, "reason"), unit_levels=unit_levels,
            on_schedule=data.get("on_schedule") is True,
        )  # fmt: skip
    proposal = proposals.create(s, g.user, plan, draft, episode=episode, forecast_issue=issue)
    return proposal_json(proposal, g.user), 201


@bp.get("/alerts/proposals/<id:proposal_id>")
@require(Permission.view_alerts)
def alerts_proposal(proposal_id: int):  # type: ignore[no-untyped-def]
    return proposal_json(proposals.get(db.session(), proposal_id), g.user)


@bp.post("/alerts/proposals/<id:proposal_id>/transitions")
@require(Permission.view_alerts)
def alerts_proposal_transition(proposal_id: int):  # type: ignore[no-untyped-def]
    """submit, withdraw or issue (a decision has its own route)."""
    # The proposal first: one out of reach is not found, whatever the body says.
    s = db.session()
    p = proposals.get(s, proposal_id)
    data = json_object()
    try:
        action = workflow.Action(_text(data, "action"))
    except ValueError:
        raise ServiceError(_("action 应为 submit、withdraw 或 issue。"), field="action") from None
    if action is workflow.Action.decide:
        raise ServiceError(_("审批意见请提交到 /decisions。"), field="action")
    proposals.transition(s, p, action, g.user)
    return proposal_json(p, g.user)


@bp.post("/alerts/proposals/<id:proposal_id>/decisions")
@require(Permission.decide_alerts)
def alerts_proposal_decide(proposal_id: int):  # type: ignore[no-untyped-def]
    # The proposal first: one out of reach is not found, whatever the body says.
    s = db.session()
    p = proposals.get(s, proposal_id)
    data = json_object()
    step = _int(data, "step", required=False)
    form = {"decision": _text(data, "decision"), "opinion": _text(data, "opinion"), "step": step}
    proposals.transition(s, p, workflow.Action.decide, g.user, form)
    return proposal_json(p, g.user)


@bp.post("/alerts/units/<id:unit_id>/confirmation")
@require(Permission.confirm_alerts)
def alerts_confirm(unit_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    unit = s.get(EpisodeUnit, unit_id)
    if unit is None:
        raise NotFound(_("没有这条预警执行记录，或不在您的辖区内。"))
    data = json_object()
    proposals.confirm(s, unit, g.user, _text(data, "note"))
    return episode_json(unit.episode, g.user, full=True)
