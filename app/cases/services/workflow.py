"""The closed loop: one transition function decides who may move a case from which state, with what data.

discovered → transferred → received → handling → rectifying → verified → closed, with the ways back:
the receiver returns a wrongly routed case (transferred → returned, reason required; the discoverer routes it
again; a case a city bureau passed on (转办) goes back to that city bureau, in the state it held it in), and the
verifier reopens an unfinished rectification (rectifying/verified → rectifying). A case found in the
discoverer's own area is accepted directly (discovered → received). Every transition is a timeline event and an
audit entry in the same transaction; concurrent transitions of one case cannot both win (the case's version
column: the loser gets a Conflict).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.audit.services import record
from app.auth.models import Bureau, User
from app.cases import limits
from app.cases.models import Case, CaseEvent, Evidence
from app.cases.services.choices import WORKERS, assignees, pass_on_targets
from app.cases.vocabulary import CaseState, Escalation, EvidenceKind, label
from app.core.errors import Conflict, Forbidden, ServiceError
from app.core.i18n import N_
from app.core.localtime import LOCAL_TZ
from app.db import utcnow
from app.notifications.models import NotificationKind
from app.notifications.services import notify, notify_officer
from app.places.models import Jurisdiction
from app.plans import services as plans


class Action(enum.StrEnum):
    accept = "accept"
    transfer = "transfer"
    receive = "receive"
    return_ = "return"
    handle = "handle"
    order = "order"
    report = "report"
    verify = "verify"
    reopen = "reopen"
    close = "close"
    pass_on = "pass_on"  # noqa: S105 - 转办: a city bureau passes a case on to a county bureau below it
    assign = "assign"  # to an officer of the holding bureau; the state stays


ACTION_LABELS = {
    Action.accept: N_("本单位直接受理"),
    Action.transfer: N_("移交"),
    Action.receive: N_("签收"),
    Action.return_: N_("退回"),
    Action.handle: N_("开始处置"),
    Action.order: N_("责令整改"),
    Action.report: N_("报告整改完成"),
    Action.verify: N_("核查通过"),
    Action.reopen: N_("整改未完成，退回整改"),
    Action.close: N_("销号"),
    Action.pass_on: N_("转办"),
    Action.assign: N_("指定承办人"),
}


def _discoverer(case: Case, user: User) -> bool:
    return user.bureau_id == case.discovered_bureau_id and bool(user.roles & WORKERS)


def _responsible(case: Case, user: User) -> bool:
    return (
        case.responsible_bureau_id is not None
        and user.bureau_id == case.responsible_bureau_id
        and bool(user.roles & WORKERS)
    )


def _responsible_above(case: Case, user: User) -> bool:
    """The responsible bureau, when the case lies below its own jurisdiction (a city bureau, a county's case)."""
    return _responsible(case, user) and case.jurisdiction_id != user.jurisdiction_id


def _always(_case: Case) -> bool:
    return True


def _not_reported(case: Case) -> bool:
    return case.rectified_at is None


def _reported(case: Case) -> bool:
    return case.rectified_at is not None


@dataclass(frozen=True)
class Rule:
    sources: frozenset[CaseState]
    target: CaseState | None  # None: the state stays (an assignment)
    who: Callable[[Case, User], bool]
    who_text: str
    # A condition on the case beyond its state: rectification reported (`rectified_at`, a column the state's
    # CHECK constraints tie to the state) decides between reporting and verifying.
    when: Callable[[Case], bool] = _always
    when_text: Any = ""  # a lazy message


RULES: dict[Action, Rule] = {
    Action.accept: Rule(frozenset({CaseState.discovered, CaseState.returned}), CaseState.received, _discoverer,
                        "发现单位（本辖区内的问题）"),
    Action.transfer: Rule(frozenset({CaseState.discovered, CaseState.returned}), CaseState.transferred, _discoverer,
                          "发现单位"),
    Action.receive: Rule(frozenset({CaseState.transferred}), CaseState.received, _responsible, "接收单位"),
    Action.return_: Rule(frozenset({CaseState.transferred}), CaseState.returned, _responsible, "接收单位"),
    Action.handle: Rule(frozenset({CaseState.received}), CaseState.handling, _responsible, "接收单位"),
    Action.order: Rule(frozenset({CaseState.handling}), CaseState.rectifying, _responsible, "接收单位"),
    Action.report: Rule(frozenset({CaseState.rectifying}), CaseState.rectifying, _responsible, "接收单位",
                        _not_reported, _l("已报告整改完成，等待发现单位核查。")),
    Action.verify: Rule(frozenset({CaseState.rectifying}), CaseState.verified, _discoverer, "发现单位",
                        _reported, _l("接收单位尚未报告整改完成。")),
    Action.reopen: Rule(frozenset({CaseState.rectifying, CaseState.verified}), CaseState.rectifying, _discoverer,
                        "发现单位"),
    Action.close: Rule(frozenset({CaseState.verified}), CaseState.closed, _discoverer, "发现单位"),
    Action.pass_on: Rule(frozenset({CaseState.transferred, CaseState.received}), CaseState.transferred,
                         _responsible_above, "接收单位（上级单位转办下级单位）"),
    Action.assign: Rule(frozenset({CaseState.received, CaseState.handling, CaseState.rectifying}), None,
                        _responsible, "接收单位"),
}  # fmt: skip


def can(case: Case, action: Action, user: User) -> bool:
    rule = RULES[action]
    if case.state not in rule.sources or not rule.who(case, user):
        return False
    if action is Action.accept:
        return _in_own_area(case, user)
    return rule.when(case)


def available(case: Case, user: User) -> list[Action]:
    """The actions offered on the case page as plain forms (a transfer, a pass-on and an assignment choose a
    bureau or a person: their forms are offered with their choices)."""
    return [a for a in Action if a not in CHOOSING and can(case, a, user)]


CHOOSING = (Action.transfer, Action.pass_on, Action.assign)


def _in_own_area(case: Case, user: User) -> bool:
    from flask import has_app_context

    from app.extensions import db

    if not has_app_context():
        return False
    scope = db.session().info.get("scope")
    return scope is not None and scope.can_write(case.jurisdiction_id)


def _text(
    data: Mapping[str, Any], key: str, field_label: str, *, required: bool = True, limit: int = 1000
) -> str | None:
    value = str(data.get(key) or "").strip()
    if required and not value:
        raise ServiceError(_("请填写%(what)s。", what=field_label), field=key)
    return value[:limit] or None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _evidence_count(session: Session, case: Case, kind: EvidenceKind) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Evidence).where(Evidence.case_id == case.id, Evidence.kind == kind)
        )
        or 0
    )


