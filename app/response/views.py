"""Response screens: the task list and a task's page for the phone (each measure checked with photos, a case
opened in one step for one not carried out), photos, the units' reports and the office's daily summary."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.audit.services import record
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import ServiceError
from app.core.inputs import page_arg
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.db import utcnow
from app.extensions import db
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import AlertLevel
from app.response.domain import reports as rdom
from app.response.models import ResponseMeasure, ResponsePhoto, ResponseTask, ResponseUnit
from app.response.services import photos, reports, tasks
from app.response.vocabulary import CheckStatus, ReportKind, Supervision, TaskState, field_label

bp = Blueprint("response", __name__, url_prefix="/response")
PAGE = 50
STATUS = {rdom.ON_TIME: _l("按时报送"), rdom.LATE: _l("逾期报送"), rdom.MISSING: _l("未报送（已逾期）"),
          rdom.PENDING: _l("待报送")}  # fmt: skip


@bp.record_once
def _hook(_state: object) -> None:
    """Issued proposals create and update the response tasks (app/alerts/services/episodes.ON_CHANGE)."""
    from app.alerts.services.episodes import register_on_change
    from app.response.services.activation import on_change

    register_on_change(on_change)


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"report_status": STATUS, "field_label": field_label, "level_name": lambda v: AlertLevel(v).label}


def _day_arg(name: str = "day") -> date:
    raw = request.args.get(name, "").strip()
    if not raw:
        return datetime.now(LOCAL_TZ).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(_("日期“%(v)s”格式不正确，应为 YYYY-MM-DD。", v=raw[:20]), field=name) from None


@bp.get("/", endpoint="tasks")
@require(Permission.view_response)
def tasks_page():  # type: ignore[no-untyped-def]
    s = db.session()
    state = request.args.get("state", "open")
    if state not in ("open", "done", "closed", "all"):
        raise ServiceError(_("任务状态“%(v)s”无效。", v=state[:20]), field="state")
    page = page_arg()
    stmt = select(ResponseTask)
    if state != "all":
        stmt = stmt.where(ResponseTask.state == TaskState(state))
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(s.scalars(
        stmt.order_by(ResponseTask.supervision, ResponseTask.enterprise_name, ResponseTask.id)
        .limit(PAGE).offset((page - 1) * PAGE)
    ))  # fmt: skip
    with unscoped(s):
        names = dict(s.execute(select(Jurisdiction.id, Jurisdiction.name).where(
            Jurisdiction.id.in_({t.jurisdiction_id for t in rows}))).all())  # fmt: skip
    return render_template("response/tasks.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE)),
                           state=state, names=names, Supervision=Supervision)  # fmt: skip


def _task_or_404(task_id: int) -> ResponseTask:
    task = db.session.get(ResponseTask, task_id)  # scoped: another area's task is not found
    if task is None:
        abort(404)
    return task


@bp.get("/tasks/<bigid:task_id>")
@require(Permission.view_response)
def task(task_id: int):  # type: ignore[no-untyped-def]
    t = _task_or_404(task_id)
    s = db.session()
    with unscoped(s):
        place = s.get(Jurisdiction, t.jurisdiction_id)
    return render_template("response/task.html", task=t, measures=tasks.measures_of(t), place=place,
                           can_check=t.can_check(g.user), CheckStatus=CheckStatus)  # fmt: skip


@bp.post("/tasks/<bigid:task_id>/measures/<bigid:measure_id>")
@require(Permission.work_response)
def check(task_id: int, measure_id: int):  # type: ignore[no-untyped-def]
    t = _task_or_404(task_id)
    m = db.session.get(ResponseMeasure, measure_id)
    if m is None or m.task_id != t.id:
        abort(404)
    case = tasks.check(db.session(), g.user, t, m, request.form.get("status", ""),
                       remark=request.form.get("remark", ""), files=request.files.getlist("photos"))  # fmt: skip
    if case is not None:
        flash(_("已记录未落实，并登记问题线索 %(n)s。", n=case.number))
    else:
        flash(_("已记录核查结果。"))
    return redirect(url_for("response.task", task_id=t.id) + f"#m{m.id}")


@bp.get("/photos/<bigid:photo_id>")
@require(Permission.view_response)
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    p = db.session.get(ResponsePhoto, photo_id)  # scoped
    if p is None or not photos.path_of(p).exists():
        abort(404)
    inline = p.is_image and request.args.get("download") is None
    response = send_file(photos.path_of(p), mimetype=p.content_type, as_attachment=not inline,
                         download_name=p.filename, max_age=0)  # fmt: skip
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@bp.get("/reports", endpoint="reports")
@require(Permission.view_response)
def reports_page():  # type: ignore[no-untyped-def]
    s = db.session()
    now = utcnow()
    owed = reports.owed(s, reports.units_in_reach(s), now)
    own = [o for o in owed if o.unit.jurisdiction_id == g.user.jurisdiction_id and o.standing.report_id is None]
    forms = []
    if g.user.can(Permission.report_response):
        for o in own:  # a late report can still be sent: it is kept, flagged late
            rule = reports.rule_of(o.unit)
            forms.append((o, reports.fields_of(rule, o.kind), rule.photos and o.kind is ReportKind.daily))
    return render_template("response/reports.html", owed=owed, forms=forms, now=now)


@bp.post("/reports")
@require(Permission.report_response)
def submit_report():  # type: ignore[no-untyped-def]
    s = db.session()
    unit_id = request.form.get("unit_id", type=int)
    if not unit_id:
        raise ServiceError(_("请选择报送单位。"), field="unit_id")
    unit = s.get(ResponseUnit, unit_id)  # scoped
    if unit is None:
        abort(404)
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        raise ServiceError(_("日期格式不正确。"), field="day") from None
    r = reports.submit(s, g.user, unit, request.form.get("kind", ""), day, request.form,
                       request.files.getlist("photos"))  # fmt: skip
    flash(_("%(k)s已报送（逾期）。", k=r.kind.label) if r.late else _("%(k)s已报送。", k=r.kind.label))
    return redirect(url_for("response.reports"))


@bp.get("/summary")
@require(Permission.view_response)
def summary():  # type: ignore[no-untyped-def]
    day = _day_arg()
    rows = reports.daily_summary(db.session(), day, utcnow())
    return render_template("response/summary.html", rows=rows, day=day)


@bp.get("/summary.pdf")
@require(Permission.view_response)
def summary_pdf():  # type: ignore[no-untyped-def]
    from app.printing import PrintError, render_pdf

    s = db.session()
    day = _day_arg()
    context = reports.summary_context(s, day, utcnow(), g.user.bureau.name)
    try:
        pdf = render_pdf("daily_summary", context)
    except PrintError as e:
        raise ServiceError(_("每日汇总生成失败：%(e)s", e=str(e))) from e
    record(s, "response_summary.print", object_type="daily_summary", object_id=day.isoformat(),
           detail={"units": len(context["units"])})  # fmt: skip
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"inline; filename=daily-summary-{day.isoformat()}.pdf",
            "Cache-Control": "no-store",
        },
    )
