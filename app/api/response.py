"""Response tasks and reports over JSON: the tasks in reach (scoped), one task with its measures, a measure's
check (multipart: the photos ride with it; one not carried out opens a case), the reports owed and sent, a
report's submission, and the daily summary. Documented in app/api/openapi.yaml and docs/api.md."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.api.blueprint import bp
from app.api.common import iso
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import NotFound, ServiceError
from app.core.inputs import MAX_PAGE, bounded_int
from app.core.localtime import LOCAL_TZ
from app.db import utcnow
from app.extensions import db
from app.response.models import ResponseMeasure, ResponseTask, ResponseUnit
from app.response.services import reports, tasks
from app.response.vocabulary import TaskState

PAGE = 50


def task_json(t: ResponseTask, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id, "episode_id": t.episode_id, "uscc": t.uscc, "enterprise_name": t.enterprise_name,
        "enterprise_id": t.enterprise_id, "list_id": t.list_id, "jurisdiction_id": t.jurisdiction_id,
        "category": t.category.value, "supervision": t.supervision.value, "level": t.level.value,
        "state": t.state.value, "staggered_until": t.staggered_until.isoformat() if t.staggered_until else None,
        "created_at": iso(t.created_at), "checked_at": iso(t.checked_at), "closed_at": iso(t.closed_at),
    }  # fmt: skip
    if full:
        out["address"] = t.address
        out["measures"] = [measure_json(m) for m in tasks.measures_of(t)]
    return out


def measure_json(m: ResponseMeasure) -> dict[str, Any]:
    return {
        "id": m.id, "text": m.describe(), "kind": m.kind.value, "level": m.level.value, "percent": m.percent,
        "verification": m.verification.value, "max_stage": m.max_stage.value if m.max_stage else None,
        "unit_name": m.unit_name, "note": m.note, "required": m.required, "status": m.status.value,
        "checked_at": iso(m.checked_at), "remark": m.remark, "case_id": m.case_id,
        "photos": [{"id": p.id, "name": p.filename, "sha256": p.sha256} for p in m.photos],
    }  # fmt: skip


@bp.get("/response/tasks")
@require(Permission.view_response)
def response_tasks():  # type: ignore[no-untyped-def]
    state = request.args.get("state", "")
    if state and state not in [s.value for s in TaskState]:
        raise ServiceError(_("任务状态“%(v)s”无效。", v=state[:20]), field="state")
    raw = request.args.get("page", "").strip()
    page = bounded_int(raw, 1, MAX_PAGE, label="page", field="page") if raw else 1
    stmt = select(ResponseTask).order_by(ResponseTask.id)
    if state:
        stmt = stmt.where(ResponseTask.state == TaskState(state))
    rows = list(db.session.scalars(stmt.limit(PAGE + 1).offset((page - 1) * PAGE)))
    return {"page": page, "has_next": len(rows) > PAGE, "tasks": [task_json(t) for t in rows[:PAGE]]}


def _task(task_id: int) -> ResponseTask:
    t = db.session.get(ResponseTask, task_id)  # scoped
    if t is None:
        raise NotFound(_("任务不存在，或您无权查看。"))
    return t


@bp.get("/response/tasks/<bigid:task_id>")
@require(Permission.view_response)
def response_task(task_id: int):  # type: ignore[no-untyped-def]
    return task_json(_task(task_id), full=True)


@bp.post("/response/tasks/<bigid:task_id>/measures/<bigid:measure_id>/check")
@require(Permission.work_response)
def response_check(task_id: int, measure_id: int):  # type: ignore[no-untyped-def]
    t = _task(task_id)
    m = db.session.get(ResponseMeasure, measure_id)
    if m is None or m.task_id != t.id:
        raise NotFound(_("措施不存在，或您无权查看。"))
    case = tasks.check(db.session(), g.user, t, m, request.form.get("status", ""),
                       remark=request.form.get("remark", ""), files=request.files.getlist("photos"))  # fmt: skip
    return {"task": task_json(t, full=True), "case": {"id": case.id, "number": case.number} if case else None}


def _report_json(o: reports.Owed) -> dict[str, Any]:
    s = o.standing
    return {
        "unit_id": o.unit.id, "episode_id": o.unit.episode_id, "jurisdiction_id": o.unit.jurisdiction_id,
        "unit": o.name, "level": o.unit.level.value, "kind": s.expected.kind, "day": s.expected.day.isoformat(),
        "due_at": s.expected.due_at.isoformat(), "status": s.status, "submitted_at": iso(s.submitted_at),
        "report_id": s.report_id,
    }  # fmt: skip


@bp.get("/response/reports")
@require(Permission.view_response)
def response_reports():  # type: ignore[no-untyped-def]
    s = db.session()
    return {"reports": [_report_json(o) for o in reports.owed(s, reports.units_in_reach(s), utcnow())]}


@bp.post("/response/reports")
@require(Permission.report_response)
def response_report_submit():  # type: ignore[no-untyped-def]
    form = request.form
    raw = form.get("unit_id", "").strip()
    if not raw:
        raise ServiceError(_("请选择报送单位。"), field="unit_id")
    unit = db.session.get(ResponseUnit, bounded_int(raw, 1, 2**31 - 1, label="unit_id", field="unit_id"))
    if unit is None:
        raise NotFound(_("报送单位不存在，或您无权查看。"))
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise ServiceError(_("日期格式不正确。"), field="day") from None
    r = reports.submit(db.session(), g.user, unit, form.get("kind", ""), day, form, request.files.getlist("photos"))
    body = {"id": r.id, "unit_id": r.unit_id, "kind": r.kind.value, "day": r.day.isoformat(),
            "due_at": r.due_at.isoformat(), "submitted_at": r.submitted_at.isoformat(), "late": r.late,
            "fields": r.fields, "figures": r.figures}  # fmt: skip
    return body, 201


@bp.get("/response/summary")
@require(Permission.view_response)
def response_summary():  # type: ignore[no-untyped-def]
    raw = request.args.get("day", "").strip()
    try:
        day = date.fromisoformat(raw) if raw else datetime.now(LOCAL_TZ).date()
    except ValueError:
        raise ServiceError(_("日期“%(v)s”格式不正确，应为 YYYY-MM-DD。", v=raw[:20]), field="day") from None
    rows = reports.daily_summary(db.session(), day, utcnow())
    return {
        "day": day.isoformat(),
        "units": [{"unit_id": r.unit.id, "unit": r.name, "level": r.level, "status": r.status,
                   "report_id": r.report.id if r.report else None, "fields": r.report.fields if r.report else {},
                   "figures": r.figures} for r in rows],
    }  # fmt: skip
