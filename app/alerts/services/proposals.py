"""Alert proposals through their plan's approval chain, issued, and confirmed by the member units.

One transition function (`transition`) moves a proposal: drafted → under_approval (submit; straight to
approved when the plan needs no approval, a lift on schedule in Kashgar) → approved (the chain's last decision)
→ issued (the running bureau); refused by any step's refusal; withdrawn by the proposer before a decision.
`Proposal.can_<action>(user)` asks the same rules. The chain is the plan's for the level at stake (the new
level of an issue or upgrade, the level in force for a downgrade or lift); consecutive steps of one action
(the red alert's two approvals: Sichuan's vice-governor and Chongqing's vice-mayor) may be decided in either
order. Issuing writes the member units' activation periods, flags an issue later than the plan's advance
notice, notifies the units' bureaus and calls the change hook (services/episodes.py). Each member unit
confirms its own start (`confirm`). Every step is an event of the episode's timeline and an audit entry, in
the same transaction; services flush, the request commits.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Episode, EpisodeEvent, EpisodeReach, EpisodeUnit, ForecastIssue, Proposal
from app.alerts.services import episodes as episode_services
from app.alerts.services.drafts import Draft, parse_level
from app.alerts.services.notices import notify_bureaus, notify_deciders
from app.alerts.vocabulary import (
    Decision,
    EpisodeState,
    EventKind,
    ProposalKind,
    ProposalState,
    label,
)
from app.alerts.workflow import Action, can, can_confirm, open_steps, step_fits, steps_for
from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Permission, Role
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.db import utcnow
from app.notifications.models import NotificationKind
from app.notifications.services import bureaus_of
from app.places.models import Jurisdiction
from app.plans import services as plans
from app.plans.models import Plan
from app.plans.schema import Rules
from app.reduction.domain.vocabulary import AlertLevel

# --- reading ------------------------------------------------------------------------------------------------


def get(session: Session, proposal_id: int) -> Proposal:
    found = session.get(Proposal, proposal_id)
    if found is None:
        raise NotFound(_("没有这份预警建议，或不在您的辖区内。"))
    return found


def get_episode(session: Session, episode_id: int) -> Episode:
    found = session.get(Episode, episode_id)
    if found is None:
        raise NotFound(_("没有这次预警过程，或不在您的辖区内。"))
    return found


def plan_of(session: Session, code: str) -> tuple[Plan, Rules]:
    plan = plans.by_code(session, code)
    if plan is None:
        raise NotFound(_("没有代码为 %(code)s 的预案。", code=code))
    rules = plans.rules_of(plan)
    if rules.alert is None or rules.approval is None:
        raise ServiceError(_("预案 %(name)s 没有预警规则或审批程序。", name=plan.name), field="plan")
    return plan, rules


def member_units(session: Session, plan: Plan) -> dict[str, tuple[int, str]]:
    """The plan's member units: code → (jurisdiction id, short name), in the plan's order."""
    geo = plans.geography(session, plan)
    codes = [c for z in geo.zones.values() for c in z]
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(Jurisdiction.code.in_(codes))).all())
    return {c: (ids[c], geo.names.get(c, c)) for c in codes if c in ids}


def open_periods(episode: Episode) -> list[EpisodeUnit]:
    return [u for u in episode.units if u.ends_at is None]


def unconfirmed(episode: Episode, now: datetime) -> list[EpisodeUnit]:
    """Periods in force, begun, and not confirmed by their unit: flagged."""
    return [u for u in open_periods(episode) if u.confirmed_at is None and u.starts_at <= now]


def chain_for(rules: Rules, level: AlertLevel) -> list[dict[str, Any]]:
    assert rules.approval is not None
    return [
        {"action": s.action, "role": s.role, "jurisdiction": s.jurisdiction, "delegate": s.delegate}
        for s in rules.approval.chains.get(level.value, ())
    ]


def create(
    session: Session, user: User, plan_code: str, draft: Draft, *, episode: Episode | None = None,
    forecast_issue: ForecastIssue | None = None,
) -> Proposal:  # fmt: skip
    """A drafted proposal: a new episode's issue, or an upgrade, downgrade or lift of an episode in force."""
    if not user.can(Permission.propose_alerts):
        raise Forbidden(_("您没有拟定预警建议的权限。"))
    return _create(session, user, plan_code, draft, episode=episode, forecast_issue=forecast_issue)


