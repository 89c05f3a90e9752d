"""The one rule engine: every check of a plant policy, for one enterprise or a province at once, computed with
numpy over plain columns. What the list page stores for every enterprise (services/assessments.py), what the
enterprise page and the API show (`check` / `one`, the problems worded by `assess(..., explain=True)`), what
the policy editor refuses and what the Excel import refuses all come from here, so they never disagree. The
model and its conventions (shares, reduction bases, the strongest measure winning, a whole-plant stop ending
transport, machinery and outdoor work) are described in domain/policy.py. REFUSED names the problems the
editor and the import refuse; FLAGS those saved and shown for the bureau to act on.

Input is `Plants`: one row per enterprise, unit and measure, with vocabulary strings as stored. Unit codes
are unique within an enterprise (the database's constraint and the importer's check); measures name their
unit by code (None: the whole plant). Codes are the distinct problem codes of an enterprise, sorted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, count, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from app.reduction.domain import policy as dp
from app.reduction.domain import rules as dr
from app.reduction.domain import wording as dw
from app.reduction.domain.targets import DEFAULT_RULES, TargetRules
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    SUITABLE_VERIFICATION,
    AlertLevel,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    Pollutant,
)

EPS = dp.EPS
_TOP = MachineryStage.china_4.order
_NO_STAGE = dw.NO_STAGE
_STAGES = dw.STAGES
_STAGE_ORDER = dw.STAGE_ORDER
_LEVEL = dw.LEVEL_INDEX
_P = [p.value for p in POLLUTANTS]
L = len(LEVELS)

# measure classes
STATIONARY, TRUCK, STAGGERED, OFFROAD, OUTDOOR = range(5)
_CLASS = {
    MeasureKind.stop: STATIONARY, MeasureKind.limit: STATIONARY, MeasureKind.output_cap: STATIONARY,
    MeasureKind.truck_ban: TRUCK, MeasureKind.staggered_transport: STAGGERED, MeasureKind.offroad_ban: OFFROAD,
    MeasureKind.outdoor_work_ban: OUTDOOR,
}  # fmt: skip

CODES = (
    "stored_measure_invalid", "negative_value", "operating_days", "duplicate_unit", "share_range",
    "base_value", "shares_exceed", "key_without_grade", "grade_not_key", "not_micro", "unknown_unit",
    "verification_unsuitable", "escalation_weaker", "below_rule",
)  # fmt: skip
_BIT = {code: 1 << i for i, code in enumerate(CODES)}


# The layout of a unit and of a measure tuple (the importer's records start the same way; further items
# are ignored).
UNIT_LAYOUT = ("code", "name", "share_so2", "share_nox", "share_pm", "share_vocs", "eia_capacity",
               "permit_capacity", "last_year_output", "capacity_unit", "outdoor")  # fmt: skip
MEASURE_LAYOUT = ("level", "unit_code", "kind", "percent", "verification", "max_stage", "basis")
_CODE, _UNIT_NUMBERS, _OUTDOOR = itemgetter(0), itemgetter(*range(2, 9)), itemgetter(10)  # numbers: shares, capacities


@dataclass
class Plants:
    """n enterprises as columns; their m units and k measures as tuples (UNIT_LAYOUT, MEASURE_LAYOUT: unit
    and measure by code, None for the whole plant, None for a value not given), each with its enterprise's
    row number."""

    category: Sequence[str]
    grade: Sequence[str | None]
    industry: Sequence[str]
    emissions: np.ndarray  # (n, 4) stationary t/a, POLLUTANTS order
    uses_coal: np.ndarray  # (n,) bool
    uses_oil: np.ndarray
    toxic: np.ndarray
    truck_visits: np.ndarray  # (n,) int
    operating_days: np.ndarray  # (n,) int
    machinery: Sequence[Mapping[str, int]]  # stage → count
    truck_emissions: Sequence[Mapping[str, float]]  # pollutant → t/a
    machinery_emissions: Sequence[Mapping[str, Mapping[str, float]]]  # stage → pollutant → t/a
    units: Sequence[tuple[Any, ...]]
    unit_owner: np.ndarray  # (m,) enterprise row
    measures: Iterable[tuple[Any, ...]]  # read once, in measure_owner's order
    measure_owner: np.ndarray  # (k,) enterprise row
    # the codes of the plans whose zones cover each enterprise (a rule limited to plans applies only there);
    # None: no plan covers any of them
    plans: Sequence[tuple[str, ...]] | None = None

    @property
    def n(self) -> int:
        return len(self.category)


@dataclass
class Assessed:
    problems: np.ndarray  # (n,) int: the number of problems (as many as worded)
    codes: list[tuple[str, ...]]  # sorted distinct codes
    reductions: np.ndarray  # (n, 3, 4) t/day by LEVELS and POLLUTANTS (0 when a measure names an unknown unit)
    full_stop: np.ndarray  # (n, 4) t/day
    production_cuts: np.ndarray  # (n, 3) (0 when a measure names an unknown unit)
    exempt: np.ndarray  # (n,) bool: never asked to close a shortfall by `targets` (the targets service asks its plan)
    wording: dw.Wording | None = None  # with explain=True

    def worded(self, i: int) -> list[dp.Problem]:
        """Enterprise i's problems, worded (assess(..., explain=True)); as many as `problems[i]` counts."""
        assert self.wording is not None, "assess(..., explain=True)"
        return self.wording.of(i)


