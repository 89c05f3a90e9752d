"""The list lifecycle: draft → submitted → returned or approved (by the bureau one level up) → published;
a published list is never edited, a change makes a new version. One transition function decides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, joinedload

from app.audit.services import record
from app.auth.models import Bureau, User
from app.auth.services import bureau_names
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.core.i18n import N_
from app.core.localtime import LOCAL_TZ
from app.db import utcnow
from app.notifications.models import NotificationKind
from app.notifications.services import bureaus_of, notify
from app.places.models import Jurisdiction, path_codes
from app.plans import services as plans
from app.reduction.models import (
    LIFECYCLE,
    Enterprise,
    ListAction,
    ListState,
    ReductionList,
    ReductionListEvent,
    _is_staff,
    _owner,
)
from app.reduction.services import assessments
from app.reduction.services.in_force import list_in_force

# The actions that move this list (new_version starts the next one instead).
TRANSITIONS = {a: v for a, v in LIFECYCLE.items() if v[1] is not None}

ACTION_LABELS = {
    ListAction.create: N_("建立"),
    ListAction.submit: N_("报送上级审核"),
    ListAction.return_: N_("退回修改"),
    ListAction.approve: N_("审核通过"),
    ListAction.publish: N_("发布"),
    ListAction.new_version: N_("建立新版本"),
}

STATE_LABELS = {
    ListState.draft: N_("草稿"),
    ListState.submitted: N_("已报送"),
    ListState.returned: N_("已退回"),
    ListState.approved: N_("已审核通过"),
    ListState.published: N_("已发布"),
}


def transition(
    session: Session, lst: ReductionList, action: ListAction, user: User, *, reason: str = "",
    expected_version: int | None = None,
) -> ReductionList:  # fmt: skip
    """Move a list along its lifecycle, checking who acts, the version seen, the state and the data;
    audited."""
    allowed_from, target, _who = TRANSITIONS[action]
    # Whose action it is, before the state: a bureau that may never act is refused (403), not told the state.
    if not lst.may(action, user):
        raise Forbidden(_("您所在单位无权对该清单执行此操作。"))
    if expected_version is not None and expected_version != lst.lock_version:
        raise Conflict(_("清单已被他人修改，请刷新后重试。"))
    if lst.state not in allowed_from:
        raise Conflict(_("清单当前状态为“%(state)s”，不能执行该操作。", state=_(STATE_LABELS[lst.state])))
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
    _notify(session, lst, action, user)
    add_event(session, lst, action, user, reason=lst.return_reason if action is ListAction.return_ else None)
    session.flush()
    record(
        session, f"reduction_list.{action.value}", obj=lst, before=before,
        after={"state": target.value,
               **({"reason": lst.return_reason} if action is ListAction.return_ else {})},
    )  # fmt: skip
    return lst


_NOTICES = {
    ListAction.submit: (NotificationKind.list_submitted, lambda lst: lst.jurisdiction.parent_id),
    ListAction.return_: (NotificationKind.list_returned, lambda lst: lst.jurisdiction_id),
    ListAction.approve: (NotificationKind.list_approved, lambda lst: lst.jurisdiction_id),
}


def _notify(session: Session, lst: ReductionList, action: ListAction, user: User) -> None:
    """The next bureau to act hears of the step: the one above of a submission, the owner of a decision."""
    if action not in _NOTICES:
        return
    kind, where = _NOTICES[action]
    detail = lst.return_reason or "" if action is ListAction.return_ else user.bureau.name
    subject = _("%(place)s %(year)d 年应急减排清单（第 %(v)d 版）", place=lst.jurisdiction.name, year=lst.year,
                v=lst.version)  # fmt: skip
    notify(session, bureaus_of(session, where(lst)), kind, subject=subject, detail=detail,
           endpoint="reduction.show", object_id=lst.id)  # fmt: skip


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
    # A new year starts as a copy of the list in force (the last published one), if there is one.
    in_force = list_in_force(session, bureau.jurisdiction_id, datetime.now(LOCAL_TZ).date())
    source = in_force if in_force is not None and in_force.year < year else None
    lst = ReductionList(
        jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=year, version=1, created_by_id=user.id,
        based_on_id=source.id if source is not None else None,
    )  # fmt: skip
    session.add(lst)
    session.flush()
    add_event(session, lst, ListAction.create, user)
    if source is not None:
        _copy_content(session, source, lst, periods=False)
    record(session, "reduction_list.create", obj=lst, after={
        "year": year, "version": 1, **({"copied_from": source.id} if source is not None else {})})  # fmt: skip
    return lst


# Columns copied from one version to the next, per table (everything but keys and owners). The copies keep
# their registry entries (`registry_id`): a new version changes no identity and writes nothing to the registry.
_COPY = {
    "enterprise": (
        "registry_id, uscc, name, address, latitude, longitude, industry_code, industry, category, grade, graded_on, "
        "so2, nox, pm, vocs, uses_coal, uses_oil, toxic, ultra_low, output_basis, truck_visits_per_day, "
        "machinery, truck_emissions, machinery_emissions, "
        "operating_days, contact_name, contact_phone, notes, jurisdiction_id"
    ),
    "process_unit": (
        "code, name, share_so2, share_nox, share_pm, share_vocs, eia_capacity, permit_capacity, "
        "registry_id, last_year_output, capacity_unit, outdoor, under_rectification"
    ),
    "control_facility": "registry_id, code, name, kind, pollutants",
    "staggered_period": "starts_on, ends_on, reason",
}


def _copy_content(session: Session, old: ReductionList, new: ReductionList, *, periods: bool = True) -> None:
    """Copy every enterprise of `old` with its units, facilities, measures, meters (and staggered periods,
    unless a new year starts: the old season's dates are not the new one's) into `new`, in SQL; the copies
    keep their registry entries, and the stored assessments come along."""
    params = {"old": old.id, "new": new.id}
    cols = _COPY["enterprise"]
    session.execute(
        text(
            f"INSERT INTO enterprise (list_id, {cols}) SELECT :new, {cols} FROM enterprise "  # noqa: S608
            "WHERE list_id = :old"
        ),
        params,
    )
    # Children follow their enterprise by credit code, and their unit or facility by code.
    join = (
        "JOIN enterprise oe ON oe.id = c.enterprise_id AND oe.list_id = :old "
        "JOIN enterprise ne ON ne.list_id = :new AND ne.uscc = oe.uscc"
    )
    for table in ("process_unit", "control_facility", *(("staggered_period",) if periods else ())):
        cols = _COPY[table]
        prefixed = ", ".join(f"c.{c.strip()}" for c in cols.split(","))
        # A control facility keeps its process unit: the new version's unit of the same code (units are
        # copied first).
        unit_col, unit_val, unit_join = "", "", ""
        if table == "control_facility":
            unit_col, unit_val = "process_unit_id, ", "nu.id, "
            unit_join = (
                " LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
                "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code"
            )
        session.execute(
            text(
                f"INSERT INTO {table} (enterprise_id, jurisdiction_id, {unit_col}{cols}) "  # noqa: S608 - constants
                f"SELECT ne.id, ne.jurisdiction_id, {unit_val}{prefixed} FROM {table} c {join}{unit_join}"
            ),
            params,
        )
    session.execute(
        text(
            "INSERT INTO measure (enterprise_id, jurisdiction_id, level, process_unit_id, kind, percent, "  # noqa: S608
            "verification, max_stage, basis, note) "
            "SELECT ne.id, ne.jurisdiction_id, c.level, nu.id, c.kind, c.percent, c.verification, "
            f"c.max_stage, c.basis, c.note FROM measure c {join} "
            "LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
            "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO meter (enterprise_id, jurisdiction_id, registry_id, kind, number, process_unit_id, "  # noqa: S608
            "control_facility_id) "
            f"SELECT ne.id, ne.jurisdiction_id, c.registry_id, c.kind, c.number, nu.id, nf.id FROM meter c {join} "
            "LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
            "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code "
            "LEFT JOIN control_facility ofc ON ofc.id = c.control_facility_id "
            "LEFT JOIN control_facility nf ON nf.enterprise_id = ne.id AND nf.code = ofc.code"
        ),
        params,
    )
    # The same enterprises, units and measures: the same assessments (those of an older rules version or
    # missing are computed anew).
    cols = ", ".join(assessments.COLUMNS[3:])
    session.execute(
        text(
            f"INSERT INTO enterprise_assessment (enterprise_id, jurisdiction_id, list_id, {cols}) "  # noqa: S608
            f"SELECT ne.id, ne.jurisdiction_id, :new, {', '.join(f'c.{c}' for c in assessments.COLUMNS[3:])} "
            f"FROM enterprise_assessment c {join}"
        ),
        params,
    )
    assessments.refresh(session, Enterprise.list_id == new.id, only_outdated=True)
    assessments.recount(session, [new.id])


def new_version(session: Session, published: ReductionList, user: User) -> ReductionList:
    """Copy a published list into a new draft version, in SQL (a list may hold 100,000 enterprises)."""
    if not published.may(ListAction.new_version, user):
        raise Forbidden(_("只有清单所属单位可以建立新版本。"))
    if published.state is not ListState.published:
        raise Conflict(_("只有已发布的清单可以建立新版本；未发布的清单直接修改即可。"))
    newer = session.scalar(
        select(ReductionList.id).where(
            ReductionList.jurisdiction_id == published.jurisdiction_id, ReductionList.year == published.year,
            ReductionList.version > published.version,
        )
    )  # fmt: skip
    if newer is not None:
        raise Conflict(_("该年度已有更新的版本，请在最新版本上修改。"))
    lst = ReductionList(
        jurisdiction_id=published.jurisdiction_id, bureau_id=published.bureau_id, year=published.year,
        version=published.version + 1, based_on_id=published.id, created_by_id=user.id,
    )  # fmt: skip
    session.add(lst)
    session.flush()
    add_event(session, lst, ListAction.create, user)
    _copy_content(session, published, lst)
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
    done = lst.submitted_at.astimezone(LOCAL_TZ).date() if lst.submitted_at else None
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


# --- reading lists: what a user sees, may do, and by when -------------------------------------------------


def get_list(session: Session, list_id: int) -> ReductionList:
    """A list the user may read (central scoping: outside the scope it does not exist)."""
    lst = session.get(
        ReductionList,
        list_id,
        options=[joinedload(ReductionList.jurisdiction), joinedload(ReductionList.bureau)],
    )
    if lst is None:
        raise NotFound(_("清单不存在，或不在您的辖区范围内。"))
    return lst


def get_list_and_versions(session: Session, list_id: int) -> tuple[ReductionList, list[ReductionList]]:
    """A list and every version of its jurisdiction (newest first), in one scoped query (the list page)."""
    same = select(ReductionList.jurisdiction_id).where(ReductionList.id == list_id).scalar_subquery()
    versions = list(
        session.scalars(
            select(ReductionList)
            .where(ReductionList.jurisdiction_id == same)
            .options(joinedload(ReductionList.jurisdiction), joinedload(ReductionList.bureau))
            .order_by(ReductionList.year.desc(), ReductionList.version.desc())
        ).unique()
    )
    lst = next((v for v in versions if v.id == list_id), None)
    if lst is None:
        raise NotFound(_("清单不存在，或不在您的辖区范围内。"))
    return lst, versions


def touch(session: Session, lst: ReductionList) -> None:
    """Mark the list's content as changed (an enterprise, a measure, a period): its version moves on, so that
    forms rendered before the change are refused.

    A plain UPDATE of the counter rather than an ORM change of the list row: two bureaus' users editing two
    enterprises of one list must not refuse each other."""
    session.execute(
        update(ReductionList)
        .where(ReductionList.id == lst.id)
        .values(lock_version=ReductionList.lock_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(lst, ["lock_version"])


def require_editable(lst: ReductionList, user: User) -> None:
    """Refuse a change to the list's content: another bureau (403) or a list that is not open for editing
    (409, with the state named)."""
    if not _owner(lst, user):
        raise Forbidden(_("只有清单所属单位的业务人员可以修改该清单。"))
    if not lst.editable:
        raise Conflict(
            _(
                "清单当前状态为“%(state)s”，不能修改。已报送的清单需退回后修改；已发布的清单请建立新版本。",
                state=_(STATE_LABELS[lst.state]),
            )
        )


def available_actions(lst: ReductionList, user: User) -> list[ListAction]:
    """The lifecycle actions the user may take on the list now (the transition function's view)."""
    return [action for action in (*TRANSITIONS, ListAction.new_version) if lst.can(action, user)]


def add_event(session: Session, lst: ReductionList, action: ListAction, user: User | None, *,
              reason: str | None = None, at: datetime | None = None) -> ReductionListEvent:  # fmt: skip
    """One step of the version's lifecycle (the list's state after it), in the caller's transaction."""
    event = ReductionListEvent(
        list_id=lst.id, jurisdiction_id=lst.jurisdiction_id, action=action, at=at or utcnow(), reason=reason,
        user_id=user.id if user is not None else None, bureau_id=user.bureau_id if user is not None else None,
        state=lst.state,
    )  # fmt: skip
    session.add(event)
    return event


def visible_lists(session: Session, user: User, year: int | None = None) -> dict[str, list[ReductionList]]:
    """The user's bureau's lists (every year and version), and the lists one level down that the user's
    bureau decides on (the county lists for a city bureau)."""
    stmt = select(ReductionList).order_by(ReductionList.year.desc(), ReductionList.version.desc())
    if year is not None:
        stmt = stmt.where(ReductionList.year == year)
    own = session.scalars(stmt.where(ReductionList.jurisdiction_id == user.jurisdiction_id)).all()
    below = session.scalars(
        stmt.join(Jurisdiction, Jurisdiction.id == ReductionList.jurisdiction_id)
        .where(Jurisdiction.parent_id == user.jurisdiction_id)
        .order_by(Jurisdiction.code)
    ).all()
    return {"own": list(own), "below": list(below)}


def may_open(user: User) -> bool:
    return _is_staff(user)


def versions_of(session: Session, lst: ReductionList) -> list[ReductionList]:
    """Every version of every year of the list's jurisdiction, newest first (what a diff compares with)."""
    return list(
        session.scalars(
            select(ReductionList)
            .where(ReductionList.jurisdiction_id == lst.jurisdiction_id)
            .order_by(ReductionList.year.desc(), ReductionList.version.desc())
        )
    )


def default_comparison(session: Session, lst: ReductionList) -> ReductionList | None:
    """The version this one was based on, else the previous version of the year, else last year's latest."""
    if lst.based_on_id is not None:
        base = session.get(ReductionList, lst.based_on_id)
        if base is not None:
            return base
    others = [v for v in versions_of(session, lst) if v.id != lst.id]
    older = [v for v in others if (v.year, v.version) < (lst.year, lst.version)]
    if older:
        return older[0]
    return others[-1] if others else None  # the oldest newer one: what this version became


def _deadlines(session: Session) -> dict[str, tuple[int, int]]:
    """Jurisdiction code → the earliest list deadline of the plans it is a member of (app.plans.services)."""
    found: dict[str, tuple[int, int]] = {}
    for code, member_of in plans.member_plans(session).items():
        dues = [p.list_deadline_tuple for p in member_of if p.list_deadline_tuple is not None]
        if dues:
            found[code] = min(dues)
    return found


def deadline_for(session: Session, lst: ReductionList, today: date) -> Deadline | None:
    """The deadline of the plan the list's jurisdiction belongs to, through itself or an ancestor."""
    from app.reduction.services.enterprises import places

    place = places(session).by_id.get(lst.jurisdiction_id)
    path = place.path if place is not None else lst.jurisdiction.path
    known = _deadlines(session)
    dues = [known[c] for c in path_codes(path) if c in known]
    return submission_deadline(lst, min(dues) if dues else None, today)


def events(session: Session, lst: ReductionList) -> list[ReductionListEvent]:
    return list(session.scalars(
        select(ReductionListEvent).where(ReductionListEvent.list_id == lst.id)
        .order_by(ReductionListEvent.at, ReductionListEvent.id)
    ))  # fmt: skip


@dataclass(frozen=True)
class Step:
    action: ListAction
    at: datetime
    state: ListState
    bureau: str | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action.value, "at": _iso(self.at), "state": self.state.value, "bureau": self.bureau,
                **({"reason": self.reason} if self.action is ListAction.return_ else {})}  # fmt: skip


def history(session: Session, lst: ReductionList) -> list[Step]:
    """The lifecycle so far, oldest first: every step with the bureau that took it, each return with its own
    reason (bureau names are shown whoever reads: the deciding bureau is above the reader's scope)."""
    steps = events(session, lst)
    names = bureau_names(session, {e.bureau_id for e in steps})
    return [Step(e.action, e.at, e.state, names.get(e.bureau_id or 0), e.reason) for e in steps]


def enterprise_counts(session: Session, list_ids: list[int]) -> dict[int, int]:
    if not list_ids:
        return {}
    rows = session.execute(
        select(Enterprise.list_id, func.count(Enterprise.id))
        .where(Enterprise.list_id.in_(list_ids))
        .group_by(Enterprise.list_id)
    )
    return {list_id: n for list_id, n in rows}
