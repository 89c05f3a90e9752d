"""Staggered-production schedules (inventories/staggered/*.yaml): the campaign's dates and the shutdown days an
enterprise owes, by industry, performance grade and ultra-low-emission status.

Pure: files in, frozen dataclasses out, read like the measure rule library (app/reduction/domain/rules.py):
every problem is collected with its file and key before anything is returned, so a bad file changes nothing.
The schema is described in inventories/README.md.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from app.core.errors import ProblemsError
from app.reduction.domain.rules import check_keys

UNGRADED = "ungraded"  # a plant without a performance grade (not yet graded, or not a key enterprise)
GRADES = ("leading", "A", "B", "C", "D", UNGRADED)  # leading … D: each owes at least the days of the one before
_FILE_KEYS = {"code", "name", "source", "campaign", "rectifying_in_base", "industries"}
_INDUSTRY_KEYS = {"name", "source", "verified", "note", "days"}
_DAYS_KEYS = {"days", "ultra_low"}


class ScheduleError(ProblemsError):
    pass


@dataclass(frozen=True)
class MonthDay:
    month: int
    day: int  # may pass the month's end in a short year (02-29): then the month's last day

    def in_year(self, year: int) -> date:
        return date(year, self.month, min(self.day, calendar.monthrange(year, self.month)[1]))

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True)
class Days:
    standard: int
    ultra_low: int  # when the plant's emissions are ultra-low; never more than `standard`

    def of(self, ultra_low: bool) -> int:
        return self.ultra_low if ultra_low else self.standard


@dataclass(frozen=True)
class IndustrySchedule:
    industry: str  # measure-rule library code (cement_clinker, brick …)
    name: str
    file: str
    source: str
    days: Mapping[str, Days]  # by grade value, and UNGRADED
    verified: bool = True
    note: str = ""

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.industry}"

    def required(self, grade: str | None, ultra_low: bool) -> int:
        return self.days.get(grade or UNGRADED, self.days[UNGRADED]).of(ultra_low)


@dataclass(frozen=True)
class Schedule:
    """One file: a campaign (Nov → Feb) and the industries it stops."""

    code: str
    name: str
    file: str
    source: str
    starts: MonthDay
    ends: MonthDay
    rectifying_in_base: bool
    industries: Mapping[str, IndustrySchedule]

    def campaign(self, year: int) -> tuple[date, date]:
        """The campaign of a list year: it starts in that year and, when it ends on an earlier day of the
        calendar, ends in the next."""
        return _span(self.starts, self.ends, year)


@dataclass(frozen=True)
class ScheduleLibrary:
    schedules: tuple[Schedule, ...]

    def for_industry(self, industry: str | None) -> tuple[Schedule, IndustrySchedule] | None:
        for s in self.schedules:
            found = s.industries.get(industry or "")
            if found is not None:
                return s, found
        return None

    @property
    def industries(self) -> dict[str, IndustrySchedule]:
        return {code: i for s in self.schedules for code, i in s.industries.items()}


def load(root: Path, known_industries: Collection[str] | None = None) -> ScheduleLibrary:
    """Read every root/*.yaml; raise ScheduleError naming every problem with its file and key. With
    `known_industries`, an industry code outside it (a typo) is a problem too."""
    problems: list[str] = []
    schedules: list[Schedule] = []
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        problems.append(f"{root}: no schedule files (*.yaml)")
    codes: dict[str, str] = {}
    owners: dict[str, str] = {}
    for path in paths:
        schedule = _read_file(path, known_industries, problems)
        if schedule is None:
            continue
        if schedule.code in codes:
            problems.append(f"{schedule.file}: code '{schedule.code}' already used in {codes[schedule.code]}")
        codes.setdefault(schedule.code, schedule.file)
        for industry in schedule.industries:
            if industry in owners:
                problems.append(f"{schedule.file} industries.{industry}: already scheduled in {owners[industry]}")
            owners.setdefault(industry, schedule.file)
        schedules.append(schedule)
    if problems:
        raise ScheduleError(problems)
    return ScheduleLibrary(tuple(schedules))


def _text(doc: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: '{key}' is required (text)")
        return ""
    return value.strip()


def _month_day(value: Any, where: str, problems: list[str]) -> MonthDay | None:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        date(2000, month, day)  # a leap year: 02-29 is a valid campaign end
    except (TypeError, ValueError):
        problems.append(f'{where}: {value!r} is not a month and day like "11-01"')
        return None
    return MonthDay(month, day)


def _count(value: Any, where: str, most: int, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        problems.append(f"{where}: must be a whole number of days from 0 to {most}, not {value!r}")
        return None
    return value


def _read_file(path: Path, known: Collection[str] | None, problems: list[str]) -> Schedule | None:
    name = f"staggered/{path.name}"
    try:
        raw = path.read_bytes()
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return None
    if not isinstance(doc, dict):
        problems.append(f"{name}: must be a mapping with code, name, source, campaign and industries")
        return None
    before = len(problems)
    check_keys(name, doc, _FILE_KEYS, problems)
    code, title, source = (_text(doc, k, name, problems) for k in ("code", "name", "source"))
    campaign = doc.get("campaign")
    starts = ends = None
    if not isinstance(campaign, dict) or set(campaign) != {"starts", "ends"}:
        problems.append(f"{name} campaign: must be a mapping with exactly 'starts' and 'ends' (\"MM-DD\")")
    else:
        starts = _month_day(campaign["starts"], f"{name} campaign.starts", problems)
        ends = _month_day(campaign["ends"], f"{name} campaign.ends", problems)
    rectifying = doc.get("rectifying_in_base", False)
    if not isinstance(rectifying, bool):
        problems.append(f"{name} rectifying_in_base: must be true or false")
    entries = doc.get("industries")
    if not isinstance(entries, dict) or not entries:
        problems.append(f"{name} industries: must be a non-empty mapping of industry code → schedule")
        entries = {}
    longest = 366
    if starts and ends:
        longest = max((b - a).days + 1 for a, b in (_span(starts, ends, y) for y in (2027, 2028)))
    industries: dict[str, IndustrySchedule] = {}
    for industry, entry in entries.items():
        found = _read_industry(name, str(industry), entry, longest, known, problems)
        if found is not None:
            industries[found.industry] = found
    if len(problems) > before or starts is None or ends is None:
        return None
    return Schedule(code, title, name, source, starts, ends, rectifying, industries)


def _span(starts: MonthDay, ends: MonthDay, year: int) -> tuple[date, date]:
    crosses = (ends.month, ends.day) < (starts.month, starts.day)
    return starts.in_year(year), ends.in_year(year + 1 if crosses else year)


def _read_industry(
    name: str, industry: str, entry: Any, longest: int, known: Collection[str] | None, problems: list[str]
) -> IndustrySchedule | None:
    where = f"{name} industries.{industry}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping with name, source and days")
        return None
    before = len(problems)
    if known is not None and industry not in known:
        problems.append(f"{where}: '{industry}' is not an industry of the measure rule library")
    check_keys(where, entry, _INDUSTRY_KEYS, problems)
    title, source = _text(entry, "name", where, problems), _text(entry, "source", where, problems)
    verified, note = entry.get("verified", True), entry.get("note", "")
    if not isinstance(verified, bool):
        problems.append(f"{where}.verified: must be true or false")
    if not isinstance(note, str):
        problems.append(f"{where}.note: must be text")
    elif verified is False and not note.strip():
        problems.append(f"{where}: verified: false needs a 'note' saying what was not checked")
    table = entry.get("days")
    days: dict[str, Days] = {}
    if not isinstance(table, dict):
        problems.append(f"{where}.days: must map each of {', '.join(GRADES)} to {{days, ultra_low}}")
        table = {}
    extra = set(map(str, table)) - set(GRADES)
    if extra:
        problems.append(f"{where}.days: unknown grades {', '.join(sorted(extra))} (use {', '.join(GRADES)})")
    for grade in GRADES if isinstance(entry.get("days"), dict) else ():
        spot = f"{where}.days.{grade}"
        row = table.get(grade)
        if row is None:
            problems.append(f"{spot}: is missing (every grade needs its days; 0 for none)")
            continue
        if not isinstance(row, dict) or "days" not in row or set(row) - _DAYS_KEYS:
            problems.append(f"{spot}: must be a mapping {{days: N}} or {{days: N, ultra_low: M}}")
            continue
        standard = _count(row["days"], f"{spot}.days", longest, problems)
        ultra = _count(row["ultra_low"], f"{spot}.ultra_low", longest, problems) if "ultra_low" in row else standard
        if standard is None or ultra is None:
            continue
        if ultra > standard:
            problems.append(f"{spot}.ultra_low: {ultra} is more than days {standard}; ultra-low plants owe less")
            continue
        days[grade] = Days(standard, ultra)
    graded = [g for g in GRADES if g != UNGRADED and g in days]
    for better, worse in pairwise(graded):
        for what in ("standard", "ultra_low"):
            lo, hi = getattr(days[better], what), getattr(days[worse], what)
            if hi < lo:
                label = "days" if what == "standard" else "ultra_low"
                problems.append(
                    f"{where}.days.{worse}.{label}: {hi} is fewer than grade {better}'s {lo}; "
                    "a worse grade never owes fewer days"
                )
    if len(problems) > before:
        return None
    return IndustrySchedule(industry, title, name, source, days, verified, note.strip())