def _sum_by(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per-owner sums, added in row order."""
    if values.ndim == 1:
        return np.bincount(owner, weights=values, minlength=n)
    return np.stack([np.bincount(owner, weights=values[:, j], minlength=n) for j in range(values.shape[1])], 1)


def _count_by(owner: np.ndarray, flags: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(owner[flags], minlength=n).astype(np.int64)


@dataclass
class _Signature:
    valid: bool
    klass: int = STATIONARY
    cut: float = 0.0
    stage: int = _NO_STAGE
    suitable: bool = True
    measure: dp.Measure | None = None  # for the wording
    error: str = ""  # why the domain refuses it


def _signature(kind: object, verification: object, percent: object, stage: object, basis: object,
               on_unit: bool) -> _Signature:  # fmt: skip
    """What one distinct stored measure amounts to (policy.Measure and its checks)."""
    try:
        m = dp.Measure(
            kind=kind, verification=verification, unit_id="_" if on_unit else None,  # type: ignore[arg-type]
            percent=percent, max_stage=stage, basis=basis,  # type: ignore[arg-type]
        )  # fmt: skip
    except (dp.MeasureError, TypeError) as exc:
        return _Signature(False, error=str(exc))
    klass = _CLASS[m.kind]
    return _Signature(
        True, klass, m.cut if klass == STATIONARY else 0.0,
        m.max_stage.order if klass == OFFROAD and m.max_stage is not None else _NO_STAGE,
        m.verification in SUITABLE_VERIFICATION[m.kind], m,
    )  # fmt: skip


def _numbered(items: Iterable[Any], n: int) -> tuple[np.ndarray, list[Any]]:
    """The n items numbered 0, 1, … by equality in order of first occurrence, and the distinct items. No
    Python step per item: map, dict.setdefault and count run in C (the items' hashes are the cost)."""
    first_seen: dict[Any, int] = {}
    first = np.fromiter(map(first_seen.setdefault, items, count()), np.int64, n)
    renumber = np.zeros(n, dtype=np.int64)
    renumber[np.fromiter(first_seen.values(), np.int64, len(first_seen))] = np.arange(len(first_seen))
    return renumber[first], list(first_seen)


def _measure_table(p: Plants, unit_code: np.ndarray, codes: list[Any]) -> dict[str, np.ndarray]:
    """Per measure: valid, level, unit row (-1 whole plant, -2 unknown), class, cut, stage, suitable.

    Equal measure tuples are numbered once (a province holds a few hundred distinct ones among hundreds of
    thousands) and everything but the unit row is worked out per distinct tuple. `unit_code` numbers the
    units' codes as `codes` lists them."""
    owner = np.asarray(p.measure_owner, dtype=np.int64)
    ids, distinct = _numbered(p.measures, len(owner))
    code_id = {c: i for i, c in enumerate(codes)}
    signatures: dict[tuple[Any, ...], _Signature] = {}
    rows = []
    sigs = []
    for t in distinct:
        key = (t[2], t[4], t[3], t[5], t[6], t[1] is not None)
        sig = signatures.get(key) or signatures.setdefault(key, _signature(*key))
        sigs.append(sig)
        level = _LEVEL.get(str(t[0]), -1)
        code = -1 if t[1] is None else code_id.get(t[1], -2)  # -2: no unit has it
        rows.append((sig.valid and level >= 0, level, sig.klass, sig.cut, sig.stage, sig.suitable, code))

    def col(j: int, dtype: type) -> np.ndarray:
        return np.array([r[j] for r in rows], dtype=dtype)[ids] if rows else np.zeros(0, dtype=dtype)

    # unit codes → unit rows of the same enterprise (-1: the whole plant, -2: no such unit)
    m, width = len(unit_code), len(codes) + 1
    measure_code = col(6, np.int64)
    unit = np.where(measure_code == -1, -1, -2)
    if m and len(ids):
        unit_keys = np.asarray(p.unit_owner, dtype=np.int64) * width + unit_code
        order = np.argsort(unit_keys, kind="stable")
        wanted = owner * width + measure_code
        pos = np.minimum(np.searchsorted(unit_keys[order], wanted), m - 1)
        unit = np.where((measure_code >= 0) & (unit_keys[order][pos] == wanted), order[pos], unit)
    return {
        "owner": owner, "valid": col(0, bool), "level": col(1, np.int64), "unit": unit,
        "klass": col(2, np.int64), "cut": col(3, float), "stage": col(4, np.int64), "suitable": col(5, bool),
        "ids": ids, "distinct": distinct, "signatures": sigs,
    }  # fmt: skip


def _given(mappings: Sequence[Mapping[Any, Any]]) -> np.ndarray:
    """Rows whose mapping is not empty (most are)."""
    return np.flatnonzero(np.fromiter(map(bool, mappings), bool, len(mappings)))


def _mobile(p: Plants) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From the mappings (mostly empty; keys outside the vocabulary are ignored, as services.policies does):
    truck t/a (n, 4), machinery t/a by stage (n, stages, 4), the lowest stage order with machinery (n,), the
    number of negative amounts (n,) and whether a machinery count is negative (n,)."""
    n = p.n
    trucks = np.zeros((n, 4))
    machines = np.zeros((n, len(_STAGES), 4))
    lowest = np.full(n, 10**6, dtype=np.int64)
    negative = np.zeros(n, dtype=np.int64)
    bad_counts = np.zeros(n, dtype=bool)
    pollutant = {v: j for j, v in enumerate(_P)}
    stage_index = {s.value: i for i, s in enumerate(_STAGES)}
    for i in _given(p.truck_emissions):
        for pol, v in p.truck_emissions[i].items():
            if (j := pollutant.get(str(pol))) is not None:
                trucks[i, j] = float(v)
                negative[i] += trucks[i, j] < 0
    for i in _given(p.machinery):
        for stage, number in p.machinery[i].items():
            if str(stage) in _STAGE_ORDER:
                bad_counts[i] |= int(number) < 0
                if int(number) > 0:
                    lowest[i] = min(lowest[i], _STAGE_ORDER[str(stage)])
    for i in _given(p.machinery_emissions):
        for stage, amounts in p.machinery_emissions[i].items():
            if (s := stage_index.get(str(stage))) is not None:
                for pol, v in amounts.items():
                    if (j := pollutant.get(str(pol))) is not None:
                        machines[i, s, j] = float(v)
                        negative[i] += machines[i, s, j] < 0
    return trucks, machines, lowest, negative, bad_counts


def _banned_machinery(machines: np.ndarray, stage: np.ndarray) -> np.ndarray:
    """Machinery emissions of the stages at or below `stage` (n, L) → (n, L, 4); most plants have none."""
    out = np.zeros((*stage.shape, 4))
    rows = np.flatnonzero(machines.any((1, 2)))
    if len(rows):
        orders = np.array([s.order for s in _STAGES])
        upto = (orders[None, None, :] <= stage[rows][:, :, None]).astype(float)
        out[rows] = np.einsum("nls,nsp->nlp", upto, machines[rows])
    return out


def assess(
    p: Plants, library: dr.RuleLibrary, *, explain: bool = False, targets: TargetRules = DEFAULT_RULES
) -> Assessed:
    """The checks of every enterprise; with `explain`, also every problem worded (`Assessed.details`)."""
    n, m = p.n, len(p.units)
    bits = np.zeros(n, dtype=np.int64)
    problems = np.zeros(n, dtype=np.int64)

    def add(code: str, counts: np.ndarray) -> None:
        nonlocal problems, bits
        counts = counts.astype(np.int64)
        problems = problems + counts
        bits = bits | np.where(counts > 0, _BIT[code], 0)

    unit_code, codes = _numbered(map(_CODE, p.units), m)
    mt = _measure_table(p, unit_code, codes)
    valid, owner, level, unit = mt["valid"], mt["owner"], mt["level"], mt["unit"]
    klass, cut, stage_of = mt["klass"], mt["cut"], mt["stage"]
    # stored measures the domain refuses (policy.Measure) are reported and left out
    add("stored_measure_invalid", _count_by(owner, ~valid, n))

    # facts: values that cannot be right
    emissions = np.asarray(p.emissions, dtype=float).reshape(n, 4)
    trucks, machines, lowest_stage, negative_mobile, bad_counts = _mobile(p)
    add("negative_value", (emissions < 0).sum(1) + negative_mobile + (bad_counts | (np.asarray(p.truck_visits) < 0)))
    days = np.asarray(p.operating_days, dtype=np.int64)
    add("operating_days", (days < 1) | (days > 366))
    u_owner = np.asarray(p.unit_owner, dtype=np.int64)
    numbers = np.fromiter(chain.from_iterable(map(_UNIT_NUMBERS, p.units)), float, 7 * m).reshape(m, 7)  # None→NaN
    shares, capacities = numbers[:, :4], numbers[:, 4:]
    outdoor = np.fromiter(map(_OUTDOOR, p.units), dtype=bool, count=m)
    distinct = pd.unique(u_owner * (len(codes) + 1) + unit_code) // (len(codes) + 1)
    add("duplicate_unit", np.bincount(u_owner, minlength=n) - np.bincount(distinct, minlength=n))
    add("share_range", _sum_by(u_owner, (~((shares >= 0) & (shares <= 1))).sum(1).astype(float), n))
    add("base_value", _sum_by(u_owner, (capacities < 0).sum(1).astype(float), n))
    allocated = _sum_by(u_owner, shares, n)
    add("shares_exceed", (allocated > 1 + 1e-6).sum(1))

    # classification: grade and category (DOMAIN §5)
    # enterprises of one (industry, grade, category) share their classification and rules
    covered = p.plans if p.plans is not None else repeat((), n)
    sort_of, sorts = _numbered(zip(p.industry, p.grade, p.category, covered, strict=True), n)
    category = np.array([str(s[2]) for s in sorts], dtype=object)[sort_of]
    grade = np.array([str(s[1]) if s[1] else "" for s in sorts], dtype=object)[sort_of]
    graded = grade != ""
    key = category == Category.key.value
    exempt = np.isin(category, [c.value for c in targets.exempt_categories]) | np.isin(
        grade, [g.value for g in targets.exempt_grades]
    )
    add("key_without_grade", key & ~graded)
    add("grade_not_key", ~key & graded)
    total = emissions[:, 0] + emissions[:, 1] + emissions[:, 2] + emissions[:, 3]
    micro = category == Category.micro.value
    add("not_micro", micro & (np.asarray(p.uses_coal, bool) | np.asarray(p.uses_oil, bool)
                              | np.asarray(p.toxic, bool) | (total >= dp.MICRO_LIMIT_T - EPS)))  # fmt: skip

    # measures on unknown units, verification that cannot prove the measure
    unknown = valid & (unit == -2)
    add("unknown_unit", _count_by(owner, unknown, n))
    add("verification_unsuitable", _count_by(owner, valid & ~mt["suitable"], n))
    evaluated = _count_by(owner, unknown, n) == 0  # a measure on no unit: nothing is compared or counted

    # what each level's measures amount to, the strongest winning wherever they overlap
    use = valid & (unit != -2)
    el = owner * L + level
    whole = np.zeros(n * L)
    sel = use & (klass == STATIONARY) & (unit == -1)
    np.maximum.at(whole, el[sel], cut[sel])
    unit_cut = np.zeros(m * L)
    has_unit_cut = np.zeros(m * L, dtype=bool)
    sel = use & (klass == STATIONARY) & (unit >= 0)
    ul = unit * L + level
    np.maximum.at(unit_cut, ul[sel], cut[sel])
    has_unit_cut[ul[sel]] = True
    truck = np.zeros(n * L, dtype=bool)
    truck[el[use & (klass == TRUCK)]] = True
    staggered = np.zeros(n * L, dtype=bool)
    staggered[el[use & (klass == STAGGERED)]] = True
    offroad = np.full(n * L, _NO_STAGE, dtype=np.int64)
    sel = use & (klass == OFFROAD)
    np.maximum.at(offroad, el[sel], stage_of[sel])
    outdoor_whole = np.zeros(n * L, dtype=bool)
    outdoor_whole[el[use & (klass == OUTDOOR) & (unit == -1)]] = True
    outdoor_unit = np.zeros(m * L, dtype=bool)
    outdoor_unit[ul[use & (klass == OUTDOOR) & (unit >= 0)]] = True
    whole, unit_cut, has_unit_cut = whole.reshape(n, L), unit_cut.reshape(m, L), has_unit_cut.reshape(m, L)
    truck, staggered, offroad = truck.reshape(n, L), staggered.reshape(n, L), offroad.reshape(n, L)
    outdoor_whole, outdoor_unit = outdoor_whole.reshape(n, L), outdoor_unit.reshape(m, L)
    stopped = whole >= 1 - EPS  # a stopped plant neither ships nor runs machinery nor works outdoors
    truck |= stopped
    staggered = staggered | truck
    outdoor_whole |= stopped
    offroad = np.where(stopped, _TOP, offroad)

    # expected reductions: the fraction of each pollutant removed, the unallocated rest by whole-plant cuts
    cut_of = np.maximum(unit_cut, whole[u_owner])  # (m, L)
    out_stopped = outdoor_unit | (outdoor_whole[u_owner] & outdoor[:, None])
    red_cut = np.where(out_stopped, 1.0, cut_of)
    unallocated = np.where(allocated < 1, 1 - allocated, 0.0)  # (n, 4)

    def fractions(unit_cuts: np.ndarray, units: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(n, L, 4): the fraction of each pollutant removed, from the given units' cuts."""
        owner, part = u_owner[units], shares[units]
        removed = np.stack([_sum_by(owner, part * unit_cuts[units][:, [j]], n) for j in range(L)], 1)
        return removed + unallocated[:, None, :] * whole[:, :, None]

    frac = fractions(red_cut)
    banned = _banned_machinery(machines, offroad)
    reductions = (emissions[:, None, :] * frac + trucks[:, None, :] * truck[:, :, None] + banned) / days[:, None, None]
    full_stop = (emissions + trucks + _banned_machinery(machines, np.full((n, 1), _TOP))[:, 0]) / days[:, None]

    # production cut: by the units' reduction bases when every unit has a positive one, else by
    # the fraction of the pollutant cut least
    with np.errstate(invalid="ignore"):
        base = np.fmin.reduce(capacities, axis=1)
    positive = base > 0  # NaN (no capacity given) compares False
    n_units = np.bincount(u_owner, minlength=n)
    by_base = (n_units > 0) & (_count_by(u_owner, positive, n) == n_units)
    weights = np.where(positive, base, 0.0)
    weighted = np.stack([_sum_by(u_owner, weights * cut_of[:, j], n) for j in range(L)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cut_by_base = weighted / _sum_by(u_owner, weights, n)[:, None]
    emitting = emissions > 0
    production = np.where(by_base[:, None], cut_by_base, whole)
    rest = ~by_base & emitting.any(1)
    if rest.any():
        least = np.where(emitting[:, None, :], fractions(cut_of, rest[u_owner]), np.inf).min(2)
        production[rest] = least[rest]

    # the share of the lines stopped whole (a rule's "停产50%生产线"): by the reduction bases like the production
    # cut, else by emissions taking the pollutant least covered; a whole-plant stop stops every line
    stopped = (cut_of >= 1 - EPS).astype(float)  # (m, L)
    whole_stop = (whole >= 1 - EPS).astype(float)  # (n, L)
    weighted_stop = np.stack([_sum_by(u_owner, weights * stopped[:, j], n) for j in range(L)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lines_stopped = np.where(by_base[:, None], weighted_stop / _sum_by(u_owner, weights, n)[:, None], whole_stop)
    if rest.any():
        by_emission = np.stack([_sum_by(u_owner, shares * stopped[:, [j]], n) for j in range(L)], 1)
        by_emission = by_emission + unallocated[:, None, :] * whole_stop[:, :, None]
        least_stopped = np.where(emitting[:, None, :], by_emission, np.inf).min(2)
        lines_stopped[rest] = least_stopped[rest]
    lines_stopped = np.maximum(lines_stopped, whole_stop)

    # escalation: a higher level never weaker than the one below (red ⊇ orange ⊇ yellow), per pair of levels
    pairs = ((0, 1), (1, 2))
    any_outdoor = _count_by(u_owner, outdoor, n)
    w_whole = np.zeros((n, 2), dtype=bool)  # the whole-plant cut
    w_unit = np.zeros((m, 2), dtype=bool)  # a unit's cut (where a unit-level cut exists at either level)
    w_truck = np.zeros((n, 2), dtype=bool)  # the truck ban lost
    w_staggered = np.zeros((n, 2), dtype=bool)  # staggered transport lost (the truck ban kept or never there)
    w_offroad = np.zeros((n, 2), dtype=bool)
    w_outdoor_whole = np.zeros((n, 2), dtype=bool)
    w_outdoor_unit = np.zeros((m, 2), dtype=bool)
    w_reduction = np.zeros((n, 2, 4), dtype=bool)  # only when the measures compare equal
    for k, (lo, hi) in enumerate(pairs):
        w_whole[:, k] = whole[:, hi] < whole[:, lo] - EPS
        w_unit[:, k] = (has_unit_cut[:, lo] | has_unit_cut[:, hi]) & (cut_of[:, hi] < cut_of[:, lo] - EPS)
        w_truck[:, k] = truck[:, lo] & ~truck[:, hi]
        w_staggered[:, k] = ~w_truck[:, k] & staggered[:, lo] & ~staggered[:, hi]
        w_offroad[:, k] = offroad[:, hi] < offroad[:, lo]
        reached = outdoor_unit[:, hi] | (cut_of[:, hi] >= 1 - EPS)
        uncovered = _count_by(u_owner, outdoor & ~reached, n)
        w_outdoor_whole[:, k] = outdoor_whole[:, lo] & ~outdoor_whole[:, hi] & ((any_outdoor == 0) | (uncovered > 0))
        kept = (outdoor_whole[u_owner, hi] & outdoor) | reached
        w_outdoor_unit[:, k] = outdoor_unit[:, lo] & ~kept
        pair = (w_whole[:, k].astype(np.int64) + _count_by(u_owner, w_unit[:, k], n) + w_truck[:, k]
                + w_staggered[:, k] + w_offroad[:, k] + w_outdoor_whole[:, k]
                + _count_by(u_owner, w_outdoor_unit[:, k], n))  # fmt: skip
        w_reduction[:, k] = (pair == 0)[:, None] & (reductions[:, hi] < reductions[:, lo] - EPS)
    weaker = (w_whole.sum(1) + _sum_by(u_owner, w_unit.sum(1).astype(float), n).astype(np.int64) + w_truck.sum(1)
              + w_staggered.sum(1) + w_offroad.sum(1) + w_outdoor_whole.sum(1)
              + _sum_by(u_owner, w_outdoor_unit.sum(1).astype(float), n).astype(np.int64)
              + w_reduction.sum((1, 2)))  # fmt: skip
    add("escalation_weaker", np.where(evaluated, weaker, 0))

    # the rule library's minimums
    outdoor_any = outdoor_whole | _any_by(u_owner, outdoor_unit, n)
    below, failed = _rule_failures(
        p, library, sort_of, sorts, production, lines_stopped, truck, staggered, offroad, outdoor_any, lowest_stage
    )
    add("below_rule", np.where(evaluated, below, 0))

    zero = ~evaluated
    reductions[zero] = 0.0
    production[zero] = 0.0
    masks, inverse = np.unique(bits, return_inverse=True)
    names = [tuple(sorted(c for c in CODES if int(mask) & _BIT[c])) for mask in masks]
    assessed = Assessed(problems, [names[i] for i in inverse], reductions, full_stop, production, exempt)
    if explain:
        assessed.wording = dw.Wording(
            p, library, mt, emissions, shares, capacities, allocated, days, trucks, machines, u_owner, codes,
            unit_code, evaluated, w_whole, w_unit, w_truck, w_staggered, w_offroad, w_outdoor_whole,
            w_outdoor_unit, w_reduction, whole, cut_of, offroad, reductions, production, failed,
        )  # fmt: skip
    return assessed


def _any_by(owner: np.ndarray, flags: np.ndarray, n: int) -> np.ndarray:
    """(m, L) → (n, L): any unit of the enterprise."""
    out = np.zeros((n, flags.shape[1]), dtype=bool)
    for j in range(flags.shape[1]):
        out[owner[flags[:, j]], j] = True
    return out


def _rule_failures(
    p: Plants, library: dr.RuleLibrary, sort_of: np.ndarray, sorts: list[tuple[Any, Any, Any, Any]],
    production: np.ndarray, lines_stopped: np.ndarray, truck: np.ndarray, staggered: np.ndarray,
    offroad: np.ndarray,
    outdoor_any: np.ndarray, lowest_stage: np.ndarray,
) -> tuple[np.ndarray, tuple[Any, ...]]:  # fmt: skip
    """Per enterprise, the minimums of its rules (applicable to it) that its policy misses, and the misses:
    (the requirement rows, each miss's enterprise, requirement row and production cut). `sort_of` numbers
    the enterprises' (industry, grade, category, plans) as `sorts` lists them."""
    n = p.n
    key_of = sort_of
    distinct = [(str(i) if i else "other", str(g) if g else "", str(c), tuple(pl)) for i, g, c, pl in sorts]
    # one row per (distinct key, level, requirement)
    owner_key, lv, kind, threshold, any_cap, top, visits, lines = [], [], [], [], [], [], [], []
    required: list[tuple[int, dr.Required]] = []  # (level, requirement with its rule) per row
    for k, (industry, grade, category, plans) in enumerate(distinct):
        match = library.match(industry, Grade(grade) if grade else None, Category(category), plans)
        for j, level in enumerate(LEVELS):
            for q in match.at(level):
                r = q.requirement
                required.append((j, q))
                owner_key.append(k)
                lv.append(j)
                kind.append(_CLASS[r.kind])
                cap_any = r.kind is MeasureKind.output_cap and r.percent is None
                any_cap.append(cap_any)
                threshold.append(r.demanded_cut)
                top.append(r.max_stage.order if r.kind is MeasureKind.offroad_ban and r.max_stage else -1)
                visits.append(r.min_truck_visits)
                lines.append(r.kind is MeasureKind.stop and r.share is not None)
    if not owner_key:
        return np.zeros(n, dtype=np.int64), ([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    req_key = np.asarray(owner_key)
    per_key = np.bincount(req_key, minlength=len(distinct))
    start = np.concatenate([[0], np.cumsum(per_key)[:-1]])
    per_enterprise = per_key[key_of]
    ent = np.repeat(np.arange(n), per_enterprise)
    offset = np.arange(len(ent)) - np.repeat(np.cumsum(per_enterprise) - per_enterprise, per_enterprise)
    req = start[key_of[ent]] + offset
    lv_a, kind_a = np.asarray(lv)[req], np.asarray(kind)[req]
    top_a = np.asarray(top)[req]
    applies = np.asarray(p.truck_visits)[ent] >= np.asarray(visits)[req]
    applies &= (kind_a != OFFROAD) | (top_a < 0) | (lowest_stage[ent] <= top_a)
    by_lines = np.asarray(lines, dtype=bool)[req]
    cut = np.where(by_lines, lines_stopped[ent, lv_a], production[ent, lv_a])
    satisfied = np.select(
        [kind_a == STATIONARY, kind_a == TRUCK, kind_a == STAGGERED, kind_a == OFFROAD],
        [
            np.where(np.asarray(any_cap)[req], cut > EPS, cut >= np.asarray(threshold)[req] - EPS),
            truck[ent, lv_a],
            staggered[ent, lv_a],
            (top_a >= 0) & (offroad[ent, lv_a] >= top_a),
        ],
        outdoor_any[ent, lv_a],
    )
    failing = applies & ~satisfied
    failed = (required, ent[failing], req[failing], cut[failing])
    return np.bincount(ent[failing], minlength=n).astype(np.int64), failed


# --- one enterprise ------------------------------------------------------------------------------------

# What the editor and the import refuse: data that cannot be right or a policy that cannot be carried out as
# written (a measure on no unit, a verification that cannot prove it, a higher level weaker than a lower one).
# Everything else is a flag: saved, shown on the list page and the enterprise page, for the bureau to act on.
FLAGS = frozenset({"below_rule", "key_without_grade", "grade_not_key", "not_micro"})
REFUSED = frozenset(CODES) - FLAGS
NO_RULES = dr.RuleLibrary({}, ())  # for the checks that do not depend on the rule library


@dataclass(frozen=True)
class One:
    """Everything the checks say about one enterprise."""

    problems: list[dp.Problem]
    reductions: dict[AlertLevel, dict[Pollutant, float]]  # t/day (0 when a measure names an unknown unit)
    production_cuts: dict[AlertLevel, float]
    full_stop: dict[Pollutant, float]  # t/day

    @property
    def refusals(self) -> list[dp.Problem]:
        return [p for p in self.problems if p.code in REFUSED]


def measure_rows(policy: dp.PlantPolicy) -> list[tuple[Any, ...]]:
    """A policy's measures as MEASURE_LAYOUT tuples."""
    return [
        (level.value, m.unit_id, m.kind.value, m.percent, m.verification.value,
         m.max_stage.value if m.max_stage else None, m.basis.value if m.basis else None)
        for level in LEVELS for m in policy.at(level)
    ]  # fmt: skip


def plants(items: Sequence[tuple[dp.EnterpriseFacts, Sequence[dp.ProcessUnit], Sequence[tuple[Any, ...]]]],
           plans: Sequence[tuple[str, ...]] | None = None) -> Plants:  # fmt: skip
    """Plants from domain objects: (facts, units, measures as MEASURE_LAYOUT tuples) per enterprise, and the
    codes of the plans covering each."""
    n = len(items)

    def values(mapping: Mapping[Any, Any]) -> dict[str, Any]:
        return {str(getattr(k, "value", k)): (values(v) if isinstance(v, Mapping) else v) for k, v in mapping.items()}

    units = [(i, u) for i, (_f, us, _m) in enumerate(items) for u in us]
    measures = [(i, m) for i, (_f, _u, ms) in enumerate(items) for m in ms]
    return Plants(
        category=[f.category.value for f, _u, _m in items],
        grade=[f.grade.value if f.grade else None for f, _u, _m in items],
        industry=[f.industry or "other" for f, _u, _m in items],
        emissions=np.array(
            [[float(f.emissions.get(p, 0.0)) for p in POLLUTANTS] for f, _u, _m in items], float
        ).reshape(n, 4),
        uses_coal=np.array([f.uses_coal for f, _u, _m in items], bool),
        uses_oil=np.array([f.uses_oil for f, _u, _m in items], bool),
        toxic=np.array([f.toxic for f, _u, _m in items], bool),
        truck_visits=np.array([f.truck_visits_per_day for f, _u, _m in items], np.int64),
        operating_days=np.array([f.operating_days for f, _u, _m in items], np.int64),
        machinery=[values(f.machinery) for f, _u, _m in items],
        truck_emissions=[values(f.truck_emissions) for f, _u, _m in items],
        machinery_emissions=[values(f.machinery_emissions) for f, _u, _m in items],
        units=[
            (
                u.id,
                u.name,
                *(float(u.shares.get(p, 0.0)) for p in POLLUTANTS),
                u.eia_capacity,
                u.permit_capacity,
                u.last_year_output,
                "",
                u.outdoor,
            )
            for _i, u in units
        ],
        unit_owner=np.array([i for i, _u in units], np.int64),
        measures=[m for _i, m in measures],
        measure_owner=np.array([i for i, _m in measures], np.int64),
        plans=plans,
    )


def one(p: Plants, library: dr.RuleLibrary = NO_RULES, i: int = 0) -> One:
    """The checks of enterprise i of `p` (usually the only one), worded."""
    got = assess(p, library, explain=True)
    return One(
        got.worded(i),
        {lv: dict(zip(POLLUTANTS, got.reductions[i, j].tolist(), strict=True)) for j, lv in enumerate(LEVELS)},
        {lv: float(got.production_cuts[i, j]) for j, lv in enumerate(LEVELS)},
        dict(zip(POLLUTANTS, got.full_stop[i].tolist(), strict=True)),
    )


def check(
    facts: dp.EnterpriseFacts, units: Sequence[dp.ProcessUnit], policy: dp.PlantPolicy,
    library: dr.RuleLibrary = NO_RULES, plans: Sequence[str] = (),
) -> One:  # fmt: skip
    """One enterprise from domain objects, in the zones of `plans` (plan codes)."""
    return one(plants([(facts, units, measure_rows(policy))], [tuple(plans)]), library)
