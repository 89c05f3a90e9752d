"""The one rule engine (domain/bulk.py) on generated plants that reach every check (and every kind of measure,
grade, industry and flaw): the counts the list page stores and the words the enterprise page shows agree, and
an enterprise is judged alone as among many. The reductions themselves are worked by hand in test_policy.py."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.reduction.domain import bulk
from app.reduction.domain import rules as dr
from app.reduction.domain.vocabulary import LEVELS, POLLUTANTS, MachineryStage, MeasureKind, Verification

ROOT = Path(__file__).resolve().parents[2]
STAGES = [s.value for s in MachineryStage]
KINDS = [k.value for k in MeasureKind]
VERIFICATIONS = [v.value for v in Verification]


@pytest.fixture(scope="module")
def library() -> dr.RuleLibrary:
    return dr.load(ROOT / "inventories" / "measure_rules")


def random_plant(rng: random.Random, industries: list[str]) -> dict[str, Any]:
    category = rng.choice(["key", "key", "key", "guarantee", "micro", "other"])
    grade = rng.choice(["A", "leading", "B", "C", "D", None]) if category == "key" or rng.random() < 0.1 else None
    tiny = category == "micro" and rng.random() < 0.6
    emissions = [0.0 if tiny or rng.random() < 0.15 else round(rng.uniform(0, 60), 3) for _ in range(4)]
    if tiny:
        emissions = [0.01, 0.02, 0.0, 0.03]
    if rng.random() < 0.02:
        emissions[rng.randrange(4)] = -1.0
    units = []
    for k in range(rng.choice([0, 1, 2, 3, 4])):
        shares = [rng.choice([0.0, 0.1, 0.25, 0.3, 0.5, 0.6]) for _ in range(4)]
        if rng.random() < 0.03:
            shares[rng.randrange(4)] = 1.5
        caps = [rng.choice([None, 0.0, 100.0, 80.0, 120.0]) for _ in range(3)]
        if rng.random() < 0.02:
            caps[0] = -5.0
        units.append((f"U{k}", f"{k}号线", shares, caps, rng.random() < 0.25))
    codes = [u[0] for u in units]
    measures: list[tuple[Any, ...]] = []
    escalating = rng.random() < 0.5  # each level keeps the one below's measures: the rules decide
    for level in LEVELS:
        if escalating:
            measures += [(level.value, *m[1:]) for m in measures if m[0] == LEVELS[max(level.order - 2, 0)].value]
        for _ in range(rng.choice([0, 1, 2, 3])):
            kind = rng.choice(KINDS)
            percent = None
            if kind == "limit":
                percent = rng.choice([10.0, 20.0, 30.0, 50.0, 100.0])
            elif kind == "output_cap":
                percent = rng.choice([0.0, 60.0, 70.0, 80.0])
            if rng.random() < 0.03:
                percent = rng.choice([None, 150.0, 25.0])  # a stored measure the domain refuses
            stage = rng.choice(STAGES[:5]) if kind == "offroad_ban" else None
            basis = rng.choice([None, "output_by_demand"]) if kind == "output_cap" else None
            unit = None
            if codes and kind in ("stop", "limit", "output_cap", "outdoor_work_ban") and rng.random() < 0.6:
                unit = rng.choice(codes)
            if rng.random() < 0.01:
                unit = "NOPE"
            verification = rng.choice(VERIFICATIONS) if rng.random() < 0.1 else {
                "truck_ban": "gate_records", "staggered_transport": "gate_records", "offroad_ban": "video",
                "outdoor_work_ban": "video",
            }.get(kind, "power_meter")  # fmt: skip
            measures.append((level.value, unit, kind, percent, verification, stage, basis))
    machinery = {rng.choice(STAGES): rng.choice([0, 1, 3])} if rng.random() < 0.3 else {}
    trucks = {p.value: round(rng.uniform(0, 2), 3) for p in POLLUTANTS} if rng.random() < 0.3 else {}
    mach_em = {rng.choice(STAGES): {p.value: round(rng.uniform(0, 1), 3) for p in POLLUTANTS[:2]}} if machinery else {}
    return {
        "category": category, "grade": grade, "industry": rng.choice(industries),
        "emissions": emissions, "uses_coal": rng.random() < 0.05, "uses_oil": rng.random() < 0.05,
        "toxic": rng.random() < 0.05, "truck_visits": rng.choice([0, 5, 20, 60]),
        "operating_days": rng.choice([365, 330, 300, 365, 400 if rng.random() < 0.05 else 365]),
        "machinery": machinery, "truck_emissions": trucks, "machinery_emissions": mach_em,
        "units": units, "measures": measures,
    }  # fmt: skip


def plants_of(specs: list[dict[str, Any]]) -> bulk.Plants:
    units = [(i, u) for i, s in enumerate(specs) for u in s["units"]]
    measures = [(i, m) for i, s in enumerate(specs) for m in s["measures"]]
    return bulk.Plants(
        category=[s["category"] for s in specs],
        grade=[s["grade"] for s in specs],
        industry=[s["industry"] for s in specs],
        emissions=np.array([s["emissions"] for s in specs], dtype=float).reshape(len(specs), 4),
        uses_coal=np.array([s["uses_coal"] for s in specs]),
        uses_oil=np.array([s["uses_oil"] for s in specs]),
        toxic=np.array([s["toxic"] for s in specs]),
        truck_visits=np.array([s["truck_visits"] for s in specs]),
        operating_days=np.array([s["operating_days"] for s in specs]),
        machinery=[s["machinery"] for s in specs],
        truck_emissions=[s["truck_emissions"] for s in specs],
        machinery_emissions=[s["machinery_emissions"] for s in specs],
        units=[(u[0], u[1], *u[2], *u[3], "", u[4]) for _i, u in units],
        unit_owner=np.array([i for i, _u in units], dtype=np.int64),
        measures=[m for _i, m in measures],
        measure_owner=np.array([i for i, _m in measures], dtype=np.int64),
    )


def compare(specs: list[dict[str, Any]], library: dr.RuleLibrary) -> None:
    """What the list page stores (assess) and what the enterprise page, the editor and the import word
    (explain=True) are the same judgement: as many worded problems as counted, with the same codes, each read as
    an official writes it; one enterprise alone is judged as it is among many."""
    plants = plants_of(specs)
    got = bulk.assess(plants, library, explain=True)
    for i, spec in enumerate(specs):
        where = f"plant {i}: {spec}"
        worded = got.worded(i)
        assert got.problems[i] == len(worded), (where, [p.message for p in worded])
        assert got.codes[i] == tuple(sorted({p.code for p in worded})), where
        for problem in worded:
            assert "。；" not in problem.message and ".yaml" not in problem.message, problem
            assert "seed" not in problem.message and "measure_rules" not in problem.message, problem
        if i % 97 == 0:  # one enterprise alone
            alone = bulk.assess(plants_of([spec]), library, explain=True)
            assert alone.worded(0) == worded, where
            assert alone.reductions[0] == pytest.approx(got.reductions[i], abs=1e-15), where
            assert alone.production_cuts[0] == pytest.approx(got.production_cuts[i], abs=1e-12), where
        if "unknown_unit" in got.codes[i]:
            assert not got.reductions[i].any(), where


def test_counts_and_words_agree_on_generated_plants(library: dr.RuleLibrary) -> None:
    rng = random.Random(20261123)
    industries = [*library.industries, "3011", "unknown_industry", ""]
    specs = [random_plant(rng, industries) for _ in range(3000)]
    compare(specs, library)
    codes = {c for i in range(len(specs)) for c in bulk.assess(plants_of(specs[i : i + 1]), library).codes[0]}
    # the generator reaches every check (so the comparison above means something)
    assert codes >= set(bulk.CODES) - {"duplicate_unit", "operating_days"}, set(bulk.CODES) - codes


def test_bulk_of_nothing_and_of_plants_without_units_or_measures(library: dr.RuleLibrary) -> None:
    empty = bulk.assess(plants_of([]), library)
    assert empty.problems.shape == (0,) and empty.reductions.shape == (0, 3, 4)
    bare = {
        "category": "other", "grade": None, "industry": "other", "emissions": [36.5, 0.0, 0.0, 0.0],
        "uses_coal": False, "uses_oil": False, "toxic": False, "truck_visits": 0, "operating_days": 365,
        "machinery": {}, "truck_emissions": {}, "machinery_emissions": {}, "units": [], "measures": [],
    }  # fmt: skip
    compare([bare, {**bare, "category": "key"}], library)
    got = bulk.assess(plants_of([bare]), library)
    assert got.full_stop[0, 0] == pytest.approx(0.1) and not got.reductions.any()


def test_duplicate_unit_codes_and_operating_days_are_counted(library: dr.RuleLibrary) -> None:
    spec = {
        "category": "other", "grade": None, "industry": "other", "emissions": [1.0, 1.0, 1.0, 1.0],
        "uses_coal": False, "uses_oil": False, "toxic": False, "truck_visits": 0, "operating_days": 400,
        "machinery": {}, "truck_emissions": {}, "machinery_emissions": {},
        "units": [("U1", "a", [0.2] * 4, [1.0, None, None], False), ("U1", "b", [0.2] * 4, [1.0, None, None], False)],
        "measures": [],
    }  # fmt: skip
    got = bulk.assess(plants_of([spec]), library)
    assert got.codes[0] == ("duplicate_unit", "operating_days") and got.problems[0] == 2
