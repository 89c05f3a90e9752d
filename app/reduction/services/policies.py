"""One plant one policy: bridging stored enterprises to the pure domain (facts, units, measures), the flags
shown on the enterprise page and in reports, and saving a level's measures (refused when weaker than the
level below or above).

Two ways in:
- one enterprise, as ORM objects (`assess`): the enterprise page, the API, the editor's answer;
- many enterprises, as plain rows (`assess_lists`, `list_index`): the list page's flag column and filter,
  the targets. Rows are read with column queries (enums as plain strings, no ORM objects) and equal measures
  are built once (`interned_measure`); the domain's `all_problems` evaluates each policy once and gives both
  the flags and the expected reductions.

The flag index of a list is kept per process, keyed by the list's `lock_version`, which every change made
here moves on (`lists.touch`), and by the last audit entry recorded on the list (an import, a lifecycle
step); an index older than INDEX_TTL seconds is rebuilt anyway, so a writer that neither touches nor audits
the list is seen after that time at the latest. The enterprise page never uses
the index: it always checks the enterprise as stored.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import String, cast, delete, func, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from app.audit.models import AuditEntry
from app.audit.services import record
from app.config import ROOT
from app.core.errors import Conflict, ServiceError
from app.core.scoping import Scope, get_scope
from app.places.models import Jurisdiction
from app.reduction.domain import policy as dp
from app.reduction.domain import rules as dr
from app.reduction.domain import targets as dt
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
from app.reduction.services import lists as list_service

RULES_DIR = ROOT / "inventories" / "measure_rules"
INDEX_TTL = 600.0  # seconds
INDEX_MAX_LISTS = 512  # a province's county lists, with room

_CATEGORY = {c.value: c for c in Category}
_GRADE = {g.value: g for g in Grade}
_LEVEL = {lv.value: lv for lv in AlertLevel}
_STAGE = {s.value: s for s in MachineryStage}
_POLLUTANT = {p.value: p for p in Pollutant}


@cache
def rule_library(root: Path = RULES_DIR) -> dr.RuleLibrary:
    """The rule library, read once per process (files change only with a deployment)."""
    return dr.load(root)


# --- stored rows → domain objects ----------------------------------------------------------------------


def _facts(
    name: str, category: str, grade: str | None, industry: str | None, so2: float, nox: float, pm: float,
    vocs: float, uses_coal: bool, uses_oil: bool, toxic: bool, truck_visits: int, machinery: Any,
    truck_emissions: Any, machinery_emissions: Any, operating_days: int, uscc: str,
) -> dp.EnterpriseFacts:  # fmt: skip
    return dp.EnterpriseFacts(
        name=name,
        category=_CATEGORY[str(category)],
        grade=_GRADE[str(grade)] if grade else None,
        industry=industry or "other",
        emissions={Pollutant.so2: so2 or 0.0, Pollutant.nox: nox or 0.0, Pollutant.pm: pm or 0.0,
                   Pollutant.vocs: vocs or 0.0},
        uses_coal=bool(uses_coal),
        uses_oil=bool(uses_oil),
        toxic=bool(toxic),
        truck_visits_per_day=truck_visits or 0,
        machinery={_STAGE[k]: int(v) for k, v in (machinery or {}).items() if k in _STAGE},
        truck_emissions={
            _POLLUTANT[k]: float(v) for k, v in (truck_emissions or {}).items() if k in _POLLUTANT
        },
        machinery_emissions={
            _STAGE[s]: {_POLLUTANT[p]: float(v) for p, v in amounts.items() if p in _POLLUTANT}
            for s, amounts in (machinery_emissions or {}).items() if s in _STAGE
        },
        operating_days=operating_days or dp.OPERATING_DAYS,
        uscc=uscc,
    )  # fmt: skip


def facts_of(e: Enterprise) -> dp.EnterpriseFacts:
    return _facts(
        e.name, e.category, e.grade, e.industry, e.so2, e.nox, e.pm, e.vocs, e.uses_coal, e.uses_oil,
        e.toxic, e.truck_visits_per_day, e.machinery, e.truck_emissions, e.machinery_emissions,
        e.operating_days, e.uscc,
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
    # Plain text like the domain's own messages (they are official terms; the batch runs outside requests).
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
    """Everything the enterprise page and the list's reports show about one enterprise's policy."""

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


def _check(
    facts: dp.EnterpriseFacts, units: Sequence[dp.ProcessUnit], policy: dp.PlantPolicy,
    invalid: Sequence[dp.Problem], library: dr.RuleLibrary,
) -> tuple[list[dp.Problem], dp.Evaluation | None]:  # fmt: skip
    problems, evaluation = dr.all_problems(facts, units, policy, library)
    return [*invalid, *problems], evaluation


def assess(e: Enterprise, library: dr.RuleLibrary | None = None) -> Assessment:
    library = library or rule_library()
    invalid: list[dp.Problem] = []
    facts, units = facts_of(e), [unit_of(u) for u in e.units]
    pol = policy_of(e, invalid)
    problems, evaluation = _check(facts, units, pol, invalid, library)
    if evaluation is None:
        return Assessment({lv: _zero() for lv in LEVELS}, problems, dict(dp.full_stop_reduction(facts)))
    return Assessment(
        {lv: dict(v) for lv, v in evaluation.reductions.items()}, problems, dict(evaluation.full_stop),
        dict(evaluation.production_cuts),
    )  # fmt: skip


def load_enterprises(
    session: Session, list_id: int, ids: Iterable[int] | None = None
) -> Sequence[Enterprise]:
    stmt = (
        select(Enterprise)
        .where(Enterprise.list_id == list_id)
        .options(selectinload(Enterprise.units), selectinload(Enterprise.measures))
        .order_by(Enterprise.id)
    )
    if ids is not None:
        stmt = stmt.where(Enterprise.id.in_(list(ids)))
    return session.scalars(stmt).all()


# --- many enterprises ------------------------------------------------------------------------------------


@dataclass
class Batch:
    """Enterprises of some lists as domain objects, keyed by enterprise id."""

    facts: dict[int, dp.EnterpriseFacts] = field(default_factory=dict)
    jurisdiction: dict[int, int] = field(default_factory=dict)
    list_of: dict[int, int] = field(default_factory=dict)
    units: dict[int, list[dp.ProcessUnit]] = field(default_factory=lambda: defaultdict(list))
    measures: dict[int, dict[AlertLevel, list[dp.Measure]]] = field(default_factory=dict)
    invalid: dict[int, list[dp.Problem]] = field(default_factory=lambda: defaultdict(list))

    def policy(self, eid: int) -> dp.PlantPolicy:
        levels = self.measures.get(eid, {})
        return dp.PlantPolicy({level: tuple(levels.get(level, ())) for level in LEVELS})


_S = String()


def _json(text: str | None) -> Any:
    """A JSON column read as text: most are "{}", which need no parsing."""
    return json.loads(text) if text and text != "{}" else {}


def load_batch(
    session: Session, list_ids: Sequence[int], *, all_jurisdictions: bool = False,
    enterprise_ids: Sequence[int] | None = None,
) -> Batch:  # fmt: skip
    """Read the enterprises of the lists (or just `enterprise_ids` of them), their units and measures, with
    three column queries.

    Scoped like every read, through the ORM, unless `all_jurisdictions`: then plain Core queries on the
    session's connection (no ORM row handling, much faster for a province), used only to build a shared index
    that is served solely to users whose scope covers every enterprise in it."""
    out = Batch()
    if not list_ids or (enterprise_ids is not None and not enterprise_ids):
        return out
    only = [] if enterprise_ids is None else [Enterprise.id.in_(list(enterprise_ids))]
    run: Any = session.connection().execute if all_jurisdictions else session.execute
    e, u, m = Enterprise, ProcessUnit, Measure
    rows = run(
        select(
            e.id, e.name, type_coerce(e.category, _S), type_coerce(e.grade, _S), e.industry, e.so2, e.nox,
            e.pm, e.vocs, e.uses_coal, e.uses_oil, e.toxic, e.truck_visits_per_day, cast(e.machinery, _S),
            cast(e.truck_emissions, _S), cast(e.machinery_emissions, _S), e.operating_days, e.uscc,
            e.jurisdiction_id, e.list_id,
        )
        .where(e.list_id.in_(list_ids), *only)
    ).all()  # fmt: skip
    for r in rows:
        out.facts[r[0]] = _facts(*r[1:13], _json(r[13]), _json(r[14]), _json(r[15]), r[16], r[17])
        out.jurisdiction[r[0]] = r[18]
        out.list_of[r[0]] = r[19]
    in_lists = select(e.id).where(e.list_id.in_(list_ids), *only)
    codes: dict[int, str] = {}
    units = out.units
    for uid, eid, code, name, so2, nox, pm, vocs, eia, permit, last, outdoor in run(
        select(u.id, u.enterprise_id, u.code, u.name, u.share_so2, u.share_nox, u.share_pm, u.share_vocs,
               u.eia_capacity, u.permit_capacity, u.last_year_output, u.outdoor)
        .where(u.enterprise_id.in_(in_lists))
        .order_by(u.enterprise_id, u.code)
    ).all():  # fmt: skip
        codes[uid] = code
        units[eid].append(dp.ProcessUnit(
            id=code, name=name,
            shares={Pollutant.so2: so2, Pollutant.nox: nox, Pollutant.pm: pm, Pollutant.vocs: vocs},
            eia_capacity=eia, permit_capacity=permit, last_year_output=last, outdoor=bool(outdoor),
        ))  # fmt: skip
    measures = out.measures
    for eid, level, unit_id, kind, percent, verification, stage, basis in run(
        select(m.enterprise_id, type_coerce(m.level, _S), m.process_unit_id, type_coerce(m.kind, _S),
               m.percent, type_coerce(m.verification, _S), type_coerce(m.max_stage, _S),
               type_coerce(m.basis, _S))
        .where(m.enterprise_id.in_(in_lists))
        .order_by(m.id)
    ).all():  # fmt: skip
        lv = _LEVEL[level]
        try:
            # notes do not change a check: leaving them out lets equal measures share one object
            measure = interned_measure(kind, verification, codes.get(unit_id) if unit_id else None, percent,
                                       stage, basis)  # fmt: skip
        except dp.MeasureError as exc:
            out.invalid[eid].append(_invalid(lv, exc))
            continue
        by_level = measures.get(eid)
        if by_level is None:
            by_level = measures[eid] = {}
        found = by_level.get(lv)
        if found is None:
            by_level[lv] = [measure]
        else:
            found.append(measure)
    return out


@dataclass
class Checked:
    """The flags and the targets frame of the enterprises of one list."""

    problems: dict[int, list[dp.Problem]] = field(default_factory=dict)
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # targets frame rows, in dt.columns() order
    jurisdictions: set[int] = field(default_factory=set)

    @property
    def frame(self) -> pd.DataFrame:
        return dt.frame(self.rows)


def check_batch(
    batch: Batch, paths: Mapping[int, str], library: dr.RuleLibrary | None = None
) -> dict[int, Checked]:
    """Every enterprise's problems and expected reductions, per list, evaluating each policy once."""
    library = library or rule_library()
    out: dict[int, Checked] = defaultdict(Checked)
    no_invalid: list[dp.Problem] = []
    for eid, facts in batch.facts.items():
        units = batch.units.get(eid, [])
        invalid = batch.invalid.get(eid, no_invalid)
        found, evaluation = _check(facts, units, batch.policy(eid), invalid, library)
        if evaluation is None:
            reductions: Mapping[AlertLevel, Mapping[Pollutant, float]] = {lv: _zero() for lv in LEVELS}
            full = dp.full_stop_reduction(facts)
        else:
            reductions, full = evaluation.reductions, evaluation.full_stop
        checked = out[batch.list_of[eid]]
        checked.problems[eid] = found
        checked.jurisdictions.add(batch.jurisdiction[eid])
        checked.rows.append((
            eid, facts.name, paths.get(batch.jurisdiction[eid], ""), facts.category.value,
            facts.grade.value if facts.grade else None,
            *(reductions[lv][p] for lv in LEVELS for p in POLLUTANTS),
            *(full[p] for p in POLLUTANTS),
        ))  # fmt: skip
    return out


