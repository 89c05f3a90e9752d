"""Staggered production (错峰生产), seed 001 四(一): shutdown periods per enterprise, differentiated by performance
grade and ultra-low-emission status; capacity of units under rectification does not count toward the
staggered-production base until the rectification is accepted.

The campaign's dates, the industries it covers and the days owed per grade are plan data read from
inventories/staggered/*.yaml (schema: inventories/README.md; reader: app/reduction/domain/staggered.py), once per
process like the measure rule library. A file with a problem is refused as a whole, every problem named with
its file and key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.audit.services import record
from app.config import ROOT
from app.core.errors import NotFound, ServiceError
from app.core.memo import by_inventory_version
from app.reduction.domain import staggered as ds
from app.reduction.domain.vocabulary import Grade
from app.reduction.models import Enterprise, StaggeredPeriod
from app.reduction.services import lists as list_service
from app.reduction.services import rule_library

STAGGERED_DIR = ROOT / "inventories" / "staggered"


@by_inventory_version
def schedules(root: Path = STAGGERED_DIR) -> ds.ScheduleLibrary:
    """The staggered-production schedules, read once per process and inventory version (app/core/memo.py); an
    industry code the measure rule library does not know is refused as a typo."""
    known = {code for code in rule_library.current().industries if code != "*"}
    return ds.load(root, known)


def _schedule(e: Enterprise) -> tuple[ds.Schedule, ds.IndustrySchedule] | None:
    return schedules().for_industry(e.industry)


def campaign(year: int, industry: str | None = None) -> tuple[date, date]:
    """The campaign of a list year for an industry; an industry without a schedule gets the first file's
    dates (the page still shows periods entered by hand)."""
    found = schedules().for_industry(industry)
    schedule = found[0] if found else schedules().schedules[0]
    return schedule.campaign(year)


def applies(e: Enterprise) -> bool:
    return _schedule(e) is not None


def required_days(e: Enterprise) -> int | None:
    found = _schedule(e)
    if found is None:
        return None
    grade = e.grade.value if isinstance(e.grade, Grade) else e.grade
    return found[1].required(grade, bool(e.ultra_low))


def schedule_of(e: Enterprise) -> ds.IndustrySchedule | None:
    """Where the enterprise's required days come from (source, verified, note), for the page and the API."""
    found = _schedule(e)
    return found[1] if found else None


@dataclass
class Base:
    """The staggered-production base per capacity unit (t, 万块 …): counted and excluded (rectifying)."""

    counted: dict[str, float] = field(default_factory=dict)
    excluded: dict[str, float] = field(default_factory=dict)
    excluded_units: list[str] = field(default_factory=list)
    missing_units: list[str] = field(default_factory=list)  # no capacity figure: cannot count


def base(e: Enterprise) -> Base:
    found = _schedule(e)
    rectifying_counts = found[0].rectifying_in_base if found else False
    out = Base()
    for u in e.units:
        value = u.reduction_base
        unit = u.capacity_unit or ""
        if value is None:
            out.missing_units.append(u.name)
        elif u.under_rectification and not rectifying_counts:
            out.excluded[unit] = out.excluded.get(unit, 0.0) + value
            out.excluded_units.append(u.name)
        else:
            out.counted[unit] = out.counted.get(unit, 0.0) + value
    return out


def _days(periods: Sequence[StaggeredPeriod], start: date, end: date) -> int:
    total = 0
    for p in periods:
        lo, hi = max(p.starts_on, start), min(p.ends_on, end)
        total += max(0, (hi - lo).days + 1)
    return total


@dataclass
class Status:
    applies: bool
    required: int | None
    planned: int
    campaign: tuple[date, date]
    base: Base
    problems: list[str]
    schedule: ds.IndustrySchedule | None = None


