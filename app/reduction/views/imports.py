"""Routes: Excel import (upload → preview → commit), the template, and the export of a list."""

from __future__ import annotations

import io
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import NotFound, ServiceError
from app.core.exports import csv_bytes
from app.core.inputs import parse_id
from app.core.names import clean_name
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.views import started
from app.reduction.excel import exporter, safety, uploads
from app.reduction.models import ReductionList
from app.reduction.services import imports
from app.reduction.views.blueprint import bp

PROBLEMS_SHOWN = 1000  # on the page; the CSV has them all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _year(value: Any) -> int:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return date.today().year
    return year if 2000 <= year <= 2100 else date.today().year


def _page(year: int, error: str | None = None, status: int = 200) -> Any:
    s = db.session()
    lst = imports.current_list(s, g.user, year)
    limits = safety.Limits.from_config(current_app.config)
    return render_template(
        "reduction/import.html",
        year=year,
        lst=lst,
        blocked=imports.blocked(lst, g.user),
        error=error,
        target=imports.target_words(lst, year),
        max_mb=f"{limits.max_bytes / safety.MB:.0f}",
        years=range(date.today().year + 1, date.today().year - 4, -1),
    ), status


@bp.get("/import")
@require(Permission.edit_lists)
def import_page():  # type: ignore[no-untyped-def]
    return _page(_year(request.args.get("year")))


@bp.post("/import")
@require(Permission.edit_lists)
def import_upload():  # type: ignore[no-untyped-def]
    year = _year(request.form.get("year"))
    file = request.files.get("file")
    if file is None or not file.filename:
        return _page(year, _("请选择要导入的 Excel 文件（.xlsx 或 .xls）。"), 400)
    cfg = current_app.config
    try:
        upload = uploads.store(
            file.stream, file.filename, cfg["UPLOAD_DIR"], g.user.id, year, safety.Limits.from_config(cfg)
        )
    except safety.ExcelRefused as e:
        return _page(year, e.message, 400)
    if upload.size >= cfg["JOBS_IMPORT_MIN_BYTES"]:  # a large workbook is checked in the background
        return started(jobs.submit(db.session(), g.user, "reduction.import_preview", {"token": upload.token}))
    return redirect(url_for("reduction.import_preview", token=upload.token))


def _upload() -> uploads.Upload:
    token = request.values.get("token", "")
    return uploads.load_upload(current_app.config["UPLOAD_DIR"], token, g.user.id)


@bp.get("/import/preview")
@require(Permission.edit_lists)
def import_preview():  # type: ignore[no-untyped-def]
    if not request.args.get("token"):
        return redirect(url_for("reduction.import_page"))
    upload = _upload()
    try:
        preview = imports.preview(db.session(), g.user, upload, current_app.config)
    except safety.ExcelRefused as e:
        uploads.discard(upload)
        return _page(upload.year, e.message, 400)
    return render_template(
        "reduction/import_preview.html",
        p=preview,
        shown=preview.issues[:PROBLEMS_SHOWN],
        limit=PROBLEMS_SHOWN,
    )


