"""Targets for any jurisdiction (county, city, zone, province) and level: the enterprises' expected reductions
against the jurisdictions' total emissions (app/reduction/domain/targets.py does the arithmetic), and the
total emissions themselves, entered per jurisdiction and year.

Which lists count: the lists in force on a date (services/in_force.py, the one rule for it: published
versions only), or, while a year's list is being prepared, each jurisdiction's latest version of that year
(the open one, so that flags and targets move as the bureau works). The enterprises' expected reductions are
the ones stored with every enterprise (models.EnterpriseAssessment): summed in SQL, and only the enterprises
that could close a shortfall are read, largest first, for the closing list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Forbidden, ServiceError
from app.core.inputs import parse_id
from app.core.scoping import get_scope
from app.places.models import Jurisdiction, JurisdictionLevel, LinkageZone, ZoneMember
from app.plans import services as plans
from app.plans.models import Plan
from app.reduction.domain import targets as dt
from app.reduction.domain.vocabulary import AlertLevel, Category, Grade, Pollutant
from app.reduction.models import Enterprise, EnterpriseAssessment, ReductionList, TotalEmissions
from app.reduction.services.in_force import lists_in_force


def latest_lists(session: Session, year: int, under: Jurisdiction) -> list[int]:
    """Ids of the latest list version of each jurisdiction at or below `under` for `year` (scoped)."""
    latest = (
        select(ReductionList.jurisdiction_id, func.max(ReductionList.version).label("v"))
        .join(Jurisdiction, Jurisdiction.id == ReductionList.jurisdiction_id)
        .where(ReductionList.year == year, Jurisdiction.path.startswith(under.path))
        .group_by(ReductionList.jurisdiction_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(ReductionList.id)
            .join(
                latest,
                (latest.c.jurisdiction_id == ReductionList.jurisdiction_id) & (latest.c.v == ReductionList.version),
            )
            .where(ReductionList.year == year)
        )
    )


def lists_in_force_under(session: Session, under: Sequence[Jurisdiction], on: date) -> list[int]:
    """Ids of the lists in force on `on` of every jurisdiction at or below any of `under` (scoped), in two
    statements whatever their number."""
    if not under:
        return []
    below = or_(*(Jurisdiction.path.startswith(j.path) for j in under))
    ids = session.scalars(select(Jurisdiction.id).where(below)).all()
    return [lst.id for lst in lists_in_force(session, ids, on).values()]


def latest_year_with_totals(session: Session) -> int | None:
    """The latest year for which a jurisdiction the reader sees has its total emissions entered."""
    return session.scalar(select(func.max(TotalEmissions.year)))


def totals_for(session: Session, year: int, jurisdictions: Sequence[Jurisdiction]) -> dict[Pollutant, float]:
    """Total emissions (t/a) of the jurisdictions: each one's own figure, or the sum of its children's when
    it has none; a jurisdiction with neither is named in the error."""
    rows = {t.jurisdiction_id: t for t in session.scalars(select(TotalEmissions).where(TotalEmissions.year == year))}
    result = dict.fromkeys(Pollutant, 0.0)
    missing: list[str] = []

    def add(j: Jurisdiction) -> None:
        own = rows.get(j.id)
        if own is not None:
            for p in Pollutant:
                result[p] += float(getattr(own, p.value))
        elif j.children:
            for child in j.children:
                add(child)
        else:
            missing.append(j.name)

    for j in jurisdictions:
        add(j)
    if missing:
        raise ServiceError(
            _(
                "缺少 %(year)d 年以下行政区的全社会总排放量：%(names)s。请先在“全社会总排放量”中录入。",
                year=year,
                names="、".join(missing[:20]) + ("等" if len(missing) > 20 else ""),
            ),
            field="totals",
        )
    return result


@dataclass
class Targets:
    result: dt.TargetResult
    totals: dict[Pollutant, float]
    lists: list[ReductionList] = field(default_factory=list)
    rules: dt.TargetRules = dt.DEFAULT_RULES
    year: int = 0  # of the totals
    on: date | None = None  # the date whose lists in force were read; None: the year's latest versions


def compute(
    session: Session,
    year: int | None,
    jurisdictions: Sequence[Jurisdiction],
    level: AlertLevel,
    *,
    combine_so2_nox: bool = False,
    ozone: bool = False,
    on: date | None = None,
) -> Targets:
    """Targets of a set of jurisdictions (a county, a city, a zone's members, a province): of the lists in
    force on `on` when it is given (against the totals of `year`), else of each jurisdiction's latest
    version of `year`. With lists in force and no `year`, the totals are those of the lists' latest year."""
    if ozone and combine_so2_nox:
        raise ServiceError(
            _("臭氧方案只计氮氧化物和挥发性有机物，不能同时选择二氧化硫与氮氧化物合并计算。"), field="ozone"
        )
    rules = target_rules(session, jurisdictions)
    list_ids: set[int] = set()
    if on is not None:
        list_ids.update(lists_in_force_under(session, jurisdictions, on))
    else:
        for j in jurisdictions:
            list_ids.update(latest_lists(session, year, j))
    lists = list(session.scalars(select(ReductionList).where(ReductionList.id.in_(sorted(list_ids)))))
    if year is None:
        if not lists:
            raise ServiceError(_("所选范围内没有生效（已发布）的减排清单。"), field="lists")
        year = max(lst.year for lst in lists)
    totals = totals_for(session, year, jurisdictions)
    a = EnterpriseAssessment
    on_lists = a.list_id.in_(sorted(list_ids))
    reduced = [getattr(a, a.reduction(level, p.value)) for p in Pollutant]
    full = {p: getattr(a, f"full_stop_{p.value}") for p in Pollutant}
    count, *sums = session.execute(select(func.count(), *map(func.sum, reduced)).select_from(a).where(on_lists)).one()

    def candidates(group: tuple[Pollutant, ...], shortfall: float) -> pd.DataFrame:
        """Enterprises that may be asked to do more, with what stopping altogether would add: only those the
        greedy choice reaches (the running sum before each, largest first, still short), and a little more
        for rounding; the domain makes the choice."""
        potential = sum(full[p] for p in group) - sum(getattr(a, a.reduction(level, p.value)) for p in group)
        ranked = (
            select(
                a.enterprise_id.label("id"),
                potential.label("potential"),
                func.sum(potential).over(order_by=(potential.desc(), a.enterprise_id)).label("running"),
            )
            .join(Enterprise, Enterprise.id == a.enterprise_id)
            .where(on_lists, potential > 0, *_not_exempt(rules))
            .subquery()
        )
        reach = shortfall * (1 + 1e-9) + 1e-9
        rows = session.execute(
            select(ranked.c.id, ranked.c.potential).where(ranked.c.running - ranked.c.potential < reach)
        ).all()
        return pd.DataFrame(
            {dt.ID: [r[0] for r in rows], "potential_t_per_day": [r[1] for r in rows], dt.NAME: "", dt.JURISDICTION: ""}
        )

    result = dt.assess_sums(
        {p: float(v or 0.0) for p, v in zip(Pollutant, sums, strict=True)}, count, totals, level, candidates,
        combine_so2_nox=combine_so2_nox, ozone=ozone, thresholds=rules.percent,
    )  # fmt: skip
    _describe(session, result.closing)
    return Targets(result, totals, lists, rules, year, on)


def _not_exempt(rules: dt.TargetRules) -> list[Any]:
    """Enterprises the plan may ask to do more (its exempt grades and categories left out)."""
    found = []
    if rules.exempt_categories:
        found.append(Enterprise.category.not_in(sorted(rules.exempt_categories)))
    if rules.exempt_grades:
        found.append(or_(Enterprise.grade.is_(None), Enterprise.grade.not_in(sorted(rules.exempt_grades))))
    return found


def target_rules(session: Session, jurisdictions: Sequence[Jurisdiction]) -> dt.TargetRules:
    """The targets of the plan covering the jurisdictions (a zone member, or above or below one); the defaults
    of seed 002 §4.3.1 when no plan covers them. Jurisdictions under plans with different targets are refused:
    one result cannot be judged by two rule sets."""
    found: dict[str, dt.TargetRules] = {}
    members = session.execute(
        select(Plan, Jurisdiction.path)
        .join(ZoneMember, ZoneMember.plan_id == Plan.id)
        .join(Jurisdiction, Jurisdiction.id == ZoneMember.jurisdiction_id)
    ).all()
    for j in jurisdictions:
        for plan, path in members:
            if j.path.startswith(path) or path.startswith(j.path):
                found[plan.name] = rules_of(plan)
    distinct = {(tuple(sorted(r.percent.items())), r.exempt_grades, r.exempt_categories): r for r in found.values()}
    if len(distinct) > 1:
        raise ServiceError(
            _("所选行政区分属目标要求不同的方案（%(plans)s），请分别计算。", plans="、".join(sorted(found))),
            field="jurisdiction",
        )
    return next(iter(distinct.values())) if distinct else dt.DEFAULT_RULES


def rules_of(plan: Plan) -> dt.TargetRules:
    """A plan's [targets] as its checked rules hold them (app.plans.services.rules_of), or the defaults."""
    t = plans.rules_of(plan).targets if plan.rules else None
    if t is None:
        return dt.DEFAULT_RULES
    return dt.TargetRules(
        {AlertLevel(k).response_level: float(v) for k, v in dict(t.percent).items()},
        frozenset(Grade(g) for g in t.exempt_grades),
        frozenset(Category(c) for c in t.exempt_categories),
    )


def _describe(session: Session, closing: pd.DataFrame) -> None:
    """Name and place the enterprises picked to close a shortfall (only they are read)."""
    if closing.empty:
        return
    ids = sorted(set(closing[dt.ID].tolist()))
    found: dict[int, tuple[str, str]] = {}
    for k in range(0, len(ids), 5000):
        found.update(
            (eid, (name, path))
            for eid, name, path in session.execute(
                select(Enterprise.id, Enterprise.name, Jurisdiction.path)
                .join(Jurisdiction, Jurisdiction.id == Enterprise.jurisdiction_id)
                .where(Enterprise.id.in_(ids[k : k + 5000]))
            )
        )
    closing[dt.NAME] = [found.get(i, ("", ""))[0] for i in closing[dt.ID]]
    closing[dt.JURISDICTION] = [found.get(i, ("", ""))[1] for i in closing[dt.ID]]


def exempt(category: Category, grade: Grade | None, rules: dt.TargetRules = dt.DEFAULT_RULES) -> bool:
    """The plan's rule (domain/targets.py TargetRules), for enum values."""
    return rules.exempt(category, grade)


# --- choosing what to compute ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str  # "j:511002" or "z:<zone id>"
    label: str
    group: str  # province / city / county / zone


def choices(session: Session) -> list[Choice]:
    """Jurisdictions and linkage zones the user may compute targets for: readable jurisdictions, and zones
    whose every member is readable."""
    scope = get_scope(session)
    stmt = select(Jurisdiction).order_by(Jurisdiction.path)
    if scope is not None and not scope.unrestricted:
        stmt = stmt.where(Jurisdiction.id.in_(sorted(scope.readable)))
    found = [Choice(f"j:{j.code}", f"{j.name}（{j.code}）", j.level.value) for j in session.scalars(stmt)]
    members: dict[int, set[int]] = {}
    zones = {z.id: z for z in session.scalars(select(LinkageZone).order_by(LinkageZone.plan_id, LinkageZone.ordering))}
    for zone_id, jurisdiction_id in session.execute(select(ZoneMember.zone_id, ZoneMember.jurisdiction_id)):
        members.setdefault(zone_id, set()).add(jurisdiction_id)
    for zone_id, zone in zones.items():
        ids = members.get(zone_id, set())
        if ids and (scope is None or scope.unrestricted or ids <= scope.readable):
            found.append(Choice(f"z:{zone_id}", f"{zone.name}（{zone.plan.name}）", "zone"))
    return found


def resolve(session: Session, value: str) -> tuple[str, list[Jurisdiction]]:
    """The label and the jurisdictions of a choice; out of scope or unknown → NotFound naming the field."""
    kind, _sep, key = (value or "").partition(":")
    scope = get_scope(session)
    if kind == "j":
        j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == key[:12]))
        if j is None or (scope is not None and not scope.can_read(j.id)):
            raise ServiceError(_("行政区“%(code)s”不存在或不在您的辖区内。", code=key[:12]), field="jurisdiction")
        return j.name, [j]
    zone_id = parse_id(key) if kind == "z" else None  # None past the column's range too
    if zone_id is not None:
        zone = session.get(LinkageZone, zone_id)
        if zone is not None:
            js = [m.jurisdiction for m in zone.members]
            if all(scope is None or scope.can_read(j.id) for j in js):
                return zone.name, sorted(js, key=lambda j: j.code)
    raise ServiceError(_("请选择辖区内的行政区或联动区域。"), field="jurisdiction")


