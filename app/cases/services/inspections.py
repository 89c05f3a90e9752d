"""Field inspection records (joint-enforcement figures, seed 003): the team with its members' names and
执法证号, the round, the number of staff; a joint inspection may be recorded in another bureau's area."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import User
from app.cases.models import Case, Inspection
from app.cases.services.choices import WORKERS
from app.core.errors import Forbidden, ServiceError
from app.core.scoping import get_scope, unscoped
from app.db import utcnow
from app.places.models import Jurisdiction

MAX_TEAM = 20


def team_of(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The team as typed: form rows `team_name`/`team_cert` (empty rows skipped) or an API list `team` of
    {name, cert_no}. A 执法证号 without a name is refused."""
    if hasattr(data, "getlist"):
        rows = list(zip(data.getlist("team_name"), data.getlist("team_cert"), strict=False))
    else:
        raw = data.get("team") or []
        if not isinstance(raw, list) or not all(isinstance(m, Mapping) for m in raw):
            raise ServiceError(_("检查组成员应为 {name, cert_no} 的列表。"), field="team")
        rows = [(m.get("name"), m.get("cert_no")) for m in raw]
    team = []
    for name, cert in rows:
        name, cert = str(name or "").strip()[:32], str(cert or "").strip()[:32]
        if not name and not cert:
            continue
        if not name:
            raise ServiceError(_("执法证号 %(c)s 缺少检查人员姓名。", c=cert), field="team")
        team.append({"name": name, "cert_no": cert})
    if len(team) > MAX_TEAM:
        raise ServiceError(_("检查组最多 %(n)d 人。", n=MAX_TEAM), field="team")
    return team


def enterprise_code(data: Mapping[str, Any]) -> str | None:
    """The enterprise's credit code as given (a case may name a plant on no list, so the check digit is not
    enforced), but never longer than the column: PostgreSQL would refuse the whole request."""
    code = str(data.get("enterprise_uscc") or "").strip().upper()
    if len(code) > 18:
        raise ServiceError(_("统一社会信用代码应为 18 位。"), field="enterprise_uscc")
    return code or None


def inspection_row(
    user: User, place: Jurisdiction, case: Case | None, data: Mapping[str, Any], at: datetime, *, joint: bool
) -> Inspection:
    team = team_of(data)
    raw = data.get("staff")
    try:
        staff = int(raw) if raw not in (None, "") else max(len(team), 1)
    except (TypeError, ValueError):
        raise ServiceError(_("检查人数应为 1–99 的整数。"), field="staff") from None
    if not 1 <= staff <= 99:
        raise ServiceError(_("检查人数应为 1–99 的整数。"), field="staff")
    if staff < len(team):
        raise ServiceError(_("检查人数（%(s)d）少于检查组成员（%(t)d 人）。", s=staff, t=len(team)), field="staff")
    return Inspection(
        bureau_id=user.bureau_id, jurisdiction_id=place.id, inspected_at=at,
        source_name=(case.source_name if case else str(data.get("source_name") or "").strip()[:200]),
        enterprise_uscc=enterprise_code(data), staff=staff, team=team, joint=joint,
        round_label=str(data.get("round_label") or "").strip()[:64], case_id=case.id if case else None,
    )  # fmt: skip


def record_inspection(session: Session, user: User, data: Mapping[str, Any]) -> Inspection:
    """A field inspection that found no problem still counts in the joint-enforcement figures. Outside the
    bureau's own area only as a joint inspection (联合检查), which the form must say."""
    if not user.roles & WORKERS:
        raise Forbidden(_("只有执法检查员和生态环境部门业务人员可以登记检查。"))
    if not str(data.get("source_name") or "").strip():
        raise ServiceError(_("请填写检查对象。"), field="source_name")
    with unscoped(session):
        place = session.scalars(select(Jurisdiction).where(Jurisdiction.code == str(data.get("place") or ""))).first()
    if place is None:
        raise ServiceError(_("请选择检查所在的区县。"), field="place")
    scope = get_scope(session)
    own = scope is None or scope.can_write(place.id)
    joint = str(data.get("joint") or "") in ("1", "on", "true", "True")
    if not own and not joint:
        raise ServiceError(_("检查地点不在本单位辖区：联合检查请勾选“联合检查”。"), field="joint")
    row = inspection_row(user, place, None, data, utcnow(), joint=joint)
    session.add(row)
    session.flush()
    record(session, "inspection.create", obj=row,
           after={"source_name": row.source_name, "place": place.code, "staff": row.staff, "round": row.round_label,
                  "team": row.team, "joint": joint})  # fmt: skip
    return row