def _create(
    session: Session, user: User | None, plan_code: str, draft: Draft, *, episode: Episode | None = None,
    forecast_issue: ForecastIssue | None = None,
) -> Proposal:  # fmt: skip
    """`create` without the proposer's permission: `user` None is the plan's own rule drafting it (the observed
    upgrade, `propose_on_rule`), which only ever adjusts an episode in force."""
    assert user is not None or episode is not None
    plan, rules = plan_of(session, plan_code)
    members = member_units(session, plan)
    units = list(dict.fromkeys(str(u).strip() for u in draft.units if str(u).strip()))
    unknown = [u for u in units if u not in members]
    if unknown:
        raise ServiceError(_("%(codes)s 不是本预案的成员单位。", codes="、".join(unknown[:10])), field="units")
    current = None
    if draft.kind is ProposalKind.issue:
        if episode is not None:
            raise ServiceError(_("这次预警过程已有发布建议；请改为升级、降级或解除。"), field="kind")
        if draft.level is None:
            raise ServiceError(_("请选择预警级别。"), field="level")
    else:
        if episode is None or episode.plan_code != plan.code:
            raise ServiceError(_("升级、降级和解除须针对一次已发布的预警过程。"), field="episode")
        if episode.state is not EpisodeState.issued:
            raise Conflict(_("这次预警过程%(state)s，不能再升级、降级或解除。", state=label(episode.state)))
        current = episode.level
        in_force = [u for u in open_periods(episode)]
        codes_in_force = _codes(session, [u.jurisdiction_id for u in in_force])
        if not units:
            units = [c for c in members if c in codes_in_force]
        if draft.kind is ProposalKind.lift:
            if draft.level is not None:
                raise ServiceError(_("解除预警不设级别。"), field="level")
            outside = [u for u in units if u not in codes_in_force]
            if outside:
                raise ServiceError(_("%(codes)s 当前没有在执行的预警，无需解除。", codes="、".join(outside[:10])),
                                   field="units")  # fmt: skip
        else:
            if draft.level is None or current is None:
                raise ServiceError(_("请选择预警级别。"), field="level")
            if draft.kind is ProposalKind.upgrade and draft.level.order <= current.order:
                raise ServiceError(_("升级后的级别须高于当前的%(level)s。", level=label(current.value)), field="level")
            if draft.kind is ProposalKind.downgrade and draft.level.order >= current.order:
                raise ServiceError(_("降级后的级别须低于当前的%(level)s。", level=label(current.value)), field="level")
    if not units:
        raise ServiceError(_("请至少选择一个成员单位。"), field="units")
    unit_levels = {c: lv for c, lv in (draft.unit_levels or {}).items() if c in units}
    for lv in unit_levels.values():
        parse_level(lv, "unit_levels")
    if episode is None:
        assert user is not None
        episode = Episode(
            plan_code=plan.code, bureau_id=user.bureau_id, jurisdiction_id=user.jurisdiction_id,
            state=EpisodeState.proposed, level=draft.level, created_by_id=user.id,
        )  # fmt: skip
        session.add(episode)
        session.flush()
    have = set(session.scalars(select(EpisodeReach.jurisdiction_id).where(EpisodeReach.episode_id == episode.id)))
    for c in units:
        if members[c][0] not in have:
            session.add(EpisodeReach(episode_id=episode.id, jurisdiction_id=members[c][0]))
    stake = draft.level if draft.kind in (ProposalKind.issue, ProposalKind.upgrade) else current
    assert stake is not None
    assert rules.alert is not None
    without = draft.kind is ProposalKind.lift and draft.on_schedule and rules.alert.lift_without_approval
    propose_by = draft.propose_by
    if propose_by is None and draft.kind is ProposalKind.issue and rules.alert.advance_notice_hours:
        propose_by = draft.starts_at - timedelta(hours=rules.alert.advance_notice_hours)
    proposal = Proposal(
        episode_id=episode.id, jurisdiction_id=episode.jurisdiction_id, kind=draft.kind, level=draft.level,
        units=units, unit_levels=unit_levels, starts_at=draft.starts_at, pollution=draft.pollution.strip()[:2000],
        weather=draft.weather.strip()[:2000], reason=draft.reason.strip()[:4000], state=ProposalState.drafted,
        chain=[] if without else chain_for(rules, stake), without_approval=without,
        forecast_issue_id=forecast_issue.id if forecast_issue is not None else None, evaluation=draft.evaluation,
        propose_by=propose_by, created_by_id=getattr(user, "id", None),
    )  # fmt: skip
    session.add(proposal)
    session.flush()
    session.refresh(episode, ["proposals"])
    detail = {"kind": draft.kind.value, "level": _v(draft.level), "units": units}
    if user is None:
        detail["by_rule"] = True
    _event(session, proposal, EventKind.drafted, user, detail)
    if user is not None:
        record(session, "alert_proposal.create", obj=proposal, user=user, after=_snapshot(proposal))
    session.flush()
    return proposal


