"""Power screens (issue 14): the readings' upload (CSV / Excel), the devices and when each was last heard from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.alerts.models import Episode
from app.audit.models import Outcome
from app.audit.services import record
from app.auth.roles import Permission
from app.core.access import require
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.views import started
from app.power import ingest
from app.power.domain.rows import RowsError
from app.power.models import PowerDevice, PowerFlag
from app.power.store import store
from app.reduction.excel import safety
from app.registry.models import RegisteredEnterprise

bp = Blueprint("power", __name__, url_prefix="/power")
SYNC_ROWS = 50_000
EXCEL = (".xlsx", ".xls", ".xlsm")


@bp.get("/")
@require(Permission.view_response)
def index():  # type: ignore[no-untyped-def]
    from app.power import screens

    return render_template("power/index.html", **screens.index(db.session()))


def _excel_checked(name: str, content: bytes) -> None:
    """A workbook goes through the list import's safety checks first (zip bombs, oversized sheets)."""
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as f:
        f.write(content)
        f.flush()
        safety.check(Path(f.name), name)


@bp.route("/readings", methods=["GET", "POST"])
@require(Permission.work_response)
def upload():  # type: ignore[no-untyped-def]
    s = db.session()
    problems: list[str] = []
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            problems = [_("请选择用电数据文件（CSV 或 Excel）。")]
        else:
            name, content = file.filename, file.read()
            try:
                if name.lower().endswith(EXCEL):
                    _excel_checked(name, content)
                if content.count(b"\n") > int(current_app.config.get("POWER_SYNC_ROWS", SYNC_ROWS)):
                    token = ingest.keep_file(current_app.config["UPLOAD_DIR"], Path(name).suffix.lower(), content)
                    params = {"token": token, "name": name, "source": "upload"}
                    return started(jobs.submit(s, g.user, "power.ingest", params, total=content.count(b"\n")))
                stored = store(s, ingest.parse(s, name, content), "upload")
            except safety.ExcelRefused as e:
                problems = [e.message]
            except RowsError as e:
                problems = list(e.problems)
            else:
                flash(_("已保存：新读数 %(new)d 条，更正 %(corrected)d 条，已有相同数据 %(unchanged)d 条。",
                        new=stored.new, corrected=stored.corrected, unchanged=stored.unchanged))  # fmt: skip
                return redirect(url_for("power.upload"))
        if problems:
            s.rollback()
            record(s, "power.readings_refused", object_type="power_reading", outcome=Outcome.failure,
                   detail={"source": "upload", "problems": len(problems)})  # fmt: skip
            g.commit_anyway = True
    return render_template("power/upload.html", problems=problems), 400 if problems else 200


def _report_page(form: Any, status: int = 200):  # type: ignore[no-untyped-def]
    from app.core.scoping import get_scope
    from app.power import reports
    from app.power.vocabulary import REPORT_LABELS

    s = db.session()
    uscc = (request.args.get("uscc") or "").strip()[:18]
    offered = select(RegisteredEnterprise).order_by(RegisteredEnterprise.name).limit(500)
    scope = get_scope(s)
    if scope is not None and not scope.unrestricted:  # those the reader may report for: the own area
        offered = offered.where(RegisteredEnterprise.jurisdiction_id.in_(list(scope.writable)))
    enterprises = list(s.scalars(offered))
    return render_template("power/reports.html", form=form, rows=reports.listed(s, uscc), uscc=uscc,
                           enterprises=enterprises, report_labels=REPORT_LABELS), status  # fmt: skip


@bp.get("/reports")
@require(Permission.view_response)
def reports_page():  # type: ignore[no-untyped-def]
    from app.power.forms import ReportForm

    return _report_page(ReportForm())


@bp.post("/reports")
@require(Permission.work_response)
def add_report():  # type: ignore[no-untyped-def]
    from app.core.errors import ServiceError
    from app.core.templating import local_time
    from app.power import reports
    from app.power.forms import ReportForm
    from app.power.vocabulary import REPORT_LABELS

    form = ReportForm()
    if not form.validate_on_submit():
        return _report_page(form, 400)
    s = db.session()
    try:
        report = reports.add(s, reports.read(form.data), g.user)
    except ServiceError as e:
        s.rollback()
        field = getattr(form, e.field, None) if e.field else None
        if field is not None:
            field.errors = [*list(field.errors), e.message]
        else:
            flash(e.message, "error")
        return _report_page(form, 400)
    flash(_("已报备：%(name)s %(kind)s，%(start)s 至 %(end)s。", name=report.enterprise.name,
            kind=_(REPORT_LABELS[report.kind]), start=local_time(report.starts_at),
            end=local_time(report.ends_at)))  # fmt: skip
    return redirect(url_for("power.reports_page"))