def plan_limits(session: Session, jurisdiction_id: int) -> list[tuple[str, dict[str, Any] | None]]:
    """The case limits of the plans covering the jurisdiction (app.plans.services.covering: through itself or
    an ancestor, a Sichuan county through its prefecture city)."""
    path = session.scalar(select(Jurisdiction.path).where(Jurisdiction.id == jurisdiction_id)) or ""
    return plans.case_limit_tables(session, path)


def limit_bureau_id(case: Case) -> int | None:
    """Whose own limits apply: the responsible bureau's, or the discovering bureau's while none is."""
    return case.responsible_bureau_id or case.discovered_bureau_id


def limits_for(session: Session, case: Case) -> dict[CaseState, limits.Limit]:
    """The limit of every limited state for this case, and where each comes from."""
    bureau = None
    bureau_id = limit_bureau_id(case)
    if bureau_id is not None:
        # The setting of a bureau outside the reader's jurisdiction (the receiving bureau, for the bureau that
        # verifies) still applies: configuration, read past the scope. Ids, not relationships: a transition
        # has just changed the responsible bureau, and must not flush before it writes the case once.
        row = session.execute(
            select(Bureau.name, Bureau.case_limits).where(Bureau.id == bureau_id)
            .execution_options(include_all_jurisdictions=True)
        ).first()  # fmt: skip
        bureau = (row.name, row.case_limits) if row is not None else None
    return limits.applicable(plan_limits(session, case.jurisdiction_id), bureau)