PENDING = (ProposalState.drafted, ProposalState.under_approval, ProposalState.approved)


def pending(episode: Episode, kind: ProposalKind) -> list[Proposal]:
    """The episode's proposals of this kind not yet issued, refused or withdrawn."""
    return [p for p in episode.proposals if p.kind is kind and p.state in PENDING]


def propose_on_rule(
    session: Session, episode: Episode, draft: Draft, *, forecast_issue: ForecastIssue | None = None,
    uploader: User | None = None, now: datetime | None = None,
) -> Proposal:  # fmt: skip
    """A proposal the plan's own rule calls for (the observed upgrade of seed 002 §3.7.1: "应……及时调整到更高级别
    的预警"), drafted for the episode's running bureau and submitted at once into the plan's approval chain for the
    new level, so that its deciders get it in their work list and a notification now; the chain's first step (the
    office director's review in Kashgar) is the people's check. Its timeline says it came by the rule; the audit
    entry names the upload that brought the observations (`uploader`)."""
    now = now or utcnow()
    proposal = _create(session, None, episode.plan_code, draft, episode=episode, forecast_issue=forecast_issue)
    _submit(session, proposal, None, now, {"by_rule": True}, also=[episode.bureau_id])
    record(session, "alert_proposal.propose_on_rule", obj=proposal, user=uploader,
           after={**_snapshot(proposal), "reason": proposal.reason[:500]})  # fmt: skip
    session.flush()
    return proposal


def _codes(session: Session, ids: list[int]) -> set[str]:
    if not ids:
        return set()
    return set(session.scalars(select(Jurisdiction.code).where(Jurisdiction.id.in_(ids))))


def _v(level: AlertLevel | None) -> str | None:
    return level.value if level is not None else None


def _snapshot(p: Proposal) -> dict[str, Any]:
    return {"episode": p.episode_id, "kind": p.kind.value, "level": _v(p.level), "units": p.units,
            "unit_levels": p.unit_levels, "starts_at": p.starts_at, "state": p.state.value,
            "without_approval": p.without_approval}  # fmt: skip


def _event(session: Session, proposal: Proposal, kind: EventKind, user: User | None, detail: dict[str, Any]) -> None:
    session.add(EpisodeEvent(
        episode_id=proposal.episode_id, jurisdiction_id=proposal.jurisdiction_id, proposal_id=proposal.id,
        kind=kind, actor_id=getattr(user, "id", None), actor_name=getattr(user, "display_name", "") or "",
        detail=_plain(detail),
    ))  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


# --- the transition function --------------------------------------------------------------------------------


def _submit(session: Session, proposal: Proposal, user: User | None, now: datetime, detail: dict[str, Any],
            also: list[int] | None = None) -> None:  # fmt: skip
    """Into the approval chain, or approved at once when the plan asks for none; `user` None: by the plan's rule."""
    proposal.submitted_at = now
    if not proposal.chain:
        proposal.state, proposal.approved_at = ProposalState.approved, now
        _event(session, proposal, EventKind.submitted, user, {**detail, "without_approval": True})
        notify_bureaus(session, proposal, NotificationKind.alert_approved, [proposal.episode.bureau_id])
    else:
        proposal.state = ProposalState.under_approval
        _event(session, proposal, EventKind.submitted, user, detail)
        notify_deciders(session, proposal, also=also)


def transition(
    session: Session, proposal: Proposal, action: Action, user: User, data: Mapping[str, Any] | None = None,
    *, now: datetime | None = None,
) -> Proposal:  # fmt: skip
    """Move the proposal by `action` (submit, decide, withdraw, issue) if the user may; refuse with the reason."""
    data = data or {}
    now = now or utcnow()
    if not can(proposal, action, user):
        raise Forbidden(_why_not(proposal, action, user))
    before = proposal.state
    if action is Action.submit:
        _submit(session, proposal, user, now, {})
    elif action is Action.withdraw:
        proposal.state = ProposalState.withdrawn
        _event(session, proposal, EventKind.withdrawn, user, {})
        _cancel_if_never_issued(proposal)
    elif action is Action.decide:
        _decide(session, proposal, user, data, now)
    elif action is Action.issue:
        _issue(session, proposal, user, now)
    record(session, f"alert_proposal.{action.value}", obj=proposal, user=user,
           before={"state": before.value}, after={"state": proposal.state.value, "step": proposal.step})  # fmt: skip
    try:
        session.flush()
    except Exception as e:
        from sqlalchemy.orm.exc import StaleDataError

        if isinstance(e, StaleDataError):
            raise Conflict(_("这份建议刚被他人处理过，请刷新后重试。")) from e
        raise
    return proposal


