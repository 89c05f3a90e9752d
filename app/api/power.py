"""Readings in over JSON (issue 14 point 1): `POST /api/v1/power/readings` with an optional `Idempotency-Key`.
The same key with the same body answers as the first time and stores nothing more; the same key with another body
is refused (422). Bad rows are named by line and nothing of the batch is kept; a large batch runs as a job.

Reports made in advance (point 3): `GET /api/v1/power/reports` lists those of the reader's area, `POST` adds one
for an enterprise of the own area (400 naming the field of a bad value; nothing written)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.api.blueprint import bp
from app.audit.models import Outcome
from app.audit.services import record
from app.auth.roles import Permission
from app.core.access import require
from app.core.web import json_error
from app.extensions import db
from app.jobs import services as jobs
from app.power import ingest
from app.power.domain.rows import RowsError
from app.power.models import PowerBatch
from app.power.store import store

SYNC_ROWS = 50_000  # more readings than this in one request: a background job (config POWER_SYNC_ROWS)


def _replay(prior: PowerBatch, digest: str) -> Any:
    if prior.body_digest != digest:
        return json_error(422, "idempotency_key_reused",
                          _("该 Idempotency-Key 已用于另一批数据，本批未保存。请为新的一批使用新的键。"))  # fmt: skip
    response = current_app.make_response((prior.answer, prior.status_code))
    response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/power/readings")
@require(Permission.work_response)
def power_readings():  # type: ignore[no-untyped-def]
    s = db.session()
    body = request.get_data()
    digest = ingest.body_digest(body)
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 128:
        return json_error(400, "invalid", _("Idempotency-Key 过长（最多 128 个字符）。"))
    if key:
        wanted = select(PowerBatch).where(PowerBatch.bureau_id == g.user.bureau_id, PowerBatch.idempotency_key == key)
        prior = s.scalar(wanted)
        if prior is not None:
            return _replay(prior, digest)
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return json_error(400, "invalid", _("请求体不是有效的 JSON。"))
    items = doc.get("readings") if isinstance(doc, dict) else doc
    batch_row = None
    if key:  # first, so that the same key sent twice at once waits here for the first one's answer
        batch_row = PowerBatch(bureau_id=g.user.bureau_id, idempotency_key=key, body_digest=digest, status_code=0)
        s.add(batch_row)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            return _replay(s.scalars(wanted).one(), digest)
    limit = int(current_app.config.get("POWER_SYNC_ROWS", SYNC_ROWS))
    if isinstance(items, list) and len(items) > limit:
        token = ingest.keep_file(current_app.config["UPLOAD_DIR"], ".json", body)
        job = jobs.submit(s, g.user, "power.ingest", {"token": token, "name": "readings.json", "source": "api"},
                          total=len(items))  # fmt: skip
        status, answer = 202, {"job": {"id": job.id, "url": url_for("api.job", job_id=job.id)}}
    else:
        try:
            batch = ingest.parse_items(s, items)
        except RowsError as e:
            s.rollback()
            record(s, "power.readings_refused", object_type="power_reading", outcome=Outcome.failure,
                   detail={"source": "api", "problems": len(e.problems)})  # fmt: skip
            g.commit_anyway = True  # the refusal is audited; nothing of the batch is kept
            return json_error(422, "invalid_rows", _("数据有误，未保存任何读数。"), problems=e.problems)
        status, answer = 201, ingest.summary(store(s, batch, "api"))
    if batch_row is not None:
        batch_row.status_code, batch_row.answer = status, answer
        batch_row.job_id = answer.get("job", {}).get("id") if status == 202 else None
    return answer, status


def _json_object() -> dict[str, Any]:
    from app.core.errors import ServiceError

    doc = request.get_json(silent=True)
    if not isinstance(doc, dict):
        raise ServiceError(_("请求体应为 JSON 对象。"))
    return doc


@bp.get("/power/reports")
@require(Permission.view_response)
def power_reports():  # type: ignore[no-untyped-def]
    from app.power import reports

    uscc = (request.args.get("uscc") or "").strip()[:18]
    return {"reports": [reports.as_json(r, e) for r, e in reports.listed(db.session(), uscc)]}


@bp.post("/power/reports")
@require(Permission.work_response)
def power_report_add():  # type: ignore[no-untyped-def]
    from app.power import reports

    s = db.session()
    report = reports.add(s, reports.read(_json_object()), g.user)
    return reports.as_json(report, report.enterprise), 201