def due_for(session: Session, case: Case, now: datetime) -> datetime | None:
    if case.state is CaseState.closed:
        return None
    if case.state is CaseState.rectifying and case.rectify_deadline is not None:
        if case.rectified_at is not None:  # waiting for the verifier
            return now + timedelta(hours=limits_for(session, case)[CaseState.verified].hours)
        return datetime.combine(case.rectify_deadline, time(23, 59, 59), LOCAL_TZ).astimezone(UTC)
    limit = limits_for(session, case).get(case.state)
    return now + timedelta(hours=limit.hours) if limit else None


def transition(
    session: Session, case: Case, action: Action, user: User, data: Mapping[str, Any] | None = None,
    *, expected_version: int | None = None,
) -> Case:  # fmt: skip
    """Move a case. Refuses with a clear message (state, role or missing data) and changes nothing then."""
    data = data or {}
    rule = RULES[action]
    if expected_version is not None and expected_version != case.lock_version:
        raise Conflict(_("该线索已被他人处理（当前状态：%(state)s），请刷新后再试。", state=label(case.state)))
    if case.state not in rule.sources:
        raise Conflict(
            _("线索当前状态为“%(state)s”，不能“%(action)s”。", state=label(case.state), action=_(ACTION_LABELS[action]))
        )
    if not rule.who(case, user):
        raise Forbidden(_("只有%(who)s可以“%(action)s”。", who=rule.who_text, action=_(ACTION_LABELS[action])))
    if not rule.when(case):
        raise Conflict(str(rule.when_text))
    # No autoflush: the row is written once, at the end, where a concurrent winner shows as a stale version.
    with session.no_autoflush:
        now = utcnow()
        before = case.state
        target = rule.target or before
        note = ""
        change: dict[str, Any] = {}
        if action is Action.accept:
            if not _in_own_area(case, user):
                raise Forbidden(_("该问题不在本单位辖区，应移交所在地生态环境部门。"))
            case.responsible_bureau_id = user.bureau_id
            case.transferred_at = case.transferred_at or now
            case.received_at = now
        elif action is Action.transfer:
            # Only as part of a transfer form (records.create_transfer), which names the form and the bureau.
            transfer, to_bureau = data.get("transfer"), data.get("to_bureau")
            if transfer is None or to_bureau is None:
                raise ServiceError(_("请通过移交单移交线索。"))
            now = data.get("now") or now
            case.responsible_bureau_id = to_bureau.id
            case.transferred_at = now
            case.return_reason = None
            note = f"{transfer.number} → {to_bureau.name}"
            change = {"transfer": transfer.number, "to": to_bureau.name}
        elif action is Action.receive:
            case.received_at = now
        elif action is Action.return_:
            note = _text(data, "reason", "退回原因") or ""
            case.return_reason = note
            change["reason"] = note
            passed = passed_on_by(session, case)
            if passed is None:  # back to the discovering bureau, to be routed again
                case.responsible_bureau_id = None
            else:  # back to the city bureau that passed it on, in the state it held it in
                case.responsible_bureau_id, target = passed
                if target is CaseState.received:
                    case.received_at = now
                change["to_bureau_id"] = case.responsible_bureau_id
        elif action is Action.handle:
            pass
        elif action is Action.order:
            case.enforcement_action = _text(data, "enforcement_action", "处置措施（执法行动）")
            case.decision_number = _text(data, "decision_number", "决定书文号", required=False, limit=64)
            penalty = data.get("penalty_amount")
            if penalty not in (None, ""):
                try:
                    amount = float(penalty)
                except (TypeError, ValueError):
                    raise ServiceError(_("罚款金额应为数字。"), field="penalty_amount") from None
                if not math.isfinite(amount):  # NaN would pass the >= 0 check on PostgreSQL
                    raise ServiceError(_("罚款金额应为数字。"), field="penalty_amount")
                if amount < 0:
                    raise ServiceError(_("罚款金额不能为负数。"), field="penalty_amount")
                if amount > 0 and not case.decision_number:
                    raise ServiceError(_("有罚款时必须填写处罚决定书文号。"), field="decision_number")
                case.penalty_amount = amount
            deadline = data.get("rectify_deadline")
            if isinstance(deadline, str):
                try:
                    deadline = date.fromisoformat(deadline)
                except ValueError:
                    raise ServiceError(_("整改期限格式应为 年-月-日。"), field="rectify_deadline") from None
            if not isinstance(deadline, date):
                raise ServiceError(_("请填写整改期限。"), field="rectify_deadline")
            if deadline < now.astimezone(LOCAL_TZ).date():
                raise ServiceError(_("整改期限不能早于今天。"), field="rectify_deadline")
            case.rectify_deadline = deadline
            case.rectify_plan = _text(data, "rectify_plan", "整改方案", limit=4000)
            change = {"enforcement_action": case.enforcement_action, "decision_number": case.decision_number,
                      "penalty_amount": case.penalty_amount, "rectify_deadline": deadline.isoformat()}  # fmt: skip
        elif action is Action.report:
            if _evidence_count(session, case, EvidenceKind.rectification) == 0:
                raise ServiceError(_("请先上传整改材料（照片或文件）。"), field="evidence")
            case.rectified_at = now
            note = _text(data, "note", "整改情况说明", required=False) or ""
        elif action is Action.verify:
            if _evidence_count(session, case, EvidenceKind.verification) == 0:
                raise ServiceError(_("核查须上传核查佐证（现场照片或文件）。"), field="evidence")
            case.verification_note = _text(data, "note", "核查意见")
            case.verified_at, case.verified_by_id = now, user.id
            note = case.verification_note or ""
        elif action is Action.reopen:
            note = _text(data, "reason", "退回整改的原因") or ""
            case.rectified_at = None
            case.verified_at = case.verified_by_id = case.verification_note = None
            change["reason"] = note
        elif action is Action.close:
            if _evidence_count(session, case, EvidenceKind.verification) == 0:
                raise ServiceError(_("销号须有核查佐证。"), field="evidence")
            case.closed_at = now
        elif action is Action.pass_on:
            to_id = _int(data.get("to_bureau", data.get("to_bureau_id")))
            target = next((b for b in pass_on_targets(session, case, user) if b.id == to_id), None)
            if target is None:
                raise ServiceError(_("请选择转办的下级单位（问题所在地的生态环境部门）。"), field="to_bureau")
            reason = _text(data, "note", "转办说明", required=False) or ""
            case.responsible_bureau_id, case.transferred_at, case.received_at = target.id, now, None
            case.escalation = None  # a step up was against the bureau that passed it on
            note = f"{user.bureau.name} → {target.name}" + (f"：{reason}" if reason else "")
            change = {"from": user.bureau.name, "to": target.name, "note": reason or None,
                      "from_bureau_id": user.bureau_id}  # fmt: skip
        elif action is Action.assign:
            to_id = _int(data.get("assignee", data.get("assignee_id")))
            person = next((u for u in assignees(session, case) if u.id == to_id), None)
            if person is None:
                raise ServiceError(_("请选择本单位的承办人。"), field="assignee")
            case.assignee_id = person.id
            note = person.display_name
            change = {"assignee": person.display_name}
            if person.id != user.id:  # the officer hears of it; assigning oneself needs no message
                notify_officer(session, person, NotificationKind.case_assigned, subject=f"{case.number} {case.topic}",
                               detail=user.display_name, endpoint="cases.detail", object_id=case.id)  # fmt: skip
        if action in (Action.pass_on, Action.return_):
            case.assignee_id = None  # the officer was the previous bureau's
        case.state = target if action is Action.return_ else (rule.target or before)
        case.escalation = None if case.state is not before else case.escalation
        case.due_at = due_for(session, case, now)
        add_event(session, case, user, action.value, before, case.state, note=note, data=change)
        _notify(session, case, action, user, note)
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(_("该线索已被他人处理，请刷新后再试。")) from None
    record(
        session, f"case.{action.value}", obj=case, before={"state": before.value},
        after={"state": case.state.value, **change},
    )  # fmt: skip
    return case


