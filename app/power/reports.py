"""Reports made in advance (issue 14 point 3, 报备): an enterprise, or its bureau on its behalf, reports a planned
stoppage, maintenance, retrofit or power cut before it happens. The check leaves the report's days out of the
baseline and shows a flag it covers as explained (the plan's `explains`), not raised.

One service for the screen (`/power/reports`), the API (`/api/v1/power/reports`) and the CLI (`flask power
report`): the values are checked here, each problem naming its field, and nothing is written unless all are
right; a report is written for an enterprise of the writer's own area only, and audited (`power.report_added`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import ServiceError
from app.core.i18n import N_
from app.core.localtime import LOCAL_TZ
from app.core.scoping import get_scope
from app.power.models import PowerReport
from app.power.vocabulary import REPORT_LABELS
from app.reduction.domain.uscc import normalise
from app.registry.models import RegisteredEnterprise

MAX_DAYS = 366  # a report covers at most a year: a retrofit may be long, a typo of the year is caught
MAX_NOTE = 500
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
FIELD_LABELS = {"uscc": N_("统一社会信用代码"), "kind": N_("报备类型"), "starts_at": N_("开始时间"),
                "ends_at": N_("结束时间"), "note": N_("说明")}  # fmt: skip


@dataclass(frozen=True)
class ReportInput:
    uscc: str
    kind: str
    starts_at: datetime  # aware
    ends_at: datetime
    note: str


def parse_time(value: Any, field: str) -> datetime:
    """A local time (`2026-12-06 08:00`, the form's `2026-12-06T08:00`, a date), or ISO 8601 with an offset."""
    label = _(FIELD_LABELS[field])
    if isinstance(value, datetime):
        at = value
    else:
        raw = str(value or "").strip()
        if not raw:
            raise ServiceError(_("请填写“%(what)s”。", what=label), field=field)
        if len(raw) > 40:
            raise ServiceError(_("“%(what)s”格式不正确（应为 2026-12-06 08:00）。", what=label), field=field)
        at = None
        for fmt in TIME_FORMATS:
            try:
                at = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        if at is None:
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                raise ServiceError(
                    _("“%(what)s”格式不正确（应为 2026-12-06 08:00）：%(raw)s", what=label, raw=raw), field=field
                ) from None
    if not 2000 <= at.year <= 2100:
        raise ServiceError(_("“%(what)s”的年份应在 2000 到 2100 之间。", what=label), field=field)
    return at.replace(tzinfo=LOCAL_TZ) if at.tzinfo is None else at


def read(data: Mapping[str, Any]) -> ReportInput:
    """The values of a form or a JSON body, checked: a ServiceError naming the first wrong field."""
    uscc = normalise(str(data.get("uscc") or ""))
    if not uscc:
        raise ServiceError(_("请填写“%(what)s”。", what=_(FIELD_LABELS["uscc"])), field="uscc")
    if len(uscc) != 18 or not uscc.isalnum():
        raise ServiceError(_("统一社会信用代码应为 18 位字母或数字：%(v)s", v=uscc[:40]), field="uscc")
    kind = str(data.get("kind") or "").strip()
    if kind not in REPORT_LABELS:
        kinds = "、".join(f"{k}（{_(v)}）" for k, v in REPORT_LABELS.items())
        raise ServiceError(_("报备类型应为：%(kinds)s", kinds=kinds), field="kind")
    starts_at, ends_at = parse_time(data.get("starts_at"), "starts_at"), parse_time(data.get("ends_at"), "ends_at")
    if ends_at <= starts_at:
        raise ServiceError(_("报备的结束时间应晚于开始时间。"), field="ends_at")
    if ends_at - starts_at > timedelta(days=MAX_DAYS):
        raise ServiceError(_("一次报备最长 %(n)d 天，请分段报备。", n=MAX_DAYS), field="ends_at")
    note = data.get("note")
    note = "" if note is None else str(note).strip()
    if len(note) > MAX_NOTE:
        raise ServiceError(_("“说明”不能超过 %(n)d 个字符。", n=MAX_NOTE), field="note")
    return ReportInput(uscc, kind, starts_at, ends_at, note)


def add(session: Session, values: ReportInput, user: Any = None) -> PowerReport:
    """Record the report for a registered enterprise of the writer's own area (the CLI, unscoped: any)."""
    ent = session.scalar(select(RegisteredEnterprise).where(RegisteredEnterprise.uscc == values.uscc))
    scope = get_scope(session)
    if ent is None or (scope is not None and not scope.can_write(ent.jurisdiction_id)):
        raise ServiceError(_("未登记的企业，或不在本辖区：%(uscc)s", uscc=values.uscc), field="uscc")
    report = PowerReport(registry_enterprise_id=ent.id, jurisdiction_id=ent.jurisdiction_id, kind=values.kind,
                         starts_at=values.starts_at, ends_at=values.ends_at, note=values.note,
                         reported_by_id=getattr(user, "id", None))  # fmt: skip
    session.add(report)
    session.flush()
    record(session, "power.report_added", obj=report, user=user,
           detail={"uscc": ent.uscc, "kind": values.kind, "starts_at": values.starts_at.isoformat(),
                   "ends_at": values.ends_at.isoformat()})  # fmt: skip
    return report


def listed(session: Session, uscc: str = "", limit: int = 200) -> list[tuple[PowerReport, RegisteredEnterprise]]:
    """The reports the reader may see (its area), latest start first, optionally of one enterprise."""
    stmt = (select(PowerReport, RegisteredEnterprise)
            .join(RegisteredEnterprise, RegisteredEnterprise.id == PowerReport.registry_enterprise_id)
            .order_by(PowerReport.starts_at.desc(), PowerReport.id.desc()).limit(limit))  # fmt: skip
    if uscc:
        stmt = stmt.where(RegisteredEnterprise.uscc == normalise(uscc))
    return [(r, e) for r, e in session.execute(stmt).all()]


def as_json(report: PowerReport, ent: RegisteredEnterprise) -> dict[str, Any]:
    return {"id": report.id, "uscc": ent.uscc, "enterprise": ent.name, "kind": report.kind,
            "kind_label": _(REPORT_LABELS[report.kind]) if report.kind in REPORT_LABELS else report.kind,
            "starts_at": report.starts_at.astimezone(LOCAL_TZ).isoformat(),
            "ends_at": report.ends_at.astimezone(LOCAL_TZ).isoformat(), "note": report.note,
            "created_at": report.created_at.isoformat()}  # fmt: skip