@bp.get("/devices")
@require(Permission.view_response)
def devices():  # type: ignore[no-untyped-def]
    rows: list[Any] = list(db.session.scalars(select(PowerDevice).order_by(PowerDevice.last_heard_at.desc(),
                                                                           PowerDevice.mn)))  # fmt: skip
    return render_template("power/devices.html", devices=rows)


def _flag(flag_id: int) -> PowerFlag:
    flag = db.session.get(PowerFlag, flag_id)  # scoped: flags of the own area only
    if flag is None:
        abort(404)
    return flag


@bp.get("/episodes/<id:episode_id>")
@require(Permission.view_response)
def episode(episode_id: int):  # type: ignore[no-untyped-def]
    from app.power import screens

    data = screens.episode(db.session(), episode_id, request.args.get("sort", "day"), request.args.get("desc") == "1")
    if request.args.get("format") == "xlsx":
        record(db.session(), "power.flags_exported", object_type="episode", object_id=episode_id,
               detail={"flags": len(data["flags"])})  # fmt: skip
        return Response(screens.export_xlsx(data), headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                        + quote(f"用电核查_{episode_id}.xlsx")},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    return render_template("power/episode.html", **data)


@bp.post("/episodes/<id:episode_id>/check")
@require(Permission.work_response)
def run_check(episode_id: int):  # type: ignore[no-untyped-def]
    """Run the check now on the enterprises of the reader's area and store its flags (as `flask power check`)."""
    from app.power import flags

    doc = flags.run(db.session(), episode_id, user=g.user)
    flash(_("用电核查已完成：问题 %(n)d 个，其中待核实 %(raised)d 个。", n=len(doc["flags"]),
            raised=sum(doc["raised"].values())))  # fmt: skip
    return redirect(url_for("power.episode", episode_id=episode_id))


@bp.get("/episodes/<id:episode_id>/enterprises/<bigid:enterprise_id>")
@require(Permission.view_response)
def enterprise(episode_id: int, enterprise_id: int):  # type: ignore[no-untyped-def]
    from app.power import curves

    ent = db.session.get(RegisteredEnterprise, enterprise_id)
    if ent is None:
        abort(404)
    c = curves.of(db.session(), episode_id, enterprise_id)
    rows = list(db.session.scalars(select(PowerFlag).where(PowerFlag.episode_id == episode_id,
                                                           PowerFlag.registry_enterprise_id == enterprise_id)
                                   .order_by(PowerFlag.day, PowerFlag.kind)))  # fmt: skip
    from app.power.vocabulary import FLAG_LABELS, STATUS_LABELS

    return render_template("power/enterprise.html", episode_id=episode_id, enterprise=ent, days=c.days, flags=rows,
                           flag_labels=FLAG_LABELS, status_labels=STATUS_LABELS)  # fmt: skip


@bp.get("/episodes/<id:episode_id>/enterprises/<bigid:enterprise_id>/chart.png")
@require(Permission.view_response)
def chart_png(episode_id: int, enterprise_id: int):  # type: ignore[no-untyped-def]
    from app.power import chart, curves
    from app.power.casework import chart_labels

    ent = db.session.get(RegisteredEnterprise, enterprise_id)
    if ent is None or db.session.get(Episode, episode_id) is None:
        abort(404)
    image = chart.png(curves.of(db.session(), episode_id, enterprise_id), ent.name, chart_labels())
    return Response(image, mimetype="image/png")


@bp.post("/flags/<bigid:flag_id>/dismiss")
@require(Permission.work_response)
def dismiss(flag_id: int):  # type: ignore[no-untyped-def]
    from app.power import flags

    flag = _flag(flag_id)
    flags.dismiss(db.session(), flag, g.user, request.form.get("reason", ""))
    flash(_("已排除：%(label)s", label=flags.label(flag)))
    return redirect(url_for("power.enterprise", episode_id=flag.episode_id, enterprise_id=flag.registry_enterprise_id))


@bp.post("/flags/<bigid:flag_id>/confirm")
@require(Permission.work_response)
def confirm(flag_id: int):  # type: ignore[no-untyped-def]
    from app.power import casework

    flag = _flag(flag_id)
    case = casework.confirm(db.session(), flag, g.user)
    flash(_("已确认，并已登记问题线索 %(number)s。", number=case.number))
    return redirect(url_for("power.enterprise", episode_id=flag.episode_id, enterprise_id=flag.registry_enterprise_id))
