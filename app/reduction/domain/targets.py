"""Reduction targets for a set of jurisdictions at one alert level (seed 002 §4.3.1 (1)): the enterprises'
expected reductions against the jurisdictions' total emissions, pass or fail, the shortfall, and the
enterprises that would close it.

Units: enterprise reductions are t/day (policy.expected_reduction); totals are entered in t/a and divided by
`days_per_year` (365): the total is society's emission over the whole year, so every day carries 1/365 of
it. Shortfalls are tonnes per day.

The enterprise frame has one row per enterprise with the columns `id`, `name`, `jurisdiction` (a path
"/510000/510100/510104/" as places.inventory.Places.path_of gives, or a bare code), `category`, `grade`,
`reduction_<level>_<pollutant>` and `full_stop_<pollutant>` (t/day); `enterprise_row` builds one from the
domain objects. Everything after the frame is vectorised: no Python loop runs over enterprises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from app.reduction.domain.policy import EnterpriseFacts
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    AlertLevel,
    Category,
    Grade,
    Pollutant,
    ResponseLevel,
)

DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class TargetRules:
    """A plan's targets (inventories/plans/*.toml, [targets]): each pollutant down by `percent` of total
    emissions at each response level, and which grades and categories are never asked to close a shortfall."""

    percent: Mapping[ResponseLevel, float]
    exempt_grades: frozenset[Grade]
    exempt_categories: frozenset[Category]

    def exempt(self, category: Category | str, grade: Grade | str | None) -> bool:
        return Category(category) in self.exempt_categories or (bool(grade) and Grade(grade) in self.exempt_grades)


# seed 002 §4.3.1 (1): 10 / 20 / 30 % at response III / II / I; A-grade and guarantee enterprises need not close
# a shortfall. What a plan without its own [targets] gets.
DEFAULT_RULES = TargetRules(
    {ResponseLevel.III: 10.0, ResponseLevel.II: 20.0, ResponseLevel.I: 30.0},
    frozenset({Grade.A}),
    frozenset({Category.guarantee}),
)
DEFAULT_THRESHOLDS: Mapping[ResponseLevel, float] = DEFAULT_RULES.percent
ID, NAME, JURISDICTION, CATEGORY, GRADE = "id", "name", "jurisdiction", "category", "grade"
_TOLERANCE = 1e-9  # t/day: float noise, not a shortfall


_REDUCTION = {(lv, p): f"reduction_{lv}_{p}" for lv in LEVELS for p in POLLUTANTS}
_FULL_STOP = {p: f"full_stop_{p}" for p in POLLUTANTS}


def reduction_column(level: AlertLevel, pollutant: Pollutant) -> str:
    return _REDUCTION[level, pollutant]


def full_stop_column(pollutant: Pollutant) -> str:
    return _FULL_STOP[pollutant]


def columns() -> list[str]:
    """Every column the enterprise frame must have."""
    return [
        ID, NAME, JURISDICTION, CATEGORY, GRADE,
        *(reduction_column(level, p) for level in AlertLevel.ascending() for p in Pollutant),
        *(full_stop_column(p) for p in Pollutant),
    ]  # fmt: skip


class Evaluated(Protocol):
    """What the rule engine gives for one enterprise (bulk.One)."""

    reductions: Mapping[AlertLevel, Mapping[Pollutant, float]]
    full_stop: Mapping[Pollutant, float]


def enterprise_row(id: object, jurisdiction: str, facts: EnterpriseFacts, evaluation: Evaluated) -> dict[str, object]:
    """One row of the enterprise frame; `evaluation` from the rule engine (bulk.check)."""
    row: dict[str, object] = {
        ID: id, NAME: facts.name, JURISDICTION: jurisdiction, CATEGORY: str(facts.category),
        GRADE: str(facts.grade) if facts.grade else None,
    }  # fmt: skip
    for level, amounts in evaluation.reductions.items():
        row.update({_REDUCTION[level, p]: v for p, v in amounts.items()})
    row.update({_FULL_STOP[p]: v for p, v in evaluation.full_stop.items()})
    return row


def frame(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """The enterprise frame from rows (enterprise_row or a database query), with checked columns."""
    df = pd.DataFrame(list(rows), columns=columns())
    for col in (NAME, JURISDICTION, CATEGORY, GRADE):
        df[col] = df[col].astype("str")
    numeric = [c for c in columns() if c.startswith(("reduction_", "full_stop_"))]
    df[numeric] = df[numeric].astype("float64").fillna(0.0)
    return df


def select(enterprises: pd.DataFrame, jurisdictions: Iterable[str]) -> pd.DataFrame:
    """Rows in any of the jurisdictions (a code matches itself and everything below it in the path)."""
    codes = [c.strip("/") for c in jurisdictions]
    if not codes:
        return enterprises.iloc[0:0]
    col = enterprises[JURISDICTION].astype("str")
    paths = "/" + col.str.strip("/") + "/"
    pattern = "/(?:" + "|".join(re.escape(c) for c in codes) + ")/"
    return enterprises[paths.str.contains(pattern, regex=True).to_numpy(dtype=bool)]


def total_emissions(totals: pd.DataFrame, jurisdictions: Iterable[str]) -> dict[Pollutant, float]:
    """Sum of the jurisdictions' total emissions in t/a. `totals` is indexed by jurisdiction code with a
    column per pollutant; pass disjoint jurisdictions (counties of a city, or the city itself, not both)."""
    codes = list(jurisdictions)
    missing = [c for c in codes if c not in totals.index]
    if missing:
        raise KeyError(f"没有以下行政区的全社会总排放量：{'、'.join(missing)}")
    part = totals.loc[codes]
    return {p: float(part[p.value].sum()) if p.value in part else 0.0 for p in Pollutant}


@dataclass(frozen=True)
class GroupResult:
    """One target: a pollutant, or pollutants counted together (so2+nox)."""

    key: str  # "so2", "so2+nox"
    pollutants: tuple[Pollutant, ...]
    total_t_per_day: float
    reduction_t_per_day: float
    percent: float  # NaN when the total is 0
    threshold_percent: float
    passed: bool
    shortfall_t_per_day: float
    closable: bool  # the eligible enterprises' potential covers the shortfall

    @property
    def label(self) -> str:
        return "+".join(p.label for p in self.pollutants)


@dataclass(frozen=True, eq=False)
class TargetResult:
    level: AlertLevel
    groups: tuple[GroupResult, ...]
    # long format, one row per (group, enterprise): group, rank, id, name, jurisdiction, potential_t_per_day,
    # cumulative_t_per_day; greedy per group, largest potential first, stopping once the shortfall is closed
    closing: pd.DataFrame
    enterprises: int

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.groups)


def pollutant_groups(combine_so2_nox: bool = False, ozone: bool = False) -> tuple[tuple[Pollutant, ...], ...]:
    """The targets counted: one per pollutant; so2 and nox together if the plan allows; only nox and vocs
    for the ozone variant."""
    if ozone and combine_so2_nox:
        raise ValueError("臭氧方案只计氮氧化物和挥发性有机物，不能同时合并二氧化硫和氮氧化物")
    if ozone:
        return ((Pollutant.nox,), (Pollutant.vocs,))
    if combine_so2_nox:
        return ((Pollutant.so2, Pollutant.nox), (Pollutant.pm,), (Pollutant.vocs,))
    return tuple((p,) for p in Pollutant)


# (the pollutants of a group that falls short, its shortfall in t/day) → the enterprises that could add to
# it: columns id, name, jurisdiction and potential_t_per_day (> 0: what stopping the whole plant would add).
# Those beyond the ones the greedy choice would take (largest potential first, ties by id) may be left out.
Candidates = Callable[[tuple[Pollutant, ...], float], pd.DataFrame]


def assess(
    enterprises: pd.DataFrame,
    totals: Mapping[Pollutant, float],
    level: AlertLevel,
    **variant: Any,
) -> TargetResult:
    """Targets of the jurisdictions whose enterprises are `enterprises` (the frame) and whose summed total
    emissions (t/a) are `totals`, at `level`; `variant` as for `assess_sums`."""
    rules: TargetRules = variant.pop("rules", DEFAULT_RULES)
    exempt = enterprises[GRADE].isin([g.value for g in rules.exempt_grades]) | enterprises[CATEGORY].isin(
        [c.value for c in rules.exempt_categories]
    )
    variant.setdefault("thresholds", rules.percent)
    eligible = ~exempt.to_numpy(dtype=bool)

    def candidates(group: tuple[Pollutant, ...], _shortfall: float) -> pd.DataFrame:
        current = enterprises[[reduction_column(level, p) for p in group]].to_numpy(dtype="float64").sum(axis=1)
        full = enterprises[[full_stop_column(p) for p in group]].to_numpy(dtype="float64").sum(axis=1)
        potential = np.where(eligible, np.clip(full - current, 0.0, None), 0.0)
        return enterprises.loc[potential > 0, [ID, NAME, JURISDICTION]].assign(
            potential_t_per_day=potential[potential > 0]
        )

    reduced = {p: float(enterprises[reduction_column(level, p)].to_numpy(dtype="float64").sum()) for p in Pollutant}
    return assess_sums(reduced, len(enterprises), totals, level, candidates, **variant)


def assess_sums(
    reduced: Mapping[Pollutant, float],
    enterprises: int,
    totals: Mapping[Pollutant, float],
    level: AlertLevel,
    candidates: Candidates,
    *,
    thresholds: Mapping[ResponseLevel, float] = DEFAULT_THRESHOLDS,
    combine_so2_nox: bool = False,
    ozone: bool = False,
    days_per_year: int = DAYS_PER_YEAR,
) -> TargetResult:
    """Targets from the enterprises' summed expected reductions at `level` (`reduced`, t/day per pollutant,
    over `enterprises` enterprises) and the jurisdictions' summed total emissions (`totals`, t/a). A group
    that falls short asks `candidates` for the enterprises that could close it."""
    threshold = float(thresholds[level.response_level])
    results: list[GroupResult] = []
    closing: list[pd.DataFrame] = []
    for group in pollutant_groups(combine_so2_nox, ozone):
        key = "+".join(p.value for p in group)
        total = sum(float(totals.get(p, 0.0)) for p in group) / days_per_year
        achieved = sum(float(reduced.get(p, 0.0)) for p in group)
        shortfall = max(0.0, total * threshold / 100 - achieved)
        passed = shortfall <= _TOLERANCE
        closable = True
        if not passed:
            picked, closable = _greedy(candidates(group, shortfall), shortfall)
            closing.append(picked.assign(group=key))
        results.append(GroupResult(
            key, group, total, achieved, achieved / total * 100 if total > 0 else math.nan, threshold, passed,
            0.0 if passed else shortfall, closable,
        ))  # fmt: skip
    order = ["group", "rank", ID, NAME, JURISDICTION, "potential_t_per_day", "cumulative_t_per_day"]
    table = pd.concat(closing, ignore_index=True)[order] if closing else pd.DataFrame(columns=order)
    return TargetResult(level, tuple(results), table, enterprises)


def _greedy(candidates: pd.DataFrame, shortfall: float) -> tuple[pd.DataFrame, bool]:
    """Largest potential first until the shortfall is covered (ties by id, so the list is stable)."""
    candidates = candidates.sort_values(["potential_t_per_day", ID], ascending=[False, True], kind="stable")
    cumulative = candidates["potential_t_per_day"].cumsum().to_numpy()
    closable = bool(len(cumulative)) and cumulative[-1] >= shortfall - _TOLERANCE
    # the first position where the running sum reaches the shortfall, inclusive
    count = int(np.searchsorted(cumulative, shortfall - _TOLERANCE, side="left")) + 1
    picked = candidates.iloc[: min(count, len(candidates))].reset_index(drop=True)
    return picked.assign(rank=np.arange(1, len(picked) + 1), cumulative_t_per_day=cumulative[: len(picked)]), closable