def jurisdiction_paths(session: Session) -> dict[int, str]:
    """id → materialised path of every jurisdiction (reference data, a few hundred rows)."""
    return {jid: path for jid, path in session.execute(select(Jurisdiction.id, Jurisdiction.path))}


# --- the flag index of a list ----------------------------------------------------------------------------


@dataclass
class ListIndex:
    """The checked state of one list version: problems per enterprise and the targets frame."""

    key: tuple[Any, ...]  # database, list id, list creation time: ids alone repeat across databases
    version: tuple[int, int]  # the list's lock_version and the last audit entry about the list
    built_at: float
    counts: dict[int, int]  # enterprise id → number of problems
    codes: dict[int, tuple[str, ...]]  # enterprise id → distinct problem codes
    frame: pd.DataFrame
    jurisdictions: frozenset[int]

    flagged: frozenset[int] = frozenset()  # enterprises with at least one problem

    def __post_init__(self) -> None:
        if not self.flagged:
            self.flagged = frozenset(eid for eid, n in self.counts.items() if n)

    @property
    def age(self) -> float:
        return time.monotonic() - self.built_at

    def fresh(self, version: tuple[int, int], now: float) -> bool:
        return self.version == version and now - self.built_at < INDEX_TTL


_INDEX: OrderedDict[tuple[Any, ...], ListIndex] = OrderedDict()
_INDEX_LOCK = threading.Lock()


