"""One plant one policy: bridging stored enterprises to the pure domain (facts, units, measures), the flags
shown on the enterprise page, and saving a level's measures (refused when weaker than the level below or
above).

The enterprise page and the API check their one enterprise here, as stored, with the domain's wording of
every problem. What the list page, its filter and the targets read is the assessment stored with every
enterprise (services/assessments.py), which a save here rewrites in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Conflict, ServiceError
from app.reduction.domain import bulk, wording
from app.reduction.domain import policy as dp
from app.reduction.domain import rules as dr
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    AlertLevel,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    OutputBasis,
    Pollutant,
    Verification,
)
from app.reduction.models import Enterprise, Measure, ProcessUnit, ReductionList
from app.reduction.services import assessments, rule_library
from app.reduction.services import lists as list_service

_CATEGORY = {c.value: c for c in Category}
_GRADE = {g.value: g for g in Grade}
_LEVEL = {lv.value: lv for lv in AlertLevel}
_STAGE = {s.value: s for s in MachineryStage}
_POLLUTANT = {p.value: p for p in Pollutant}


# --- stored rows → domain objects ----------------------------------------------------------------------


def facts_of(e: Enterprise) -> dp.EnterpriseFacts:
    return dp.EnterpriseFacts(
        name=e.name,
        category=_CATEGORY[str(e.category)],
        grade=_GRADE[str(e.grade)] if e.grade else None,
        industry=e.industry or "other",
        emissions={Pollutant.so2: e.so2 or 0.0, Pollutant.nox: e.nox or 0.0, Pollutant.pm: e.pm or 0.0,
                   Pollutant.vocs: e.vocs or 0.0},
        uses_coal=bool(e.uses_coal),
        uses_oil=bool(e.uses_oil),
        toxic=bool(e.toxic),
        truck_visits_per_day=e.truck_visits_per_day or 0,
        machinery={_STAGE[k]: int(v) for k, v in (e.machinery or {}).items() if k in _STAGE},
        truck_emissions={
            _POLLUTANT[k]: float(v) for k, v in (e.truck_emissions or {}).items() if k in _POLLUTANT
        },
        machinery_emissions={
            _STAGE[s]: {_POLLUTANT[p]: float(v) for p, v in amounts.items() if p in _POLLUTANT}
            for s, amounts in (e.machinery_emissions or {}).items() if s in _STAGE
        },
        operating_days=e.operating_days or dp.OPERATING_DAYS,
        uscc=e.uscc,
    )  # fmt: skip


def unit_of(u: ProcessUnit) -> dp.ProcessUnit:
    return dp.ProcessUnit(
        id=u.code,
        name=u.name,
        shares={Pollutant.so2: u.share_so2, Pollutant.nox: u.share_nox, Pollutant.pm: u.share_pm,
                Pollutant.vocs: u.share_vocs},
        eia_capacity=u.eia_capacity,
        permit_capacity=u.permit_capacity,
        last_year_output=u.last_year_output,
        outdoor=u.outdoor,
    )  # fmt: skip


_MEASURES: dict[tuple[Any, ...], dp.Measure | dp.MeasureError] = {}
_MEASURES_MAX = 200_000


def interned_measure(
    kind: str, verification: str, unit_code: str | None, percent: float | None, max_stage: str | None,
    basis: str | None, note: str = "",
) -> dp.Measure:  # fmt: skip
    """The domain measure for stored values, built once per distinct value (measures are immutable): a
    province's 180,000 measures hold a few hundred distinct ones. Raises MeasureError like dp.Measure."""
    key = (str(kind), str(verification), unit_code, percent, max_stage, basis, note)
    found = _MEASURES.get(key)
    if found is None:
        if len(_MEASURES) >= _MEASURES_MAX:
            _MEASURES.clear()
        try:
            found = dp.Measure(kind=key[0], verification=key[1], unit_id=unit_code, percent=percent,  # type: ignore[arg-type]
                               max_stage=max_stage, basis=basis, note=note)  # type: ignore[arg-type]  # fmt: skip
        except dp.MeasureError as exc:
            found = exc
        _MEASURES[key] = found
    if isinstance(found, dp.MeasureError):
        raise found
    return found


def _str(value: Any) -> str | None:
    return None if value is None else str(value.value if hasattr(value, "value") else value)


def measure_of(m: Measure, unit_codes: dict[int, str]) -> dp.Measure:
    return interned_measure(
        _str(m.kind) or "", _str(m.verification) or "",
        unit_codes.get(m.process_unit_id) if m.process_unit_id else None,
        m.percent, _str(m.max_stage), _str(m.basis), m.note or "",
    )  # fmt: skip


def _invalid(level: AlertLevel, exc: dp.MeasureError) -> dp.Problem:
    # Plain text like the domain's own messages (they are official terms).
    return dp.Problem("stored_measure_invalid", f"{level.label}的一条已存措施无效：{exc}", level)


