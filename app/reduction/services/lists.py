"""The list lifecycle: draft → submitted → returned or approved (by the bureau one level up) → published;
a published list is never edited, a change makes a new version. One transition function decides."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import Bureau, User
from app.core.errors import Conflict, Forbidden, ServiceError
from app.db import utcnow
from app.reduction.models import ListState, ReductionList


class ListAction(enum.StrEnum):
    submit = "submit"
    return_ = "return"
    approve = "approve"
    publish = "publish"


# (action, allowed from, to, the permission method on the list)
TRANSITIONS: dict[ListAction, tuple[frozenset[ListState], ListState, str]] = {
    ListAction.submit: (frozenset({ListState.draft, ListState.returned}), ListState.submitted, "can_submit"),
    ListAction.return_: (frozenset({ListState.submitted}), ListState.returned, "can_decide"),
    ListAction.approve: (frozenset({ListState.submitted}), ListState.approved, "can_decide"),
    ListAction.publish: (frozenset({ListState.approved}), ListState.published, "can_publish"),
}

STATE_LABELS = {
    ListState.draft: "草稿",
    ListState.submitted: "已报送",
    ListState.returned: "已退回",
    ListState.approved: "已审核通过",
    ListState.published: "已发布",
}


def transition(
    session: Session, lst: ReductionList, action: ListAction, user: User, *, reason: str = "",
    expected_version: int | None = None,
) -> ReductionList:  # fmt: skip
    """Move a list along its lifecycle, checking state, role and data; audited."""
    allowed_from, target, check = TRANSITIONS[action]
    if expected_version is not None and expected_version != lst.lock_version:
        raise Conflict(_("清单已被他人修改，请刷新后重试。"))
    if lst.state not in allowed_from:
        raise Conflict(
            _("清单当前状态为“%(state)s”，不能执行该操作。", state=STATE_LABELS[lst.state])
        )
    if not getattr(lst, check)(user):
        raise Forbidden(_("您所在单位无权对该清单执行此操作。"))
    before = {"state": lst.state.value}
    now = utcnow()
    if action is ListAction.submit:
        lst.submitted_at, lst.submitted_by_id = now, user.id
        lst.return_reason = None
    elif action is ListAction.return_:
        reason = (reason or "").strip()
        if not reason:
            raise ServiceError(_("退回时必须填写退回原因。"), field="reason")
        lst.return_reason = reason[:1000]
        lst.decided_at, lst.decided_by_id = now, user.id
    elif action is ListAction.approve:
        lst.decided_at, lst.decided_by_id = now, user.id
    elif action is ListAction.publish:
        lst.published_at = now
    lst.state = target
    session.flush()
    record(
        session, f"reduction_list.{action.value}", obj=lst, before=before,
        after={"state": target.value, **({"reason": lst.return_reason} if action is ListAction.return_ else {})},
    )  # fmt: skip
    return lst


def open_list(session: Session, bureau: Bureau, year: int, user: User) -> ReductionList:
    """The list a bureau works on for a year: the open version, or a new draft (a new version when the year
    has a published one)."""
    if not 2000 <= year <= 2100:
        raise ServiceError(_("年份不正确。"), field="year")
    if user.jurisdiction_id != bureau.jurisdiction_id:
        raise Forbidden(_("只能为本单位建立清单。"))
    versions = session.scalars(
        select(ReductionList)
        .where(ReductionList.jurisdiction_id == bureau.jurisdiction_id, ReductionList.year == year)
        .order_by(ReductionList.version.desc())
    ).all()
    if versions and versions[0].state is not ListState.published:
        return versions[0]
    if versions:
        return new_version(session, versions[0], user)
    lst = ReductionList(
        jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=year, version=1, created_by_id=user.id
    )
    session.add(lst)
    session.flush()
    record(session, "reduction_list.create", obj=lst, after={"year": year, "version": 1})
    return lst


# Columns copied from one version to the next, per table (everything but keys and owners).
_COPY = {
    "enterprise": (
        "uscc, name, address, latitude, longitude, industry_code, industry, category, grade, graded_on, so2, nox, "
        "pm, vocs, uses_coal, uses_oil, toxic, ultra_low, output_basis, truck_visits_per_day, machinery, "
        "truck_emissions, machinery_emissions, "
        "operating_days, contact_name, contact_phone, notes, jurisdiction_id"
    ),
    "process_unit": (
        "code, name, share_so2, share_nox, share_pm, share_vocs, eia_capacity, permit_capacity, last_year_output, "
        "capacity_unit, outdoor, under_rectification"
    ),
    "control_facility": "code, name, kind, pollutants",
    "staggered_period": "starts_on, ends_on, reason",
}


def new_version(session: Session, published: ReductionList, user: User) -> ReductionList:
    """Copy a published list into a new draft version, in SQL (a list may hold 100,000 enterprises)."""
    if not published.can_new_version(user):
        raise Forbidden(_("只有清单所属单位可以建立新版本。"))
    lst = ReductionList(
        jurisdiction_id=published.jurisdiction_id, bureau_id=published.bureau_id, year=published.year,
        version=published.version + 1, based_on_id=published.id, created_by_id=user.id,
    )  # fmt: skip
    session.add(lst)
    session.flush()
    params = {"old": published.id, "new": lst.id}
    cols = _COPY["enterprise"]
    session.execute(
        text(f"INSERT INTO enterprise (list_id, {cols}) SELECT :new, {cols} FROM enterprise WHERE list_id = :old"),
        params,
    )
    # Children follow their enterprise by credit code, and their unit or facility by code.
    join = (
        "JOIN enterprise oe ON oe.id = c.enterprise_id AND oe.list_id = :old "
        "JOIN enterprise ne ON ne.list_id = :new AND ne.uscc = oe.uscc"
    )
    for table in ("process_unit", "control_facility", "staggered_period"):
        cols = _COPY[table]
        prefixed = ", ".join(f"c.{c.strip()}" for c in cols.split(","))
        session.execute(
            text(
                f"INSERT INTO {table} (enterprise_id, jurisdiction_id, {cols}) "
                f"SELECT ne.id, ne.jurisdiction_id, {prefixed} FROM {table} c {join}"
            ),
            params,
        )
    session.execute(
        text(
            "INSERT INTO measure (enterprise_id, jurisdiction_id, level, process_unit_id, kind, percent, verification,"
            " max_stage, basis, note) "
            "SELECT ne.id, ne.jurisdiction_id, c.level, nu.id, c.kind, c.percent, c.verification, c.max_stage, c.basis,"
            f" c.note FROM measure c {join} "
            "LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
            "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO meter (enterprise_id, jurisdiction_id, kind, number, process_unit_id, control_facility_id) "
            f"SELECT ne.id, ne.jurisdiction_id, c.kind, c.number, nu.id, nf.id FROM meter c {join} "
            "LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
            "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code "
            "LEFT JOIN control_facility ofc ON ofc.id = c.control_facility_id "
            "LEFT JOIN control_facility nf ON nf.enterprise_id = ne.id AND nf.code = ofc.code"
        ),
        params,
    )
    record(
        session, "reduction_list.new_version", obj=lst,
        after={"year": lst.year, "version": lst.version, "based_on": published.id},
    )  # fmt: skip
    return lst


@dataclass
class Deadline:
    due: date
    late: bool
    days_left: int


def submission_deadline(lst: ReductionList, plan_deadline: tuple[int, int] | None, today: date) -> Deadline | None:
    """The plan's yearly submission deadline (Kashgar: 15 September) and whether the list is late."""
    if plan_deadline is None:
        return None
    due = date(lst.year, *plan_deadline)
    done = lst.submitted_at.date() if lst.submitted_at else None
    late = (done or today) > due
    return Deadline(due=due, late=late, days_left=(due - today).days)


def list_summary(lst: ReductionList) -> dict[str, Any]:
    return {
        "id": lst.id, "year": lst.year, "version": lst.version, "state": lst.state.value,
        "jurisdiction": lst.jurisdiction.code, "bureau": lst.bureau.name,
        "submitted_at": _iso(lst.submitted_at), "decided_at": _iso(lst.decided_at),
        "published_at": _iso(lst.published_at), "return_reason": lst.return_reason,
    }  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