def _covers(scope: Scope | None, jurisdictions: frozenset[int]) -> bool:
    return scope is None or scope.unrestricted or jurisdictions <= scope.readable


def _key(session: Session, lst: ReductionList) -> tuple[Any, ...]:
    return (str(session.get_bind().engine.url), lst.id, lst.created_at)


def stamps(session: Session, lists: Sequence[ReductionList]) -> dict[int, tuple[int, int]]:
    """What says a list's content may have changed: its lock_version (moved by every edit made through the
    services here) and its latest audit entry (an import, a lifecycle step: anything recorded on the list)."""
    if not lists:
        return {}
    ids = [str(lst.id) for lst in lists]
    # audit_entry is not scoped: a plain Core query on the session's connection (no ORM hooks to run)
    last = {
        object_id: seq
        for object_id, seq in session.connection().execute(
            select(AuditEntry.object_id, func.max(AuditEntry.seq))
            .where(AuditEntry.object_type == ReductionList.__tablename__, AuditEntry.object_id.in_(ids))
            .group_by(AuditEntry.object_id)
        )
    }
    return {lst.id: (lst.lock_version, last.get(str(lst.id)) or 0) for lst in lists}


def _index_of(key: tuple[Any, ...], version: tuple[int, int], checked: Checked) -> ListIndex:
    counts = {eid: len(found) for eid, found in checked.problems.items()}
    codes = {
        eid: tuple(dict.fromkeys(p.code for p in found)) for eid, found in checked.problems.items() if found
    }
    return ListIndex(
        key, version, time.monotonic(), counts, codes, checked.frame, frozenset(checked.jurisdictions)
    )