@bp.get("/import/problems.csv")
@require(Permission.edit_lists)
def import_problems():  # type: ignore[no-untyped-def]
    if not request.args.get("token"):
        return redirect(url_for("reduction.import_page"))
    upload = _upload()
    preview = imports.preview(db.session(), g.user, upload, current_app.config)
    header = [_("工作表"), _("行"), _("列"), _("列名"), _("企业"), _("类型"), _("问题")]
    rows = [
        (i.sheet, i.row or "", i.column or "", i.header or "", i.name, _("错误") if i.error else _("提醒"), i.message)
        for i in preview.issues
    ]
    return Response(
        csv_bytes(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=import-problems.csv"},
    )


@bp.post("/import/commit")
@require(Permission.edit_lists)
def import_commit():  # type: ignore[no-untyped-def]
    if not request.form.get("token"):
        return _page(_year(request.form.get("year")), _("没有待导入的文件，请先上传。"), 400)
    upload = _upload()
    s = db.session()
    if upload.size >= current_app.config["JOBS_IMPORT_MIN_BYTES"]:
        return started(jobs.submit(s, g.user, "reduction.import_commit", {"token": upload.token}))
    try:
        result = imports.commit(s, g.user, upload, current_app.config)
    except NotFound:
        raise
    except ServiceError as e:
        s.rollback()
        if e.status == 403:
            raise
        return _page(upload.year, e.message, e.status)
    uploads.discard(upload)
    c = result.counts
    if c["new"] or c["changed"] or c["removed"]:
        flash(
            _(
                "导入完成：新增 %(new)d 家、更新 %(changed)d 家、未变 %(unchanged)d 家、删除 %(removed)d 家企业。",
                new=c["new"],
                changed=c["changed"],
                unchanged=c["unchanged"],
                removed=c["removed"],
            )
        )
    else:
        flash(_("文件内容与清单一致，未做任何修改。"))
    return redirect(url_for("reduction.import_page", year=upload.year))


@bp.get("/import/template.xlsx")
@require(Permission.view_lists)
def import_template():  # type: ignore[no-untyped-def]
    return _send(exporter.write_template, "应急减排清单模板.xlsx")


@bp.get("/export.xlsx")
@require(Permission.view_lists)
def export_list():  # type: ignore[no-untyped-def]
    raw = request.args.get("list_id", "")
    if not raw.isdigit():
        message = _("请指定要导出的清单。")
        return render_template("errors/error.html", code=400, title=_("请求有误"), message=message), 400
    s = db.session()
    list_id = parse_id(raw)  # None past the column's range: no such list
    # scoped: a list outside the user's jurisdiction is not found
    lst = s.get(ReductionList, list_id) if list_id else None
    if lst is None:
        raise NotFound(_("清单不存在，或您无权查看。"))
    if _enterprises(s, lst) >= current_app.config["JOBS_EXPORT_MIN_ENTERPRISES"]:
        # a province's list takes a while: exported by a job, which the user starts here (a POST)
        return render_template(
            "jobs/start.html", title=_("导出清单"), action=url_for("reduction.export_job"),
            fields={"list_id": lst.id}, message=_("该清单较大，将在后台导出；完成后可下载。"),
        )  # fmt: skip
    name = f"应急减排清单_{lst.jurisdiction.name}_{lst.year}_v{lst.version}.xlsx"
    return _send(lambda out: exporter.export_list(s, lst, g.user, out), name)


@bp.post("/export")
@require(Permission.view_lists)
def export_job():  # type: ignore[no-untyped-def]
    raw = request.form.get("list_id", "")
    if not (raw.isascii() and raw.isdigit() and int(raw) < 2**31):
        raise ServiceError(_("请指定要导出的清单。"))
    s = db.session()
    lst = s.get(ReductionList, int(raw))
    if lst is None:
        raise NotFound(_("清单不存在，或您无权查看。"))
    job = jobs.submit(s, g.user, "reduction.export", {"list_id": lst.id}, total=_enterprises(s, lst))
    return started(job)


@bp.post("/export-region")
@require(Permission.view_lists)
def export_region_job():  # type: ignore[no-untyped-def]
    """Every list of a year within the user's reach in one workbook (a province's), made by a job."""
    year = _year(request.form.get("year"))
    return started(jobs.submit(db.session(), g.user, "reduction.export_region", {"year": year}))


def _enterprises(s: Any, lst: ReductionList) -> int:
    from app.reduction.services.lists import enterprise_counts

    return enterprise_counts(s, [lst.id]).get(lst.id, 0)


def _send(write: Any, download_name: str) -> Any:
    """Write the workbook to a temporary file (xlsxwriter streams rows to disk), then send its bytes."""
    with tempfile.TemporaryDirectory(prefix="lianfang-export-") as tmp:
        path = Path(tmp) / "export.xlsx"
        write(str(path))
        data = path.read_bytes()
    name = clean_name(download_name)  # a place's name from the inventories, cleaned as every name sent
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)
