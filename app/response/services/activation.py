"""Activation: an episode's units (issued, upgraded, downgraded, lifted) become response tasks.

`apply` is the one entry: it brings the response in line with the episode's units as they now stand. A new
unit's places (the unit and every district or county below it) get their list in force and one task per
listed enterprise, made by two set-based INSERT … SELECT statements (tasks, then their measures copied from
the version's Measure rows at the task's level); a changed level re-derives each task's measures, keeping the
checks done (domain.activation.relevel); a lifted unit's tasks are closed. Flushes only; the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from app.audit.services import record
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.db import utcnow
from app.notifications.models import NotificationKind
from app.notifications.services import bureaus_of, notify
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import AlertLevel
from app.reduction.models import Enterprise, Measure, ProcessUnit, StaggeredPeriod
from app.reduction.services.in_force import lists_in_force
from app.response.domain import activation as dom
from app.response.models import ResponseArea, ResponseMeasure, ResponseTask, ResponseUnit
from app.response.vocabulary import CheckStatus, TaskState

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class UnitChange:
    """A unit of the episode as it now stands: its level (None once lifted), its start and its lift."""

    jurisdiction_id: int
    level: str | None
    starts_at: datetime
    ends_at: datetime | None = None


@dataclass
class Applied:
    units: int = 0
    areas: int = 0
    tasks_created: int = 0
    measures_created: int = 0
    tasks_relevelled: int = 0
    tasks_closed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def apply(
    session: Session, *, episode_id: int, plan_id: int, units: Sequence[UnitChange], user: Any = None,
    on: date | None = None, now: datetime | None = None, progress: Progress | None = None,
) -> Applied:  # fmt: skip
    """Bring the episode's response in line with `units` (issue, upgrade, downgrade and lift alike)."""
    now = now or utcnow()
    on = on or now.astimezone(LOCAL_TZ).date()
    out = Applied()
    step = _Steps(progress, 5)
    have = {
        u.jurisdiction_id: u for u in session.scalars(select(ResponseUnit).where(ResponseUnit.episode_id == episode_id))
    }
    for change in units:
        unit = have.get(change.jurisdiction_id)
        level = change.level or (unit.level.value if unit else None)
        if level is None:
            continue  # lifted before it ever started here: nothing to respond to
        ends_at = change.ends_at if change.level is None else None
        if unit is None:
            unit = ResponseUnit(episode_id=episode_id, plan_id=plan_id, jurisdiction_id=change.jurisdiction_id,
                                level=AlertLevel(level), starts_at=change.starts_at, ends_at=ends_at)  # fmt: skip
            session.add(unit)
            have[change.jurisdiction_id] = unit
        else:
            unit.level, unit.ends_at = AlertLevel(level), ends_at
            if change.level is None and ends_at is None:
                unit.ends_at = now
        out.units += 1
    session.flush()
    step()

    with unscoped(session):  # places are reference data
        paths = dict(
            session.execute(select(Jurisdiction.id, Jurisdiction.path).where(Jurisdiction.id.in_(list(have)))).all()
        )
        places = dict(session.execute(
            select(Jurisdiction.id, Jurisdiction.path)
            .where(or_(*[Jurisdiction.path.startswith(p) for p in paths.values()]))
        ).all()) if paths else {}  # fmt: skip
    active = [dom.Unit(jid, paths[jid], None if u.lifted else u.level.value) for jid, u in have.items()]
    wanted = dom.covered(active, places)
    areas = {
        a.jurisdiction_id: a for a in session.scalars(select(ResponseArea).where(ResponseArea.episode_id == episode_id))
    }
    unit_ids = {jid: u.id for jid, u in have.items()}
    new_areas: list[ResponseArea] = []
    relevel: list[ResponseArea] = []
    for jid, w in sorted(wanted.items()):
        area = areas.get(jid)
        if area is None or area.closed_at is not None:
            if area is None:
                area = ResponseArea(episode_id=episode_id, jurisdiction_id=jid, unit_id=unit_ids[w.unit_id],
                                    level=AlertLevel(w.level))  # fmt: skip
                session.add(area)
                new_areas.append(area)
            else:  # lifted, then activated again within the episode
                area.closed_at, area.level, area.unit_id = None, AlertLevel(w.level), unit_ids[w.unit_id]
                relevel.append(area)
        elif area.level.value != w.level or area.unit_id != unit_ids[w.unit_id]:
            changed = area.level.value != w.level
            area.level, area.unit_id = AlertLevel(w.level), unit_ids[w.unit_id]
            if changed:
                relevel.append(area)
    lifted = [a for jid, a in areas.items() if jid not in wanted and a.closed_at is None]
    for area in lifted:
        area.closed_at = now
    session.flush()
    out.areas = len(wanted)
    step()

    if new_areas:
        in_force = lists_in_force(session, [a.jurisdiction_id for a in new_areas], on)
        for area in new_areas:
            lst = in_force.get(area.jurisdiction_id)
            area.list_id = lst.id if lst else None
        session.flush()
        with_list = [a.id for a in new_areas if a.list_id is not None]
        if with_list:
            out.tasks_created, out.measures_created = create_tasks(session, episode_id, with_list, on)
    step()
    for area in relevel:
        out.tasks_relevelled += relevel_area(session, area, now)
    step()
    if lifted:
        out.tasks_closed = session.execute(
            update(ResponseTask)
            .where(ResponseTask.area_id.in_([a.id for a in lifted]), ResponseTask.state != TaskState.closed)
            .values(state=TaskState.closed, closed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
        closed = {a.id for a in lifted}
        for obj in list(session.identity_map.values()):  # loaded tasks read the closed state again
            if isinstance(obj, ResponseTask) and obj.area_id in closed:
                session.expire(obj, ["state", "closed_at"])
    session.flush()
    _notify(session, episode_id, new_areas, relevel, lifted)
    record(session, "response.apply", object_type="episode", object_id=episode_id, user=user,
           after={"plan_id": plan_id, **out.as_dict()})  # fmt: skip
    step()
    return out


def create_tasks(session: Session, episode_id: int, area_ids: list[int], on: date) -> tuple[int, int]:
    """One task per enterprise of the areas' lists in force, and its measures at the task's level: two
    INSERT … SELECT statements. An enterprise on two lists (a county's and its city's) gets one task, from
    the list of the deeper jurisdiction."""
    la, a = aliased(ResponseArea), aliased(ResponseArea)
    lj = aliased(Jurisdiction)
    ranked = (
        select(
            Enterprise.id.label("enterprise_id"), Enterprise.jurisdiction_id, Enterprise.list_id, Enterprise.uscc,
            Enterprise.registry_id, Enterprise.name, Enterprise.address, Enterprise.category,
            a.id.label("area_id"), a.level,
            func.row_number().over(partition_by=Enterprise.uscc, order_by=(func.length(lj.path).desc(), Enterprise.id))
            .label("rank"),
        )
        .join(la, and_(la.list_id == Enterprise.list_id, la.episode_id == episode_id, la.id.in_(area_ids)))
        .join(lj, lj.id == la.jurisdiction_id)
        .join(a, and_(a.jurisdiction_id == Enterprise.jurisdiction_id, a.episode_id == episode_id,
                      a.closed_at.is_(None)))
        .where(~exists().where(ResponseTask.episode_id == episode_id, ResponseTask.uscc == Enterprise.uscc))
        .subquery()
    )  # fmt: skip
    stagger = (
        select(func.max(StaggeredPeriod.ends_on))
        .where(StaggeredPeriod.enterprise_id == ranked.c.enterprise_id, StaggeredPeriod.starts_on <= on,
               StaggeredPeriod.ends_on >= on)
        .scalar_subquery()
    )  # fmt: skip
    rows = select(
        literal(episode_id), ranked.c.area_id, ranked.c.jurisdiction_id, ranked.c.enterprise_id, ranked.c.list_id,
        ranked.c.uscc, ranked.c.registry_id, ranked.c.name, ranked.c.address, ranked.c.category,
        case((ranked.c.category == "key", literal("onsite_supervision")), else_=literal("patrol")),
        ranked.c.level, literal(TaskState.open.value), stagger, literal(utcnow(), ResponseTask.created_at.type),
    ).where(ranked.c.rank == 1)  # fmt: skip
    before = session.scalar(select(func.coalesce(func.max(ResponseTask.id), 0))) or 0
    t = ResponseTask.__table__
    session.execute(
        insert(t).from_select(
            ["episode_id", "area_id", "jurisdiction_id", "enterprise_id", "list_id", "uscc",
             "registry_enterprise_id", "enterprise_name",
             "address", "category", "supervision", "level", "state", "staggered_until", "created_at"], rows)
    )  # fmt: skip
    new = (ResponseTask.episode_id == episode_id) & (ResponseTask.id > before)
    copy_measures(session, new)
    # counted, not read from rowcount (psycopg answers -1 for an INSERT … SELECT here)
    tasks = session.scalar(select(func.count()).select_from(ResponseTask).where(new)) or 0
    measures = session.scalar(
        select(func.count()).select_from(ResponseMeasure).join(ResponseTask, ResponseTask.id == ResponseMeasure.task_id)
        .where(new)
    ) or 0  # fmt: skip
    return tasks, measures


def copy_measures(session: Session, which: Any) -> None:
    """The measures of the tasks `which` selects, copied from their enterprise's Measure rows at the task's
    level (one INSERT … SELECT)."""
    rows = (
        select(
            ResponseTask.id, ResponseTask.jurisdiction_id, Measure.id, Measure.level, Measure.kind, Measure.percent,
            Measure.verification, Measure.max_stage, Measure.basis, Measure.process_unit_id,
            func.coalesce(ProcessUnit.name, ""), Measure.note, literal(True), literal(CheckStatus.pending.value),
            literal(""),
        )
        .join(Measure, and_(Measure.enterprise_id == ResponseTask.enterprise_id, Measure.level == ResponseTask.level))
        .outerjoin(ProcessUnit, ProcessUnit.id == Measure.process_unit_id)
        .where(which)
        .order_by(ResponseTask.id, Measure.id)
    )  # fmt: skip
    session.execute(
        insert(ResponseMeasure.__table__).from_select(
            ["task_id", "jurisdiction_id", "measure_id", "level", "kind", "percent", "verification", "max_stage",
             "basis", "process_unit_id", "unit_name", "note", "required", "status", "remark"], rows)
    )  # fmt: skip


def _signature(m: Any) -> dom.Signature:
    kind = getattr(m.kind, "value", m.kind)
    stage = getattr(m.max_stage, "value", m.max_stage)
    basis = getattr(m.basis, "value", m.basis)
    return (kind, m.process_unit_id, m.percent, stage, basis)


def relevel_area(session: Session, area: ResponseArea, now: datetime) -> int:
    """Every open or done task of the area at the area's new level: measures re-derived, checks kept."""
    tasks = list(session.scalars(select(ResponseTask).where(ResponseTask.area_id == area.id)))
    for task in tasks:
        relevel_task(session, task, area.level, now)
    return len(tasks)


def relevel_task(session: Session, task: ResponseTask, level: AlertLevel, now: datetime) -> None:
    from app.response.services.tasks import refresh_state

    held = [dom.Held(m.id, _signature(m), m.status is not CheckStatus.pending) for m in task.measures]
    policy = list(session.scalars(
        select(Measure).where(Measure.enterprise_id == task.enterprise_id, Measure.level == level).order_by(Measure.id)
    ))  # fmt: skip
    by_id = {m.id: m for m in policy}
    plan = dom.relevel(held, [dom.Wanted(m.id, _signature(m)) for m in policy])
    rows = {m.id: m for m in task.measures}
    for held_id, w in plan.keep:
        row = rows[held_id]
        row.level, row.measure_id, row.required = level, w.measure_id, True
    for held_id in plan.retire:
        rows[held_id].required = False
    for held_id in plan.drop:
        task.measures.remove(rows[held_id])
    units = {u.id: u.name for u in session.scalars(
        select(ProcessUnit).where(ProcessUnit.id.in_([by_id[w.measure_id].process_unit_id for w in plan.add
                                                      if by_id[w.measure_id].process_unit_id]))
    )}  # fmt: skip
    for w in plan.add:
        m = by_id[w.measure_id]
        task.measures.append(ResponseMeasure(
            jurisdiction_id=task.jurisdiction_id, measure_id=m.id, level=level, kind=m.kind, percent=m.percent,
            verification=m.verification, max_stage=m.max_stage, basis=m.basis, process_unit_id=m.process_unit_id,
            unit_name=units.get(m.process_unit_id or 0, ""), note=m.note,
        ))  # fmt: skip
    task.level = level
    if task.state is TaskState.closed:
        task.state, task.closed_at = TaskState.open, None
    session.flush()
    refresh_state(task, now)


def _notify(session: Session, episode_id: int, new: list[ResponseArea], changed: list[ResponseArea],
            lifted: list[ResponseArea]) -> None:  # fmt: skip
    """Each place's bureaus hear of their tasks (issued, level changed) and of the lift."""
    touched = [a.id for a in (*new, *changed, *lifted)]
    if not touched:
        return
    counts = dict(session.execute(
        select(ResponseTask.area_id, func.count())
        .where(ResponseTask.area_id.in_(touched))
        .group_by(ResponseTask.area_id)
    ).all())  # fmt: skip
    with unscoped(session):
        names = dict(session.execute(
            select(Jurisdiction.id, Jurisdiction.name)
            .where(Jurisdiction.id.in_([a.jurisdiction_id for a in (*new, *changed, *lifted)]))
        ).all())  # fmt: skip
    for area in (*new, *changed):
        n = counts.get(area.id, 0)
        if not n:
            continue
        notify(session, bureaus_of(session, area.jurisdiction_id), NotificationKind.response_tasks,
               subject=f"{names[area.jurisdiction_id]} {area.level.label}", detail=f"{n}",
               endpoint="response.tasks", object_id=episode_id)  # fmt: skip
    for area in lifted:
        notify(session, bureaus_of(session, area.jurisdiction_id), NotificationKind.response_lifted,
               subject=names[area.jurisdiction_id], detail=f"{counts.get(area.id, 0)}",
               endpoint="response.tasks", object_id=episode_id)  # fmt: skip


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        if progress:
            progress(0, total)

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)


# --- from the episode --------------------------------------------------------------------------------------

JOB_MIN_ENTERPRISES = 5000  # default of RESPONSE_JOB_MIN_ENTERPRISES: a bigger activation runs as a job


def changes_of(units: Sequence[Any]) -> list[UnitChange]:
    """The episode's activation periods (episode_unit rows) as each unit now stands: the highest open period's
    level from the unit's first start, or lifted at its last period's end."""
    by_unit: dict[int, list[Any]] = {}
    for row in units:
        by_unit.setdefault(row.jurisdiction_id, []).append(row)
    out = []
    for jid, rows in sorted(by_unit.items()):
        start = min(r.starts_at for r in rows)
        open_rows = [r for r in rows if r.ends_at is None]
        if open_rows:
            top = max(open_rows, key=lambda r: AlertLevel(r.level).order)
            out.append(UnitChange(jid, AlertLevel(top.level).value, start))
        else:
            out.append(UnitChange(jid, None, start, max(r.ends_at for r in rows)))
    return out


def listed_in(session: Session, units: Sequence[UnitChange], on: date) -> int:
    """How many listed enterprises the units' places hold (their lists in force): what the activation writes."""
    active = [u.jurisdiction_id for u in units if u.level is not None]
    if not active:
        return 0
    with unscoped(session):
        paths = list(session.scalars(select(Jurisdiction.path).where(Jurisdiction.id.in_(active))))
        places = list(
            session.scalars(select(Jurisdiction.id).where(or_(*[Jurisdiction.path.startswith(p) for p in paths])))
        )
        lists = [lst.id for lst in lists_in_force(session, places, on).values()]
        return (
            session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.list_id.in_(lists))) or 0
            if lists
            else 0
        )


