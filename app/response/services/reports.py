"""Daily reports and episode summaries: what each activated unit owes under its plan, submitting one, and the
office's consolidated daily summary (screen and PDF, forms/daily_summary)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import User
from app.auth.roles import Permission
from app.core.errors import Conflict, Forbidden, ServiceError
from app.core.i18n import N_
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.db import utcnow
from app.places.models import Jurisdiction
from app.plans.services import rules_of
from app.response.domain import reports as dom
from app.response.models import ResponseArea, ResponseMeasure, ResponseReport, ResponseTask, ResponseUnit
from app.response.services import photos as photo_store
from app.response.vocabulary import CheckStatus, ReportKind, Supervision, TaskState, field_label

MAX_FIELD = 4000


def rule_of(unit: ResponseUnit) -> dom.ReportRule:
    return dom.ReportRule.of(rules_of(unit.plan).reporting)


def fields_of(rule: dom.ReportRule, kind: ReportKind) -> tuple[str, ...]:
    """The fields a report asks for: the plan's, or one free text when the plan names none."""
    wanted = rule.fields if kind is ReportKind.daily else rule.summary_fields
    return wanted or (("previous_day_response",) if kind is ReportKind.daily and rule.daily == "previous day"
                      else ("bureau_work",) if kind is ReportKind.daily else ("work_summary",))  # fmt: skip


@dataclass(frozen=True)
class Owed:
    unit: ResponseUnit
    name: str
    standing: dom.Standing

    @property
    def kind(self) -> ReportKind:
        return ReportKind(self.standing.expected.kind)


def units_in_reach(session: Session, *, episode_id: int | None = None, own: User | None = None) -> list[ResponseUnit]:
    """The activated units the reader sees (scoped), or only the reader's own unit."""
    stmt = select(ResponseUnit).order_by(ResponseUnit.episode_id.desc(), ResponseUnit.jurisdiction_id)
    if episode_id is not None:
        stmt = stmt.where(ResponseUnit.episode_id == episode_id)
    if own is not None:
        stmt = stmt.where(ResponseUnit.jurisdiction_id == own.jurisdiction_id)
    return list(session.scalars(stmt))


def owed(session: Session, units: Sequence[ResponseUnit], now: datetime) -> list[Owed]:
    """Every report the units owe so far, with its status (on time, late, missing, pending)."""
    if not units:
        return []
    submitted = {
        (r.unit_id, r.kind.value, r.day): (r.id, r.submitted_at)
        for r in session.scalars(select(ResponseReport).where(ResponseReport.unit_id.in_([u.id for u in units])))
    }
    names = _names(session, [u.jurisdiction_id for u in units])
    out = []
    for u in units:
        rule = rule_of(u)
        for s in dom.standings(dom.expected(rule, u.id, u.starts_at, u.ends_at, now), submitted, now):
            out.append(Owed(u, names[u.jurisdiction_id], s))
    return out


def _names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    with unscoped(session):
        return dict(session.execute(select(Jurisdiction.id, Jurisdiction.name).where(Jurisdiction.id.in_(ids))).all())


def figures(session: Session, unit: ResponseUnit) -> dict[str, int]:
    """The unit's tasks in numbers: on-site supervision and patrols, measures checked, found not carried out,
    cases opened (seed 004's 工业源驻场督导、现场巡查)."""
    areas = select(ResponseArea.id).where(ResponseArea.unit_id == unit.id)
    t = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((ResponseTask.supervision == Supervision.onsite_supervision, 1), else_=0)), 0),
            func.coalesce(func.sum(case((ResponseTask.state == TaskState.done, 1), else_=0)), 0),
        ).where(ResponseTask.area_id.in_(areas))
    ).one()
    m = session.execute(
        select(
            func.coalesce(func.sum(case((ResponseMeasure.status != CheckStatus.pending, 1), else_=0)), 0),
            func.coalesce(func.sum(case((ResponseMeasure.status == CheckStatus.not_carried_out, 1), else_=0)), 0),
            func.count(ResponseMeasure.case_id),
        )
        .join(ResponseTask, ResponseTask.id == ResponseMeasure.task_id)
        .where(ResponseTask.area_id.in_(areas), ResponseMeasure.required)
    ).one()
    tasks, onsite, done = (int(v) for v in t)
    checked, failed, cases = (int(v) for v in m)
    return {"tasks": tasks, "onsite": onsite, "patrol": tasks - onsite, "tasks_done": done,
            "measures_checked": checked, "not_carried_out": failed, "cases": cases}  # fmt: skip