def build_indexes(session: Session, lists: Sequence[ReductionList], *, shared: bool) -> dict[int, ListIndex]:
    """Check every enterprise of the lists in one pass (three queries, whatever the number of lists)."""
    versions = stamps(session, lists)  # read before the rows: a later change is newer
    batch = load_batch(session, list(versions), all_jurisdictions=shared)
    checked = check_batch(batch, jurisdiction_paths(session))
    return {
        lst.id: _index_of(_key(session, lst), versions[lst.id], checked.get(lst.id) or Checked())
        for lst in lists
    }


def list_indexes(session: Session, lists: Sequence[ReductionList]) -> dict[int, ListIndex]:
    """The lists' flag indexes for the user of `session`: the shared ones when current and the user's scope
    covers every enterprise in them; stale ones are rebuilt together; a list with enterprises outside the
    user's scope gets an index built for this scope (not shared)."""
    scope = get_scope(session)
    now = time.monotonic()
    versions = stamps(session, lists)
    found: dict[int, ListIndex] = {}
    stale: list[ReductionList] = []
    with _INDEX_LOCK:
        for lst in lists:
            cached = _INDEX.get(_key(session, lst))
            if cached is not None and cached.fresh(versions[lst.id], now):
                _INDEX.move_to_end(cached.key)
                found[lst.id] = cached
            else:
                stale.append(lst)
    if stale:
        built = build_indexes(session, stale, shared=True)
        with _INDEX_LOCK:
            for index in built.values():
                _INDEX[index.key] = index
                _INDEX.move_to_end(index.key)
            while len(_INDEX) > INDEX_MAX_LISTS:
                _INDEX.popitem(last=False)
        found.update(built)
    narrow = [lst for lst in lists if not _covers(scope, found[lst.id].jurisdictions)]
    if narrow:
        found.update(build_indexes(session, narrow, shared=False))
    return found


