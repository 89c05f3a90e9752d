"""The checks across an enterprise's rows that the one rule engine (domain/bulk.py) makes, on every enterprise
the main sheet read, as the editor and the list page judge them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from app.reduction.domain import bulk
from app.reduction.domain import policy as dp
from app.reduction.domain.vocabulary import POLLUTANTS
from app.reduction.excel.records import Bundle, E

Report = Callable[..., None]  # MainParser.issue: (row, column key, message, error=True)


def judge(
    bundles: list[Bundle],
    also_judged: list[Bundle],
    unit_rows: dict[int, dict[str | None, int]],
    by_uscc: dict[str, Bundle],
    issue: Report,
) -> None:
    """The one rule engine (domain/bulk.py) on every enterprise read, as the editor and the list page judge
    them: what the editor refuses (bulk.REFUSED) refuses the enterprise, a classification flag is a
    warning; the rule library's minimums are flags of the list page, not of the file. The enterprises refused
    here leave `bundles` and `by_uscc`; `unit_rows` (id(bundle) → the row of each unit code) places each
    problem on its row; `issue` reports it."""
    if not bundles and not also_judged:
        return
    # A refused enterprise is judged on what could be read: a missing category counts as "other", measures
    # on a unit that could not be read are left out (their errors are reported already), and only the
    # escalation and the verifications are reported (the rest the rows' own checks name).
    others = []
    for b in also_judged:
        codes = {u[0] for u in b.units}
        measures = [m for m in b.measures if m[1] is None or m[1] in codes]
        others.append(Bundle(b.row, _with_category(b.ent), b.units, measures))
    assessed = bulk.assess(plants_of([*bundles, *others]), bulk.NO_RULES, explain=True)
    good = len(bundles)
    for i, bundle in enumerate(also_judged, start=good):
        rows = unit_rows.get(id(bundle), {})
        for problem in assessed.worded(i) if assessed.codes[i] else ():
            if problem.code in _OF_MEASURES:
                row = rows.get(problem.unit_id, bundle.row) if problem.unit_id else rows.get(None, bundle.row)
                issue(row, _column_of(problem), problem.message)
    kept: list[Bundle] = []
    for i, bundle in enumerate(bundles):
        refused = False
        if assessed.codes[i]:
            rows = unit_rows.get(id(bundle), {})
            for problem in assessed.worded(i):
                row = rows.get(problem.unit_id, bundle.row) if problem.unit_id else rows.get(None, bundle.row)
                if problem.code in bulk.REFUSED:
                    issue(row, _column_of(problem), problem.message)
                    refused = True
                elif problem.code in _CLASSIFICATION:
                    key = "e.grade" if problem.code in ("key_without_grade", "grade_not_key") else "e.category"
                    issue(bundle.row, key, problem.message, error=False)
        if refused:
            by_uscc.pop(bundle.ent[E["uscc"]], None)
        else:
            kept.append(bundle)
    bundles[:] = kept


_CLASSIFICATION = frozenset({"key_without_grade", "grade_not_key", "not_micro"})
# the engine's refusals a refused enterprise is still judged for: its measures' (the rows' own checks name the rest)
_OF_MEASURES = frozenset({"escalation_weaker", "verification_unsuitable"})


def _column_of(problem: dp.Problem) -> str | None:
    """The column a refusal of the engine points at: the level's verification or measure."""
    if problem.level is None:
        return None
    return f"{problem.level.value}.{'verification' if problem.code == 'verification_unsuitable' else 'kind'}"


def _with_category(ent: tuple[Any, ...]) -> tuple[Any, ...]:
    if ent[E["category"]] is not None:
        return ent
    fixed = list(ent)
    fixed[E["category"]], fixed[E["grade"]] = "other", None
    return tuple(fixed)


def plants_of(bundles: Sequence[Bundle]) -> bulk.Plants:
    """The records as the checks read them (their units and measures start as bulk.UNIT_LAYOUT and
    MEASURE_LAYOUT say); columns taken with map and itemgetter (no Python step per enterprise, unit or
    measure)."""
    n = len(bundles)
    ents = list(map(attrgetter("ent"), bundles))

    def column(name: str) -> list[Any]:
        return list(map(itemgetter(E[name]), ents))

    def array(name: str, dtype: type) -> np.ndarray:
        return np.fromiter(map(itemgetter(E[name]), ents), dtype, n)

    units = list(map(attrgetter("units"), bundles))
    measures = list(map(attrgetter("measures"), bundles))
    emissions = chain.from_iterable(map(itemgetter(*(E[p.value] for p in POLLUTANTS)), ents))
    days = array("operating_days", np.int64)
    return bulk.Plants(
        category=column("category"),
        grade=column("grade"),
        industry=[x or "other" for x in column("industry")],
        emissions=np.fromiter(emissions, float, 4 * n).reshape(n, 4),
        uses_coal=array("uses_coal", bool),
        uses_oil=array("uses_oil", bool),
        toxic=array("toxic", bool),
        truck_visits=array("truck_visits_per_day", np.int64),
        operating_days=np.where(days == 0, 365, days),
        machinery=column("machinery"),
        truck_emissions=column("truck_emissions"),
        machinery_emissions=column("machinery_emissions"),
        units=list(chain.from_iterable(units)),
        unit_owner=np.repeat(np.arange(n), np.fromiter(map(len, units), np.int64, n)),
        measures=chain.from_iterable(measures),
        measure_owner=np.repeat(np.arange(n), np.fromiter(map(len, measures), np.int64, n)),
    )