# --- chart -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float  # achieved, % of the total (NaN: no total)
    threshold: float
    passed: bool
    y: int
    width: float  # px of the achieved bar
    threshold_x: float

    # The value's label goes just after the bar and the target line, whichever ends later, so that it never
    # sits on the line; a bar reaching near the end has it inside, right-aligned (the line is at most at
    # two thirds of the track, so well before it).
    @property
    def value_inside(self) -> bool:
        return max(self.width, self.threshold_x) > CHART_WIDTH - VALUE_ROOM

    @property
    def value_x(self) -> float:
        if self.value_inside:
            return CHART_LEFT + self.width - 6
        return CHART_LEFT + max(self.width, self.threshold_x) + 6


CHART_LEFT, CHART_WIDTH, VALUE_ROOM = 120, 300, 52  # px: the labels' column, the track, a value's label


def chart(result: dt.TargetResult, *, width: int = CHART_WIDTH, row: int = 34) -> tuple[list[Bar], int, float]:
    """Bars of a horizontal chart (inline SVG, drawn by the template): achieved % against the threshold."""
    top = max(
        [g.threshold_percent * 1.5 for g in result.groups]
        + [g.percent for g in result.groups if not math.isnan(g.percent)]
        + [1.0]
    )
    scale = width / top
    bars = [
        Bar(
            g.label,
            g.percent,
            g.threshold_percent,
            g.passed,
            i * row,
            0.0 if math.isnan(g.percent) else round(g.percent * scale, 1),
            round(g.threshold_percent * scale, 1),
        )
        for i, g in enumerate(result.groups)
    ]
    return bars, len(bars) * row, top