def list_index(session: Session, lst: ReductionList) -> ListIndex:
    return list_indexes(session, [lst])[lst.id]


def cached_index(
    session: Session, lst: ReductionList, stamp: tuple[int, int] | None = None
) -> ListIndex | None:
    """The shared index when it is current and may be served to this session's user; never builds one."""
    with _INDEX_LOCK:
        cached = _INDEX.get(_key(session, lst))
    stamp = stamp or stamps(session, [lst])[lst.id]
    if cached is None or not cached.fresh(stamp, time.monotonic()):
        return None
    return cached if _covers(get_scope(session), cached.jurisdictions) else None


_SIZES: dict[tuple[Any, ...], tuple[tuple[int, int], int]] = {}


def list_size(session: Session, lst: ReductionList, stamp: tuple[int, int] | None = None) -> int:
    """The number of enterprises of the list the user may see, counted once per list version and process."""
    stamp = stamp or stamps(session, [lst])[lst.id]
    key = (*_key(session, lst), get_scope(session))
    found = _SIZES.get(key)
    if found is not None and found[0] == stamp:
        return found[1]
    size = session.scalar(select(func.count(Enterprise.id)).where(Enterprise.list_id == lst.id)) or 0
    if len(_SIZES) > 4 * INDEX_MAX_LISTS:
        _SIZES.clear()
    _SIZES[key] = (stamp, size)
    return size


def forget_indexes() -> None:
    with _INDEX_LOCK:
        _INDEX.clear()


def page_problems(session: Session, lst: ReductionList, ids: Sequence[int]) -> dict[int, list[dp.Problem]]:
    """Problems of a few enterprises of the list (a page of the table), checked now."""
    if not ids:
        return {}
    batch = load_batch(session, [lst.id], enterprise_ids=ids)
    checked = check_batch(batch, {}).get(lst.id)
    return checked.problems if checked is not None else {}


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
        "|".join(
            str(v) for v in (r.unit_code, r.kind, r.percent, r.verification, r.max_stage, r.basis, r.note)
        )
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
        raise bad(
            "kind", _("请从列表中选择（%(choices)s）。", choices="、".join(k.label for k in MeasureKind))
        )
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


_RULE_TEXT = "：高一级预警的措施不得弱于低一级（红色 ⊇ 橙色 ⊇ 黄色）"


def _joined(messages: Iterable[str]) -> str:
    """Several refusals in one message, the escalation rule stated once at the end."""
    unique = list(dict.fromkeys(messages))
    if len(unique) > 1 and any(m.endswith(_RULE_TEXT) for m in unique):
        return "；".join(m.removesuffix(_RULE_TEXT) for m in unique) + _RULE_TEXT
    return "；".join(unique)


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
    proposed = dp.PlantPolicy({**{lv: tuple(current.at(lv)) for lv in LEVELS}, level: tuple(new)})
    domain_units = [unit_of(u) for u in e.units]
    above = {lv for lv in LEVELS if lv.order == level.order + 1}
    refused = [
        p for p in dp.escalation_problems(proposed, facts_of(e), domain_units)
        if p.level is level or p.level in above
    ] + [p for p in dp.policy_problems(domain_units, proposed) if p.level is level]  # fmt: skip
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
    list_service.touch(session, lst)
    session.expire(e, ["measures"])
    record(
        session, "plant_policy.update", obj=e,
        before={"level": level.value, "measures": before},
        after={"level": level.value, "measures": [m.describe() for m in new]},
        detail={"list_id": lst.id, "uscc": e.uscc},
    )  # fmt: skip
    return assess(e)