def params_of(episode_id: int, plan_id: int, units: Sequence[UnitChange], on: date) -> dict[str, Any]:
    return {
        "episode_id": episode_id, "plan_id": plan_id, "on": on.isoformat(),
        "units": [{"jurisdiction_id": u.jurisdiction_id, "level": u.level, "starts_at": u.starts_at.isoformat(),
                   "ends_at": u.ends_at.isoformat() if u.ends_at else None} for u in units],
    }  # fmt: skip


def from_params(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "episode_id": int(params["episode_id"]), "plan_id": int(params["plan_id"]),
        "on": date.fromisoformat(params["on"]),
        "units": [UnitChange(int(u["jurisdiction_id"]), u["level"], datetime.fromisoformat(u["starts_at"]),
                             datetime.fromisoformat(u["ends_at"]) if u["ends_at"] else None) for u in params["units"]],
    }  # fmt: skip


def start(session: Session, user: Any, *, episode_id: int, plan_id: int, units: Sequence[UnitChange],
          now: datetime | None = None, min_enterprises: int | None = None) -> Applied | Any:  # fmt: skip
    """Apply the change now, or as a background job with progress (`response.apply`) when the places hold
    at least `min_enterprises` listed enterprises (RESPONSE_JOB_MIN_ENTERPRISES). Activation is the
    episode's, not the issuer's reach: it writes the tasks of every activated place (unscoped, audited with
    the user)."""
    from flask import current_app, has_app_context

    from app.jobs.services import submit

    now = now or utcnow()
    on = now.astimezone(LOCAL_TZ).date()
    if min_enterprises is None:
        min_enterprises = (current_app.config.get("RESPONSE_JOB_MIN_ENTERPRISES", JOB_MIN_ENTERPRISES)
                           if has_app_context() else JOB_MIN_ENTERPRISES)  # fmt: skip
    if listed_in(session, units, on) >= min_enterprises:
        return submit(session, user, "response.apply", params_of(episode_id, plan_id, units, on), total=5)
    with unscoped(session):
        return apply(session, episode_id=episode_id, plan_id=plan_id, units=units, user=user, on=on, now=now)


def on_change(session: Session, episode: Any, user: Any) -> None:
    """The alerts' change hook (app/alerts/services/episodes.ON_CHANGE): after every issued proposal."""
    from app.plans.services import by_code

    plan = by_code(session, episode.plan_code)
    if plan is None:
        return
    start(session, user, episode_id=episode.id, plan_id=plan.id, units=changes_of(episode.units))