def _why_not(proposal: Proposal, action: Action, user: User) -> str:
    state = label(proposal.state)
    if action is Action.decide:
        if proposal.state is not ProposalState.under_approval:
            return _("这份建议%(state)s，不在审批中。", state=state)
        if any(d.user_id == user.id for d in proposal.decisions):
            return _("您已审批过这份建议的一个环节；每个环节须由不同的人审批。")
        wanted = "、".join(_step_words(proposal.chain[s]) for s in open_steps(proposal))
        return _("当前环节须由%(who)s审批。", who=wanted)
    if action is Action.issue and proposal.state is not ProposalState.approved:
        return _("这份建议%(state)s，批准后才能发布。", state=state)
    if proposal.state is not ProposalState.drafted and action is Action.submit:
        return _("这份建议%(state)s，不能再提交。", state=state)
    if action is Action.withdraw and proposal.decisions:
        return _("已有审批意见的建议不能撤回。")
    return _("只有拟定这次预警的单位（%(bureau)s）可以这样做。", bureau=_bureau_name(proposal))


def _bureau_name(proposal: Proposal) -> str:
    from app.auth.models import Bureau
    from app.core.scoping import unscoped

    session = _session_of(proposal)
    with unscoped(session):
        bureau = session.get(Bureau, proposal.episode.bureau_id)
    return bureau.name if bureau is not None else ""


def _session_of(obj: Any) -> Session:
    from sqlalchemy.orm import object_session

    s = object_session(obj)
    assert s is not None
    return s


def _step_words(step: Mapping[str, Any]) -> str:
    from app.auth.labels import ROLE_LABELS

    role = str(ROLE_LABELS.get(Role(step["role"]), step["role"]))
    where = {"510000": _("四川省"), "500000": _("重庆市")}.get(
        step.get("jurisdiction") or "", step.get("jurisdiction") or ""
    )
    words = f"{where}{role}"
    if step.get("delegate"):
        words += _("（或其委托的%(who)s）", who=str(ROLE_LABELS.get(Role(step["delegate"]), step["delegate"])))
    return words


def step_words(step: Mapping[str, Any]) -> str:
    return _step_words(step)


def _decide(session: Session, proposal: Proposal, user: User, data: Mapping[str, Any], now: datetime) -> None:
    from app.alerts.models import ProposalDecision

    steps = steps_for(proposal, user)
    wanted = data.get("step")
    if wanted not in (None, ""):
        try:
            step = int(wanted)
        except (TypeError, ValueError):
            raise ServiceError(_("审批环节无效。"), field="step") from None
        if step not in steps:
            raise Forbidden(_("您不能审批这个环节。"))
    else:
        step = steps[0]
    try:
        decision = Decision(str(data.get("decision") or ""))
    except ValueError:
        raise ServiceError(_("请选择同意或不同意。"), field="decision") from None
    opinion = str(data.get("opinion") or "").strip()[:2000]
    if decision is Decision.refuse and not opinion:
        raise ServiceError(_("不同意时请填写意见。"), field="opinion")
    delegated = step_fits(proposal.chain[step], user)[1]
    spec = proposal.chain[step]
    session.add(ProposalDecision(
        proposal_id=proposal.id, episode_id=proposal.episode_id, jurisdiction_id=proposal.jurisdiction_id,
        step=step, action=spec["action"], role=spec["delegate"] if delegated else spec["role"], delegated=delegated,
        user_id=user.id, user_name=user.display_name, bureau_name=user.bureau.name if user.bureau else "",
        decision=decision, opinion=opinion, at=now,
    ))  # fmt: skip
    proposal.step += 1
    _event(session, proposal, EventKind.decided, user, {"step": step, "action": spec["action"], "role": spec["role"],
                                                        "delegated": delegated, "decision": decision.value,
                                                        "opinion": opinion})  # fmt: skip
    session.flush()
    session.refresh(proposal, ["decisions"])
    if decision is Decision.refuse:
        proposal.state, proposal.refused_at = ProposalState.refused, now
        _event(session, proposal, EventKind.refused, user, {"opinion": opinion})
        notify_bureaus(session, proposal, NotificationKind.alert_refused, [proposal.episode.bureau_id], detail=opinion)
        _cancel_if_never_issued(proposal)
    elif proposal.step >= len(proposal.chain):
        proposal.state, proposal.approved_at = ProposalState.approved, now
        _event(session, proposal, EventKind.approved, user, {})
        notify_bureaus(session, proposal, NotificationKind.alert_approved, [proposal.episode.bureau_id])
    else:
        notify_deciders(session, proposal)