# Who hears of a step: the bureau that must act next.
_NOTICES = {
    Action.transfer: (NotificationKind.case_transferred, lambda c: c.responsible_bureau_id),
    Action.receive: (NotificationKind.case_received, lambda c: c.discovered_bureau_id),
    # the discovering bureau, or the city bureau that passed the case on and holds it again
    Action.return_: (NotificationKind.case_returned, lambda c: c.responsible_bureau_id or c.discovered_bureau_id),
    Action.pass_on: (NotificationKind.case_transferred, lambda c: c.responsible_bureau_id),
}


def _notify(session: Session, case: Case, action: Action, user: User, note: str) -> None:
    if action not in _NOTICES:
        return
    kind, to = _NOTICES[action]
    detail = note if action is Action.return_ else user.bureau.name
    notify(session, [to(case)], kind, subject=f"{case.number} {case.topic}", detail=detail,
           endpoint="cases.detail", object_id=case.id)  # fmt: skip


def passed_on_by(session: Session, case: Case) -> tuple[int, CaseState] | None:
    """Who passed the case on (转办) to the bureau holding it, and the state it held the case in: the latest
    routing step of its timeline, when that is a pass-on. None when the case came by a transfer form."""
    from app.core.scoping import unscoped

    routing = ("transfer", "pass_on", "return", "accept")
    with unscoped(session):  # the city's own event, written where the case lies
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action.in_(routing))
            .order_by(CaseEvent.id.desc()).limit(1)
        ).first()  # fmt: skip
        if event is None or event.action != Action.pass_on.value:
            return None
        bureau_id = event.data.get("from_bureau_id")
        if bureau_id is None and event.actor_id is not None:  # a pass-on recorded before the id was kept
            bureau_id = session.scalar(select(User.bureau_id).where(User.id == event.actor_id))
    if bureau_id is None:
        return None
    held = event.from_state if event.from_state in (CaseState.transferred, CaseState.received) else None
    return int(bureau_id), held or CaseState.received


