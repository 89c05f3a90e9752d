"""When a unit's daily reports and its episode summary are due under its plan, and how each stands.
Plain data: local dates and times in LOCAL_TZ, no database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from app.core.localtime import LOCAL_TZ

ON_TIME, LATE, MISSING, PENDING = "on_time", "late", "missing", "pending"
DAILY, SUMMARY = "daily", "summary"


@dataclass(frozen=True)
class ReportRule:
    """A plan's reporting rules (app.plans.schema.Reporting), as the response reads them."""

    daily: str = "every day"  # every day / same day / previous day
    due: str | None = None  # "HH:MM" local; None: by the end of the day
    photos: bool = False
    fields: tuple[str, ...] = ()
    summary_next_day: str | None = None  # "HH:MM" the day after the lift
    summary_within_hours: int | None = None
    summary_fields: tuple[str, ...] = ()

    @classmethod
    def of(cls, reporting: Any) -> ReportRule:
        if reporting is None:
            return cls()
        return cls(
            daily=reporting.daily_report, due=reporting.daily_report_due, photos=reporting.daily_report_photos,
            fields=tuple(reporting.daily_report_fields), summary_next_day=reporting.summary_due_next_day,
            summary_within_hours=reporting.summary_within_hours, summary_fields=tuple(reporting.summary_fields),
        )  # fmt: skip

    @property
    def has_summary(self) -> bool:
        return bool(self.summary_next_day or self.summary_within_hours)


def _at(day: date, hhmm: str | None) -> datetime:
    if hhmm is None:  # by the end of the day
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=LOCAL_TZ)
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=LOCAL_TZ)


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def daily_due(rule: ReportRule, day: date) -> datetime:
    """The deadline of the report on `day`'s response: the same day at the plan's hour (Chaoyang 17:00), by
    the end of the day when the plan names no hour (川渝), or the next day for plans that report the
    previous day's response (Kashgar)."""
    if rule.daily == "previous day":
        return _at(day + timedelta(days=1), rule.due)
    return _at(day, rule.due)


def report_days(starts_at: datetime, ends_at: datetime | None, now: datetime) -> list[date]:
    """The local days the unit is under response, from its start to its lift (or today): one report each. A lift
    at midnight ends the response with the day before (the unit is not under response on the lift's day)."""
    first = local_day(starts_at)
    lifted = ends_at is not None and ends_at <= now
    last = local_day(ends_at - timedelta(microseconds=1)) if ends_at is not None and lifted else local_day(now)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)] if last >= first else []


def summary_due(rule: ReportRule, lifted_at: datetime) -> datetime | None:
    """The episode summary's deadline after the lift: Chaoyang 10:00 the next day, Kashgar within 24 h."""
    if rule.summary_next_day:
        return _at(local_day(lifted_at) + timedelta(days=1), rule.summary_next_day)
    if rule.summary_within_hours:
        return lifted_at + timedelta(hours=rule.summary_within_hours)
    return None


def status(due_at: datetime, submitted_at: datetime | None, now: datetime) -> str:
    if submitted_at is not None:
        return ON_TIME if submitted_at <= due_at else LATE
    return MISSING if now > due_at else PENDING


@dataclass(frozen=True)
class Expected:
    unit_id: int
    kind: str  # daily / summary
    day: date  # the day reported on (the lift's day for a summary)
    due_at: datetime


def expected(rule: ReportRule, unit_id: int, starts_at: datetime, ends_at: datetime | None,
             now: datetime) -> list[Expected]:  # fmt: skip
    """Every report a unit owes so far: one a day under response, then the summary once lifted."""
    out = [Expected(unit_id, DAILY, d, daily_due(rule, d)) for d in report_days(starts_at, ends_at, now)]
    if ends_at is not None and ends_at <= now and (due := summary_due(rule, ends_at)) is not None:
        out.append(Expected(unit_id, SUMMARY, local_day(ends_at), due))
    return out


@dataclass(frozen=True)
class Standing:
    expected: Expected
    status: str
    submitted_at: datetime | None
    report_id: int | None


def standings(owed: Iterable[Expected], submitted: Mapping[tuple[int, str, date], tuple[int, datetime]],
              now: datetime) -> list[Standing]:  # fmt: skip
    """Each owed report with its status, given the submitted ones ((unit, kind, day) → (id, submitted_at))."""
    out = []
    for e in owed:
        rid, at = submitted.get((e.unit_id, e.kind, e.day), (None, None))
        out.append(Standing(e, status(e.due_at, at, now), at, rid))
    return out
