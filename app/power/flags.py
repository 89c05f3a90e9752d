"""The check on an episode's enterprises under response, and its flags stored (issue 14 points 2–3).

`run(session, episode_id)` reads what the check needs from the database — the episode's response tasks (the
enterprises under response, their level, their measures and the activated unit's start and lift), the meters of
their registry entries, the stored hourly figures, the reports made in advance and the plan's `[power_check]` —
runs `app.power.domain.check.check` and stores its flags in `power_flag`, one per episode, enterprise, kind and
subject (day, meter): a rerun updates the evidence of a flag still open and adds the new ones; it never duplicates
a flag, never drops one, and leaves an official's decision (dismissed with a reason, confirmed) as it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.audit.services import record
from app.core.errors import NotFound, ServiceError
from app.db import utcnow
from app.power.domain.check import Result, check
from app.power.domain.grid import LOCAL_TZ
from app.power.domain.report import document
from app.power.domain.thresholds import Thresholds
from app.power.models import FlagState, PowerFlag, PowerReport
from app.power.store import hourly
from app.power.vocabulary import flag_label, status_label
from app.registry.models import RegisteredEnterprise, RegisteredMeter

DECIDED = (FlagState.dismissed, FlagState.confirmed)


def _local(at: datetime) -> pd.Timestamp:
    return pd.Timestamp(at).tz_convert(LOCAL_TZ).tz_localize(None)


@dataclass
class Inputs:
    episode: Any
    meters: pd.DataFrame
    periods: pd.DataFrame
    measures: pd.DataFrame
    reports: pd.DataFrame
    thresholds: Thresholds
    as_of: datetime
    staggered: pd.DataFrame  # enterprise_id, start, end: staggered shutdowns of the lists in force


def thresholds_of(session: Session, plan_code: str) -> Thresholds:
    from app.plans.models import Plan
    from app.plans.schema import Rules

    plan = session.scalar(select(Plan).where(Plan.code == plan_code))
    rules = Rules.from_dict(plan.rules) if plan is not None else Rules()
    return rules.power_check or Thresholds()


def inputs(session: Session, episode_id: int, as_of: datetime | None = None) -> Inputs:
    from app.alerts.models import Episode
    from app.response.models import ResponseArea, ResponseTask

    episode = session.get(Episode, episode_id)  # scoped: an episode whose reach covers the reader
    if episode is None:
        raise NotFound(_("预警过程不存在，或您无权查看。"))
    now = as_of or utcnow()
    loads = (selectinload(ResponseTask.area).selectinload(ResponseArea.unit), selectinload(ResponseTask.measures))
    tasks = list(session.scalars(select(ResponseTask).where(ResponseTask.episode_id == episode_id).options(*loads)))
    periods, measures = [], []
    for t in tasks:
        unit = t.area.unit
        end = unit.ends_at or now
        periods.append((t.registry_enterprise_id, _local(unit.starts_at), _local(min(end, now)), t.level.value))
        for m in t.measures:
            measures.append((t.registry_enterprise_id, m.level.value, m.kind.value, m.percent))
    ids = sorted({p[0] for p in periods})
    meters = pd.DataFrame(session.execute(select(RegisteredMeter.id, RegisteredMeter.registry_enterprise_id,
                                                 RegisteredMeter.kind)
                                          .where(RegisteredMeter.registry_enterprise_id.in_(ids))).all(),
                          columns=["meter_id", "enterprise_id", "kind"])  # fmt: skip
    reports = pd.DataFrame(
        [(r.id, r.registry_enterprise_id, r.kind, _local(r.starts_at), _local(r.ends_at)) for r in
         session.scalars(select(PowerReport).where(PowerReport.registry_enterprise_id.in_(ids)))],
        columns=["report_id", "enterprise_id", "kind", "start", "end"])  # fmt: skip
    return Inputs(
        episode, meters,
        pd.DataFrame(periods, columns=["enterprise_id", "start", "end", "level"]),
        pd.DataFrame(measures, columns=["enterprise_id", "level", "measure", "percent"]),
        reports, thresholds_of(session, episode.plan_code), now, staggered_of(session, tasks),
    )  # fmt: skip


def staggered_of(session: Session, tasks: list[Any]) -> pd.DataFrame:
    """The staggered-production shutdowns (错峰生产) of the enterprises under response, from the list version each
    task was made from (the list in force at activation): whole local days, left out of the baseline."""
    from app.reduction.models import StaggeredPeriod

    registry = {t.enterprise_id: t.registry_enterprise_id for t in tasks}
    wanted = select(StaggeredPeriod.enterprise_id, StaggeredPeriod.starts_on, StaggeredPeriod.ends_on)
    rows = session.execute(wanted.where(StaggeredPeriod.enterprise_id.in_(list(registry)))).all() if registry else []
    return pd.DataFrame([(registry[e], pd.Timestamp(a), pd.Timestamp(b) + timedelta(days=1)) for e, a, b in rows],
                        columns=["enterprise_id", "start", "end"])  # fmt: skip


def compute(session: Session, episode_id: int, as_of: datetime | None = None) -> tuple[Inputs, Result]:
    i = inputs(session, episode_id, as_of)
    if i.periods.empty or i.meters.empty:
        return i, check(pd.DataFrame(columns=["meter_id", "at", "kwh"]), i.meters, i.periods, i.measures)
    start = i.periods["start"].min() - timedelta(days=i.thresholds.baseline_days + 1)
    end = i.periods["end"].max() + timedelta(days=1)
    window = (start.tz_localize(LOCAL_TZ).to_pydatetime(), end.tz_localize(LOCAL_TZ).to_pydatetime())
    readings = hourly(session, i.meters["meter_id"].astype(int).tolist(), *window)
    result = check(readings, i.meters, i.periods, i.measures, reports=i.reports, staggered=i.staggered,
                   thresholds=i.thresholds, as_of=_local(i.as_of))  # fmt: skip
    return i, result


def subject(day: Any, meter_id: Any) -> str:
    return f"{day.isoformat()}" + ("" if pd.isna(meter_id) else f"/meter {int(meter_id)}")


def run(session: Session, episode_id: int, as_of: datetime | None = None, user: Any = None) -> dict[str, Any]:
    """Run the check and store its flags; the flags JSON (docs/power-flags.schema.json) with the stored states."""
    i, result = compute(session, episode_id, as_of)
    stored = {(f.registry_enterprise_id, f.kind, f.about): f
              for f in session.scalars(select(PowerFlag).where(PowerFlag.episode_id == episode_id))}  # fmt: skip
    owners = dict(session.execute(select(RegisteredEnterprise.id, RegisteredEnterprise.jurisdiction_id)).all())
    now, added, updated = utcnow(), 0, 0
    for row in result.flags.itertuples(index=False):
        key = (int(row.enterprise_id), row.kind, subject(row.day, row.meter_id))
        evidence = {k: (None if pd.isna(v) else float(v)) for k, v in row.evidence.items()}
        report = None if pd.isna(row.report_id) else str(int(row.report_id))
        flag = stored.get(key)
        if flag is None:
            flag = PowerFlag(episode_id=episode_id, registry_enterprise_id=key[0], kind=row.kind, about=key[2],
                             day=row.day, meter_id=None if pd.isna(row.meter_id) else int(row.meter_id),
                             jurisdiction_id=owners[key[0]])  # fmt: skip
            session.add(flag)
            stored[key] = flag
            added += 1
        elif (
            flag.evidence != evidence
            or flag.report_id != report
            or (flag.state not in DECIDED and flag.state.value != row.status)
        ):
            updated += 1
        flag.evidence, flag.reason, flag.report_id, flag.seen_at = evidence, row.reason, report, now
        if flag.state not in DECIDED:
            flag.state = FlagState(row.status)
    session.flush()
    if added or updated:
        record(session, "power.check_run", object_type="episode", object_id=episode_id, user=user,
               detail={"flags": len(result.flags), "added": added, "updated": updated})  # fmt: skip
    doc = document(result, str(episode_id), i.thresholds, _local(i.as_of).to_pydatetime())
    by_key = {(f["enterprise_id"], f["kind"], subject(pd.Timestamp(f["day"]).date(), f["meter_id"])): f
              for f in doc["flags"]}  # fmt: skip
    for key, f in by_key.items():
        state = stored[key].state.value
        f["status"], f["status_label"] = state, status_label(state)
    doc["raised"] = {}
    for f in doc["flags"]:
        if f["status"] == "raised":
            doc["raised"][f["kind"]] = doc["raised"].get(f["kind"], 0) + 1
    return doc


def dismiss(session: Session, flag: PowerFlag, user: Any, reason: str) -> PowerFlag:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写排除的理由。"), field="reason")
    if flag.state is FlagState.confirmed:
        raise ServiceError(_("已确认的问题不能排除。"))
    flag.state, flag.note, flag.decided_by_id, flag.decided_at = FlagState.dismissed, reason[:1000], user.id, utcnow()
    session.flush()
    record(session, "power.flag_dismissed", obj=flag, user=user, detail={"reason": flag.note, "kind": flag.kind})
    return flag


def label(flag: PowerFlag) -> str:
    return flag_label(flag.kind)