def add_event(
    session: Session, case: Case, user: User | None, action: str, before: CaseState | None, after: CaseState | None,
    *, note: str = "", data: Mapping[str, Any] | None = None,
) -> CaseEvent:  # fmt: skip
    event = CaseEvent(
        case_id=case.id, jurisdiction_id=case.jurisdiction_id, actor_id=user.id if user else None,
        actor_name=user.display_name if user else "系统", bureau_name=user.bureau.name if user else "",
        action=action, from_state=before, to_state=after, note=note,
        data={k: v for k, v in (data or {}).items() if v is not None},
    )  # fmt: skip
    session.add(event)
    return event


def next_escalation(case: Case, now: datetime) -> Escalation:
    """The step an escalation of the case would take now, or a Conflict saying why there is none."""
    if not case.next_step_due(now):
        raise Conflict(_("该线索未超期，不能升级督办。"))
    step = Escalation.warning if case.escalation is None else case.escalation.next
    if step is None:
        raise Conflict(_("该线索已到最高一级（约谈）。"))
    return step


def escalate(
    session: Session, case: Case, user: User | None, *, now: datetime | None = None, opinion: str = "",
    reason: str = "",
) -> Escalation:  # fmt: skip
    """One more step against the responsible bureau of an overdue case: warning → exposure → supervised →
    summons. The job runs it for every overdue case (its opinion: the time limit ran out); a supervising bureau
    steps it by hand with its supervision opinion (督办意见) and the reason, both required."""
    now = now or utcnow()
    step = next_escalation(case, now)
    if user is not None:
        opinion = _text({"opinion": opinion}, "opinion", "督办意见", limit=1000) or ""
        reason = _text({"reason": reason}, "reason", "督办理由", limit=500) or ""
    else:
        opinion = opinion or "超过办理时限，系统自动升级。"
        reason = reason or f"“{label(case.state)}”超过办理时限"
    before = case.escalation
    case.escalation = step
    limit = limits_for(session, case).get(case.state)
    hours = limit.hours if limit else 24
    case.due_at = now + timedelta(hours=hours)  # the next step comes after another full period
    note = f"{label(step)}：{opinion}（{reason}）"
    add_event(session, case, user, "escalate", case.state, case.state, note=note,
              data={"step": step.value, "opinion": opinion, "reason": reason})  # fmt: skip
    kind = NotificationKind.case_overdue if step is Escalation.warning else NotificationKind.case_escalated
    notify(
        session, [case.responsible_bureau_id, case.discovered_bureau_id], kind, subject=f"{case.number} {case.topic}",
        detail=note, endpoint="cases.detail", object_id=case.id,
    )  # fmt: skip
    session.flush()
    record(
        session, "case.escalate", obj=case, before={"escalation": before.value if before else None},
        after={"escalation": step.value, "opinion": opinion, "reason": reason},
    )  # fmt: skip
    return step