def _cancel_if_never_issued(proposal: Proposal) -> None:
    episode = proposal.episode
    if proposal.kind is ProposalKind.issue and episode.state is EpisodeState.proposed:
        episode.state = EpisodeState.cancelled


def _issue(session: Session, proposal: Proposal, user: User, now: datetime) -> None:
    episode = proposal.episode
    _plan, rules = plan_of(session, episode.plan_code)
    start = proposal.starts_at
    assert rules.alert is not None
    flags: dict[str, Any] = {}
    if proposal.kind in (ProposalKind.issue, ProposalKind.upgrade) and rules.alert.advance_notice_hours:
        notice = timedelta(hours=rules.alert.advance_notice_hours)
        if now > start - notice:
            proposal.issued_late = True
            ahead = (start - now).total_seconds() / 3600
            flags = {"late": True, "hours_ahead": round(ahead, 1), "notice_hours": rules.alert.advance_notice_hours,
                     "min_hours": rules.alert.advance_notice_min_hours}  # fmt: skip
    proposal.state, proposal.issued_at, proposal.issued_by_id = ProposalState.issued, now, user.id
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(
        Jurisdiction.code.in_(proposal.units))).all())  # fmt: skip
    by_id = {ids[c]: c for c in proposal.units if c in ids}
    open_rows = {u.jurisdiction_id: u for u in open_periods(episode)}
    if proposal.kind is ProposalKind.issue:
        if episode.state is not EpisodeState.proposed:
            raise Conflict(_("这次预警过程已经发布过。"))
        for jid, code in by_id.items():
            session.add(_period(episode, proposal, jid, code, start))
        episode.state, episode.started_at = EpisodeState.issued, start
    elif proposal.kind is ProposalKind.lift:
        for jid in by_id:
            row = open_rows.get(jid)
            if row is not None:
                row.ends_at, row.ended_by_id = max(start, row.starts_at), proposal.id
    else:
        for jid, code in by_id.items():
            row = open_rows.get(jid)
            at = start
            if row is not None:
                at = max(start, row.starts_at)
                row.ends_at, row.ended_by_id = at, proposal.id
            session.add(_period(episode, proposal, jid, code, at))
    session.flush()
    session.refresh(episode, ["units"])
    still = open_periods(episode)
    if still:
        episode.level = max((u.level for u in still), key=lambda lv: lv.order)
    elif proposal.kind is ProposalKind.lift:
        episode.state = EpisodeState.lifted
        episode.lifted_at = max(start, episode.started_at or start)
    _event(session, proposal, EventKind.issued, user, {"kind": proposal.kind.value, "level": _v(proposal.level),
                                                       "units": proposal.units, **flags})  # fmt: skip
    bureaus: list[int] = []
    for jid in by_id:
        bureaus += bureaus_of(session, jid)
    notify_bureaus(session, proposal, NotificationKind.alert_issued, bureaus)
    episode_services.changed(session, episode, user)


def _period(episode: Episode, proposal: Proposal, jid: int, code: str, at: datetime) -> EpisodeUnit:
    level = proposal.level_of(code)
    assert level is not None
    return EpisodeUnit(episode_id=episode.id, jurisdiction_id=jid, proposal_id=proposal.id, level=level,
                       starts_at=at)  # fmt: skip


def confirm(session: Session, unit: EpisodeUnit, user: User, note: str = "", *, now: datetime | None = None) -> None:
    """The member unit confirms that it has started the alert at this level (seed 000 四(五)2)."""
    if not can_confirm(unit, user):
        if unit.confirmed_at is not None:
            raise Conflict(_("本单位已确认启动。"))
        raise Forbidden(_("只有该成员单位本级的生态环境部门可以确认启动，且须在预警执行期间。"))
    now = now or utcnow()
    unit.confirmed_at, unit.confirmed_by_id, unit.confirmation_note = now, user.id, note.strip()[:2000]
    session.add(EpisodeEvent(
        episode_id=unit.episode_id, jurisdiction_id=unit.episode.jurisdiction_id, proposal_id=unit.proposal_id,
        kind=EventKind.confirmed, actor_id=user.id, actor_name=user.display_name,
        detail={"unit": unit.jurisdiction_id, "level": unit.level.value, "note": unit.confirmation_note},
    ))  # fmt: skip
    record(session, "episode_unit.confirm", obj=unit, user=user,
           after={"episode": unit.episode_id, "level": unit.level.value, "confirmed_at": now})  # fmt: skip
    session.flush()