def status(e: Enterprise) -> Status:
    year = e.reduction_list.year
    start, end = campaign(year, e.industry)
    periods = sorted(e.staggered_periods, key=lambda p: p.starts_on)
    planned = _days(periods, start, end)
    needed = required_days(e)
    problems: list[str] = []
    if needed and planned < needed:
        problems.append(_("错峰生产期间共 %(planned)d 天，少于要求的 %(needed)d 天。", planned=planned, needed=needed))
    for p in periods:
        if p.ends_on < start or p.starts_on > end:
            problems.append(
                _(
                    "%(a)s 至 %(b)s 不在本年度错峰时段（%(s)s 至 %(e)s）内。",
                    a=p.starts_on,
                    b=p.ends_on,
                    s=start,
                    e=end,
                )
            )
    for a, b in pairwise(periods):
        if b.starts_on <= a.ends_on:
            problems.append(_("错峰时段 %(a)s 与 %(b)s 重叠。", a=a.starts_on, b=b.starts_on))
    return Status(applies(e), needed, planned, (start, end), base(e), problems, schedule_of(e))


def propose(e: Enterprise) -> list[tuple[date, date]]:
    """One shutdown of the required length in the campaign's heart (mid-December on), shifted by a few days
    per enterprise so that a county's plants do not all stop and restart on the same day."""
    needed = required_days(e) or 0
    if not needed:
        return []
    start, end = campaign(e.reduction_list.year, e.industry)
    shift = sum(map(ord, e.uscc or "")) % 15
    begin = min(start + timedelta(days=44 + shift), end - timedelta(days=needed - 1))
    begin = max(begin, start)
    return [(begin, min(end, begin + timedelta(days=needed - 1)))]


def _check(e: Enterprise, starts_on: date, ends_on: date, reason: str, ignore: int | None = None) -> None:
    if ends_on < starts_on:
        raise ServiceError(_("“结束日期”不能早于“开始日期”。"), field="ends_on")
    if (ends_on - starts_on).days > 366:
        raise ServiceError(_("一个错峰时段不能超过一年。"), field="ends_on")
    if len(reason) > 300:
        raise ServiceError(_("“说明”不能超过 300 个字符。"), field="reason")
    for p in e.staggered_periods:
        if p.id != ignore and not (ends_on < p.starts_on or starts_on > p.ends_on):
            raise ServiceError(
                _("与已有的错峰时段 %(a)s 至 %(b)s 重叠。", a=p.starts_on, b=p.ends_on), field="starts_on"
            )


def add_period(
    session: Session, e: Enterprise, starts_on: date, ends_on: date, reason: str, user: Any
) -> StaggeredPeriod:
    list_service.require_editable(e.reduction_list, user)
    reason = (reason or "").strip()
    _check(e, starts_on, ends_on, reason)
    period = StaggeredPeriod(
        enterprise_id=e.id,
        jurisdiction_id=e.jurisdiction_id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
    )
    session.add(period)
    session.flush()
    list_service.touch(session, e.reduction_list)
    session.expire(e, ["staggered_periods"])
    record(
        session,
        "staggered_period.add",
        obj=e,
        after={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "reason": reason},
    )
    return period


def remove_period(session: Session, e: Enterprise, period_id: int, user: Any) -> None:
    list_service.require_editable(e.reduction_list, user)
    period = next((p for p in e.staggered_periods if p.id == period_id), None)
    if period is None:
        raise NotFound(_("错峰时段不存在。"))
    before = {
        "starts_on": period.starts_on.isoformat(),
        "ends_on": period.ends_on.isoformat(),
        "reason": period.reason,
    }
    session.delete(period)
    session.flush()
    list_service.touch(session, e.reduction_list)
    session.expire(e, ["staggered_periods"])
    record(session, "staggered_period.remove", obj=e, before=before)


def apply_proposal(session: Session, e: Enterprise, user: Any) -> list[StaggeredPeriod]:
    """Add the proposed shutdown when the enterprise has no period yet."""
    list_service.require_editable(e.reduction_list, user)
    if not applies(e):
        names = "、".join(i.name for i in schedules().industries.values())
        raise ServiceError(_("只有%(names)s企业实施错峰生产。", names=names), field="industry")
    if e.staggered_periods:
        raise ServiceError(_("该企业已有错峰时段，请逐条修改。"), field="starts_on")
    added = [add_period(session, e, a, b, _("按绩效分级和超低排放情况生成"), user) for a, b in propose(e)]
    return added
