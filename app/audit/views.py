"""The audit admin's search and export of the audit log (read only: nothing edits it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from itertools import chain

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from app.audit import anchor
from app.audit.models import AuditEntry, AuditHead, Outcome
from app.audit.services import GENESIS, record
from app.auth.roles import Permission
from app.core.access import require
from app.core.exports import csv_bytes
from app.core.inputs import page_arg
from app.core.localtime import LOCAL_TZ
from app.core.templating import local_time
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 100
EXPORT_LIMIT = 100_000


def _json(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _date(name: str) -> datetime | None:
    raw = request.args.get(name) or ""
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.min, LOCAL_TZ).astimezone(UTC)


def _filtered() -> tuple[Select, dict[str, str]]:
    args = {
        k: (request.args.get(k) or "").strip()[:64]
        for k in ("username", "action", "outcome", "object_type", "object_id", "start", "end")
    }
    stmt = select(AuditEntry)
    if args["username"]:
        stmt = stmt.where(AuditEntry.username == args["username"])
    if args["action"]:
        stmt = stmt.where(AuditEntry.action.startswith(args["action"]))
    if args["outcome"] in {o.value for o in Outcome}:
        stmt = stmt.where(AuditEntry.outcome == Outcome(args["outcome"]))
    if args["object_type"]:
        stmt = stmt.where(AuditEntry.object_type == args["object_type"])
    if args["object_id"]:
        stmt = stmt.where(AuditEntry.object_id == args["object_id"])
    if (start := _date("start")) is not None:
        stmt = stmt.where(AuditEntry.at >= start)
    if (end := _date("end")) is not None:
        stmt = stmt.where(AuditEntry.at < end + timedelta(days=1))
    return stmt, args


@bp.get("/")
@require(Permission.view_audit)
def search():  # type: ignore[no-untyped-def]
    s = db.session()
    stmt, args = _filtered()
    page = page_arg()
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = s.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template(
        "audit/search.html", rows=rows, total=total, page=page, pages=pages, args=args, outcomes=list(Outcome)
    )


@bp.get("/export.csv")
@require(Permission.export_audit)
def export():  # type: ignore[no-untyped-def]
    s = db.session()
    stmt, args = _filtered()
    rows = s.scalars(stmt.order_by(AuditEntry.seq).limit(EXPORT_LIMIT)).all()
    head = s.get(AuditHead, 1)
    record(s, "audit.export", detail={"filters": {k: v for k, v in args.items() if v}, "rows": len(rows)})
    header = [
        _("序号"),
        _("时间"),
        _("用户"),
        _("IP"),
        _("操作"),
        _("对象类型"),
        _("对象"),
        _("结果"),
        _("变更前"),
        _("变更后"),
        _("详情"),
        _("哈希"),
    ]
    key = current_app.config["AUDIT_KEY"]
    # Last row: the chain's head when the export was made, signed; `flask audit verify --export FILE` checks
    # that the log still reaches it (app/audit/anchor.py).
    signed = anchor.export_row(key, head.seq, head.last_hash) if head else anchor.export_row(key, 0, GENESIS)
    body = csv_bytes(
        header,
        chain(
            ([e.seq, local_time(e.at, "%Y-%m-%d %H:%M:%S"), e.username, e.ip, e.action, e.object_type, e.object_id,
              e.outcome.value, _json(e.before), _json(e.after), _json(e.detail), e.hash] for e in rows),
            [signed],
        ),
    )  # fmt: skip
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-log.csv"},
    )