# --- total emissions -------------------------------------------------------------------------------------


FIELD_LABELS = {"so2": "二氧化硫", "nox": "氮氧化物", "pm": "颗粒物", "vocs": "挥发性有机物"}


def set_total(
    session: Session,
    jurisdiction: Jurisdiction,
    year: int,
    values: Mapping[str, float],
    source: str,
    user: Any,
) -> TotalEmissions:
    """Enter or correct a jurisdiction's total emissions for a year (t/a); audited with before and after."""
    scope = get_scope(session)
    if scope is not None and not scope.can_write(jurisdiction.id):
        raise Forbidden(_("只能录入本辖区的全社会总排放量。"))
    if not 2000 <= year <= 2100:
        raise ServiceError(_("年份应在 2000 到 2100 之间。"), field="year")
    clean: dict[str, float] = {}
    for p in Pollutant:
        raw = values.get(p.value)
        if raw is None:
            raise ServiceError(_("请填写%(what)s。", what=_(FIELD_LABELS[p.value])), field=p.value)
        v = float(raw)
        if not math.isfinite(v) or v < 0 or v > 1e9:
            raise ServiceError(_("%(what)s应为不小于 0 的数（吨/年）。", what=_(FIELD_LABELS[p.value])), field=p.value)
        clean[p.value] = v
    row = session.scalar(
        select(TotalEmissions).where(TotalEmissions.jurisdiction_id == jurisdiction.id, TotalEmissions.year == year)
    )
    before = None
    if row is None:
        row = TotalEmissions(jurisdiction_id=jurisdiction.id, year=year, source=source[:300], **clean)
        session.add(row)
    else:
        before = {**{p.value: getattr(row, p.value) for p in Pollutant}, "source": row.source}
        for k, v in clean.items():
            setattr(row, k, v)
        row.source = source[:300]
    session.flush()
    record(
        session,
        "total_emissions.set",
        obj=row,
        before=before,
        after={**clean, "source": row.source, "year": year, "jurisdiction": jurisdiction.code},
        user=user,
    )
    return row


def totals_table(session: Session, year: int) -> list[tuple[Jurisdiction, TotalEmissions]]:
    rows = session.execute(
        select(Jurisdiction, TotalEmissions)
        .join(TotalEmissions, TotalEmissions.jurisdiction_id == Jurisdiction.id)
        .where(TotalEmissions.year == year)
        .order_by(Jurisdiction.path)
    ).all()
    return [(j, t) for j, t in rows]


def writable_jurisdictions(session: Session) -> list[Jurisdiction]:
    scope = get_scope(session)
    stmt = select(Jurisdiction).order_by(Jurisdiction.path)
    if scope is not None and not scope.unrestricted:
        stmt = stmt.where(Jurisdiction.id.in_(sorted(scope.writable)))
    return list(session.scalars(stmt))


def jurisdiction_by_code(session: Session, code: str) -> Jurisdiction:
    j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == (code or "")[:12]))
    if j is None:
        raise ServiceError(_("请选择行政区。"), field="jurisdiction")
    return j


LEVEL_ORDER = {JurisdictionLevel.province: 0, JurisdictionLevel.city: 1, JurisdictionLevel.county: 2}