def submit(session: Session, user: User, unit: ResponseUnit, kind: str, day: date, values: Mapping[str, Any],
           files: Sequence[Any] = (), now: datetime | None = None) -> ResponseReport:  # fmt: skip
    """The unit's report on `day` (or its summary after the lift), with the plan's fields and, where the plan
    asks, photos. Late when past the plan's deadline (kept and flagged, never refused)."""
    now = now or utcnow()
    if not user.can(Permission.report_response) or user.jurisdiction_id != unit.jurisdiction_id:
        raise Forbidden(_("只有启动预警单位的生态环境部门可以报送本单位的日报和总结。"))
    try:
        report_kind = ReportKind(kind)
    except ValueError:
        raise ServiceError(_("报送类型不正确。"), field="kind") from None
    rule = rule_of(unit)
    if report_kind is ReportKind.daily:
        if day not in dom.report_days(unit.starts_at, unit.ends_at, now):
            raise ServiceError(_("%(d)s 不在本单位应急响应期间（或尚未到来），不能报送当日日报。", d=day.isoformat()),
                               field="day")  # fmt: skip
        due = dom.daily_due(rule, day)
    else:
        if unit.ends_at is None or unit.ends_at > now:
            raise Conflict(_("应急响应尚未解除，解除后再报送过程总结。"))
        if not rule.has_summary:
            raise ServiceError(_("本预案未要求报送过程总结。"), field="kind")
        day = dom.local_day(unit.ends_at)
        due = dom.summary_due(rule, unit.ends_at)
        assert due is not None
    wanted = fields_of(rule, report_kind)
    text: dict[str, str] = {}
    for key in wanted:
        value = str(values.get(key) or "").strip()
        if not value:
            raise ServiceError(_("请填写“%(f)s”。", f=field_label(key)), field=key)
        if len(value) > MAX_FIELD:
            raise ServiceError(_("“%(f)s”最多 %(n)d 字。", f=field_label(key), n=MAX_FIELD), field=key)
        text[key] = value
    files = photo_store.uploads(files)
    if report_kind is ReportKind.daily and rule.photos and not files:
        raise ServiceError(_("本预案要求日报同步报送影像资料，请上传照片。"), field="photos")
    exists = session.scalar(
        select(ResponseReport.id).where(
            ResponseReport.unit_id == unit.id, ResponseReport.kind == report_kind, ResponseReport.day == day
        )
    )
    if exists:
        raise Conflict(_("%(d)s 的%(k)s已报送，不能重复报送。", d=day.isoformat(), k=report_kind.label))
    report = ResponseReport(
        episode_id=unit.episode_id, unit_id=unit.id, jurisdiction_id=unit.jurisdiction_id, kind=report_kind, day=day,
        due_at=due, submitted_at=now, submitted_by_id=user.id, bureau_id=user.bureau_id, late=now > due,
        fields=text, figures=figures(session, unit),
    )  # fmt: skip
    session.add(report)
    session.flush()
    stored = photo_store.store_all(session, files, user.id, report=report)
    record(session, "response_report.submit", obj=report,
           after={"kind": report_kind.value, "day": day.isoformat(), "late": report.late,
                  "photos": [{"name": p.filename, "sha256": p.sha256} for p in stored]})  # fmt: skip
    return report


@dataclass(frozen=True)
class SummaryRow:
    unit: ResponseUnit
    name: str
    level: str
    status: str
    report: ResponseReport | None
    figures: dict[str, int]


def daily_summary(session: Session, day: date, now: datetime) -> list[SummaryRow]:
    """One row per unit under response on `day` within the reader's reach: its level, its day's report
    (status, fields) and its tasks in numbers. The office's consolidated summary."""
    units = [u for u in units_in_reach(session) if day in dom.report_days(u.starts_at, u.ends_at, now)]
    reports = {
        r.unit_id: r for r in session.scalars(
            select(ResponseReport).where(and_(ResponseReport.kind == ReportKind.daily, ResponseReport.day == day,
                                              ResponseReport.unit_id.in_([u.id for u in units])))
        )
    }  # fmt: skip
    names = _names(session, [u.jurisdiction_id for u in units])
    rows = []
    for u in units:
        r = reports.get(u.id)
        due = dom.daily_due(rule_of(u), day)
        rows.append(SummaryRow(u, names[u.jurisdiction_id], u.level.value,
                               dom.status(due, r.submitted_at if r else None, now), r,
                               r.figures if r else figures(session, u)))  # fmt: skip
    return rows


STATUS_LABELS = {dom.ON_TIME: N_("按时报送"), dom.LATE: N_("逾期报送"), dom.MISSING: N_("未报送（已逾期）"),
                 dom.PENDING: N_("待报送")}  # fmt: skip


def summary_context(session: Session, day: date, now: datetime, office: str) -> dict[str, Any]:
    """What forms/daily_summary prints (its README section lists the keys)."""
    from app.reduction.domain.vocabulary import AlertLevel

    rows = daily_summary(session, day, now)
    return {
        "title": "重污染天气应急响应每日汇总",
        "office": office,
        "day": day.isoformat(),
        "made_at": now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        "units": [
            {
                "name": r.name, "level": AlertLevel(r.level).label, "status": _(STATUS_LABELS[r.status]),
                "flag": r.status in (dom.LATE, dom.MISSING),
                "submitted_at": r.report.submitted_at.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M") if r.report else "",
                "fields": [{"label": field_label(k), "text": v}
                           for k, v in (r.report.fields if r.report else {}).items()],
                "figures": r.figures,
            }
            for r in rows
        ],
        "late": sum(1 for r in rows if r.status == dom.LATE),
        "missing": sum(1 for r in rows if r.status == dom.MISSING),
    }  # fmt: skip