def policy_of(e: Enterprise, invalid: list[dp.Problem] | None = None) -> dp.PlantPolicy:
    """The enterprise's policy; stored measures the domain refuses are left out and reported in `invalid`."""
    codes = {u.id: u.code for u in e.units}
    by_level: dict[AlertLevel, list[dp.Measure]] = {level: [] for level in LEVELS}
    for m in e.measures:
        level = _LEVEL[_str(m.level) or ""]
        try:
            by_level[level].append(measure_of(m, codes))
        except dp.MeasureError as exc:
            if invalid is not None:
                invalid.append(_invalid(level, exc))
    return dp.PlantPolicy({level: tuple(ms) for level, ms in by_level.items()})


# --- one enterprise --------------------------------------------------------------------------------------


@dataclass
class Assessment:
    """Everything the enterprise page and the API show about one enterprise's policy."""

    reductions: dict[AlertLevel, dict[Pollutant, float]]  # t/day
    problems: list[dp.Problem]
    full_stop: dict[Pollutant, float] = field(default_factory=dict)  # t/day
    production_cuts: dict[AlertLevel, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return bool(self.problems)

    def problems_at(self, level: AlertLevel | None) -> list[dp.Problem]:
        return [p for p in self.problems if p.level is level]


def _zero() -> dict[Pollutant, float]:
    return dict.fromkeys(POLLUTANTS, 0.0)


def stored_measures(e: Enterprise) -> list[tuple[Any, ...]]:
    """The enterprise's stored measures as the checks read them (bulk.MEASURE_LAYOUT), in stored order."""
    codes = {u.id: u.code for u in e.units}
    return [
        (_str(m.level), codes.get(m.process_unit_id) if m.process_unit_id else None, _str(m.kind), m.percent,
         _str(m.verification), _str(m.max_stage), _str(m.basis))
        for m in sorted(e.measures, key=lambda m: m.id or 0)
    ]  # fmt: skip


def check(
    e: Enterprise, library: dr.RuleLibrary | None = None, measures: Sequence[tuple[Any, ...]] | None = None
) -> bulk.One:
    """The one rule engine (domain/bulk.py) on one stored enterprise, as the list page's stored assessment is
    computed; `measures` (MEASURE_LAYOUT) in place of the stored ones for a proposed change."""
    units = sorted((unit_of(u) for u in e.units), key=lambda u: u.id)  # the order assessments._load reads
    rows = stored_measures(e) if measures is None else list(measures)
    return bulk.one(
        bulk.plants([(facts_of(e), units, rows)], [rule_library.plans_of(e)]), library or rule_library.current()
    )


def assess(e: Enterprise, library: dr.RuleLibrary | None = None) -> Assessment:
    got = check(e, library)
    return Assessment(got.reductions, got.problems, got.full_stop, got.production_cuts)


# --- editing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureInput:
    """One row of the policy editor, as submitted."""

    kind: str
    verification: str
    unit_code: str | None = None
    percent: float | None = None
    max_stage: str | None = None
    basis: str | None = None
    note: str = ""


def level_rows(e: Enterprise, level: AlertLevel) -> list[MeasureInput]:
    """The stored measures of one level as editor rows."""
    codes = {u.id: u.code for u in e.units}
    return [
        MeasureInput(
            kind=_str(m.kind) or "",
            verification=_str(m.verification) or "",
            unit_code=codes.get(m.process_unit_id) if m.process_unit_id else None,
            percent=m.percent,
            max_stage=_str(m.max_stage),
            basis=_str(m.basis),
            note=m.note or "",
        )
        for m in e.measures
        if _str(m.level) == level.value
    ]


def fingerprint(rows: Sequence[MeasureInput]) -> str:
    """A short digest of a level's measures: the editor sends back the one it showed, so that a save over
    someone else's newer change is refused instead of silently overwriting it."""
    text = "\n".join(
        "|".join(str(v) for v in (r.unit_code, r.kind, r.percent, r.verification, r.max_stage, r.basis, r.note))
        for r in rows
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


FIELD_LABELS = {
    "kind": "措施类型",
    "verification": "核查方式",
    "unit_code": "工序",
    "percent": "百分比",
    "max_stage": "机械排放阶段",
    "basis": "定产依据",
    "note": "备注",
}


def _parse_row(i: int, row: MeasureInput, units: Mapping[str, ProcessUnit]) -> dp.Measure:
    def bad(name: str, message: str) -> ServiceError:
        return ServiceError(
            _("第 %(n)d 条措施的“%(field)s”：%(why)s", n=i, field=_(FIELD_LABELS[name]), why=message),
            field=f"measures[{i}].{name}",
        )

    kinds = {k.value for k in MeasureKind}
    if row.kind not in kinds:
        raise bad("kind", _("请从列表中选择（%(choices)s）。", choices="、".join(k.label for k in MeasureKind)))
    if row.verification not in {v.value for v in Verification}:
        raise bad("verification", _("请从列表中选择（%(choices)s）。",
                                    choices="、".join(v.label for v in Verification)))  # fmt: skip
    if row.unit_code and row.unit_code not in units:
        raise bad("unit_code", _("工序“%(u)s”不存在。", u=row.unit_code))
    if row.max_stage and row.max_stage not in {s.value for s in MachineryStage}:
        raise bad("max_stage", _("请从列表中选择。"))
    if row.basis and row.basis not in {b.value for b in OutputBasis}:
        raise bad("basis", _("请从列表中选择。"))
    if len(row.note or "") > 300:
        raise bad("note", _("不能超过 300 个字符。"))
    kind = MeasureKind(row.kind)
    # Values the row's kind does not use are dropped (a form keeps the percent box when the kind changes).
    percent = row.percent if kind.takes_percent else None
    stage = (row.max_stage or None) if kind is MeasureKind.offroad_ban else None
    basis = (row.basis or None) if kind is MeasureKind.output_cap else None
    if kind.takes_percent and percent is None:
        raise bad("percent", _("%(kind)s必须填写百分比。", kind=kind.label))
    try:
        return dp.Measure(
            kind=kind, verification=Verification(row.verification), unit_id=row.unit_code or None,
            percent=percent, max_stage=stage, basis=basis, note=(row.note or "").strip(),  # type: ignore[arg-type]
        )  # fmt: skip
    except dp.MeasureError as exc:
        why = str(exc)
        name = next((n for word, n in (("百分比", "percent"), ("阶段", "max_stage"), ("工序", "unit_code"),
                                       ("定产", "basis")) if word in why), "kind")  # fmt: skip
        raise bad(name, why) from exc


def _joined(messages: Iterable[str]) -> str:
    """Several refusals in one message, the escalation rule stated once at the end."""
    return wording.joined(list(messages))


def save_level(
    session: Session, e: Enterprise, level: AlertLevel, rows: Sequence[MeasureInput], user: Any,
    *, expected_version: int | None = None, expected_fingerprint: str | None = None,
) -> Assessment:  # fmt: skip
    """Replace one level's measures. Refused, with the reason, when the user's bureau does not own the list,
    when the list is not open for editing, when someone changed the level since the editor showed it, when
    a measure is malformed or cannot be verified as stated, or when the policy would become weaker at a
    higher level than at a lower one (red ⊇ orange ⊇ yellow)."""
    lst: ReductionList = e.reduction_list
    list_service.require_editable(lst, user)
    if expected_version is not None and expected_version != lst.lock_version:
        raise Conflict(_("清单已被他人修改，请刷新后重试。"))
    current_rows = level_rows(e, level)
    if expected_fingerprint is not None and expected_fingerprint != fingerprint(current_rows):
        raise Conflict(_("%(level)s的措施已被他人修改，请刷新页面查看最新内容后再修改。", level=level.label))
    units = {u.code: u for u in e.units}
    new = [_parse_row(i, row, units) for i, row in enumerate(rows, start=1)]
    current = policy_of(e)
    proposed = [m for m in stored_measures(e) if m[0] != level.value]
    proposed += bulk.measure_rows(dp.PlantPolicy({level: tuple(new)}))
    above = {lv for lv in LEVELS if lv.order == level.order + 1}
    # what the import refuses too (bulk.REFUSED), where this change can cause it: this level, and the escalation
    # to the level above
    refused = [
        p for p in check(e, measures=proposed).refusals
        if p.level is level or (p.code == "escalation_weaker" and p.level in above)
    ]  # fmt: skip
    if refused:
        raise ServiceError(_joined(p.message for p in refused), field="measures")
    before = [m.describe() for m in current.at(level)]
    session.execute(delete(Measure).where(Measure.enterprise_id == e.id, Measure.level == level))
    for m in new:
        unit = units.get(m.unit_id) if m.unit_id else None
        session.add(Measure(
            enterprise_id=e.id, jurisdiction_id=e.jurisdiction_id, level=level,
            process_unit_id=unit.id if unit else None, kind=m.kind, percent=m.percent,
            verification=m.verification, max_stage=m.max_stage, basis=m.basis, note=m.note,
        ))  # fmt: skip
    session.flush()
    list_service.touch(session, lst)  # first: it queues concurrent saves of the list behind this one
    session.expire(e, ["measures"])
    assessments.refresh(session, Enterprise.id == e.id)
    record(
        session, "plant_policy.update", obj=e,
        before={"level": level.value, "measures": before},
        after={"level": level.value, "measures": [m.describe() for m in new]},
        detail={"list_id": lst.id, "uscc": e.uscc},
    )  # fmt: skip
    return assess(e)
