"""What changed between two versions of a bureau's list, or between two years: enterprises added and removed
(matched by credit code), category and grade changes, and measure changes per alert level
(a changed measure note counts as a change)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from app.core.errors import ServiceError
from app.reduction.domain import policy as dp
from app.reduction.domain.vocabulary import LEVELS, AlertLevel, Category, Grade, Verification
from app.reduction.models import Enterprise, Measure, ProcessUnit, ReductionList
from app.reduction.services.policies import interned_measure

_S = String()
LIMIT = 500  # rows shown per section; the counts are always complete


@dataclass(frozen=True)
class Ref:
    uscc: str
    name: str
    id: int  # in the list it belongs to
    category: str
    grade: str | None


@dataclass(frozen=True)
class Change:
    ref: Ref  # in the newer list
    before: str
    after: str


@dataclass
class MeasureChange:
    ref: Ref  # in the newer list
    level: AlertLevel
    added: list[str]
    removed: list[str]


@dataclass
class ListDiff:
    old: ReductionList
    new: ReductionList
    added: list[Ref] = field(default_factory=list)
    removed: list[Ref] = field(default_factory=list)
    category_changes: list[Change] = field(default_factory=list)
    grade_changes: list[Change] = field(default_factory=list)
    measure_changes: list[MeasureChange] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


def _enterprises(session: Session, lst: ReductionList) -> dict[str, Ref]:
    e = Enterprise
    rows = session.execute(
        select(e.uscc, e.name, e.id, type_coerce(e.category, _S), type_coerce(e.grade, _S)).where(e.list_id == lst.id)
    )
    return {r[0]: Ref(*r) for r in rows}


def _describe(
    kind: str,
    verification: str,
    unit: str | None,
    unit_name: str | None,
    percent: float | None,
    stage: str | None,
    basis: str | None,
    note: str | None = None,
) -> str:
    where = f"{unit} {unit_name}" if unit else "全厂"
    try:
        text = interned_measure(kind, verification, unit, percent, stage, basis).describe()
    except dp.MeasureError:
        text = f"{kind}{'' if percent is None else f' {percent:g}%'}"
    try:
        how = Verification(verification).label
    except ValueError:
        how = verification
    remark = f"（{_('备注')}：{note.strip()}）" if note and note.strip() else ""
    return f"{where}：{text}（{how}）{remark}"


def _measures(session: Session, lst: ReductionList) -> dict[tuple[str, str], Counter[str]]:
    m, e, u = Measure, Enterprise, ProcessUnit
    rows = session.execute(
        select(
            e.uscc,
            type_coerce(m.level, _S),
            type_coerce(m.kind, _S),
            type_coerce(m.verification, _S),
            u.code,
            u.name,
            m.percent,
            type_coerce(m.max_stage, _S),
            type_coerce(m.basis, _S),
            m.note,
        )
        .join(e, e.id == m.enterprise_id)
        .outerjoin(u, u.id == m.process_unit_id)
        .where(e.list_id == lst.id)
    )
    found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for uscc, level, kind, verification, code, unit_name, percent, stage, basis, note in rows:
        found[uscc, level][_describe(kind, verification, code, unit_name, percent, stage, basis, note)] += 1
    return found


def _label(value: str | None, enum: type[Category] | type[Grade]) -> str:
    if not value:
        return "—"
    try:
        return enum(value).label
    except ValueError:
        return value


def diff_lists(session: Session, old: ReductionList, new: ReductionList, limit: int = LIMIT) -> ListDiff:
    """`new` compared with `old` (both must belong to the same jurisdiction)."""
    if old.jurisdiction_id != new.jurisdiction_id:
        raise ServiceError(_("只能比较同一行政区的清单。"), field="against")
    if old.id == new.id:
        raise ServiceError(_("请选择另一个版本进行比较。"), field="against")
    before, after = _enterprises(session, old), _enterprises(session, new)
    out = ListDiff(old, new)
    added = [after[c] for c in sorted(after.keys() - before.keys(), key=lambda c: after[c].name)]
    removed = [before[c] for c in sorted(before.keys() - after.keys(), key=lambda c: before[c].name)]
    both = sorted(after.keys() & before.keys(), key=lambda c: after[c].name)
    categories = [
        Change(after[c], _label(before[c].category, Category), _label(after[c].category, Category))
        for c in both
        if before[c].category != after[c].category
    ]
    grades = [
        Change(after[c], _label(before[c].grade, Grade), _label(after[c].grade, Grade))
        for c in both
        if before[c].grade != after[c].grade
    ]
    old_m, new_m = _measures(session, old), _measures(session, new)
    changes: list[MeasureChange] = []
    changed_enterprises: set[str] = set()
    for c in both:
        for level in LEVELS:
            a, b = old_m.get((c, level.value), Counter()), new_m.get((c, level.value), Counter())
            if a != b:
                changes.append(MeasureChange(after[c], level, sorted((b - a).elements()), sorted((a - b).elements())))
                changed_enterprises.add(c)
    out.counts = {
        "added": len(added),
        "removed": len(removed),
        "category": len(categories),
        "grade": len(grades),
        "measures": len(changed_enterprises),
    }
    touched = changed_enterprises | {ch.ref.uscc for ch in categories} | {ch.ref.uscc for ch in grades}
    out.unchanged = len(both) - len(touched)
    out.added, out.removed = added[:limit], removed[:limit]
    out.category_changes, out.grade_changes = categories[:limit], grades[:limit]
    out.measure_changes = changes[:limit]
    return out
