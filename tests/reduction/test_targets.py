"""Targets: a four-enterprise example worked by hand, the variants, and a whole province against the clock."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.reduction.domain import bulk, rules, targets
from app.reduction.domain.policy import EnterpriseFacts, Measure, PlantPolicy, ProcessUnit
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    AlertLevel,
    Category,
    Grade,
    MeasureKind,
    Pollutant,
    ResponseLevel,
    Verification,
)

SO2, NOX, PM, VOCS = Pollutant.so2, Pollutant.nox, Pollutant.pm, Pollutant.vocs
YEL, ORA, RED = AlertLevel.yellow, AlertLevel.orange, AlertLevel.red
A, B = "/510000/510100/510104/", "/510000/510100/510105/"


def row(id: str, where: str, category: str, grade: str | None, full: dict, **levels: dict) -> dict:
    out = {"id": id, "name": f"企业{id}", "jurisdiction": where, "category": category, "grade": grade}
    for level in AlertLevel:
        amounts = levels.get(level.value, {})
        out.update({targets.reduction_column(level, p): amounts.get(p, 0.0) for p in Pollutant})
    out.update({targets.full_stop_column(p): full.get(p, 0.0) for p in Pollutant})
    return out


# t/day. e2 is A-grade and e3 guarantee: both exempt from closing a shortfall.
ROWS = [
    row("e1", A, "key", "B", {SO2: 2, NOX: 3, PM: 1}, yellow={SO2: 0.5, NOX: 1.0, PM: 0.2}),
    row("e2", A, "key", "A", {SO2: 5, NOX: 5, PM: 5, VOCS: 5}),
    row("e3", B, "guarantee", None, {SO2: 4}, yellow={SO2: 0.3}),
    row("e4", B, "other", None, {SO2: 1, NOX: 1, PM: 0.4, VOCS: 2}),
]
# t/a; summed over both counties: so2 3650, nox 3650, pm 1825, vocs 1095 → 10, 10, 5, 3 t/day
TOTALS = pd.DataFrame(
    {"so2": [2190.0, 1460.0], "nox": [3650.0, 0.0], "pm": [1095.0, 730.0], "vocs": [730.0, 365.0]},
    index=["510104", "510105"],
)


@pytest.fixture()
def frame() -> pd.DataFrame:
    return targets.frame(ROWS)


def test_select_and_totals(frame: pd.DataFrame) -> None:
    assert list(targets.select(frame, ["510104"])["id"]) == ["e1", "e2"]
    assert list(targets.select(frame, ["510100"])["id"]) == ["e1", "e2", "e3", "e4"]
    assert list(targets.select(frame, ["/510000/510100/510105/"])["id"]) == ["e3", "e4"]
    assert targets.select(frame, ["5101"]).empty  # codes match whole path parts only
    assert targets.total_emissions(TOTALS, ["510104", "510105"]) == {
        SO2: 3650,
        NOX: 3650,
        PM: 1825,
        VOCS: 1095,
    }
    with pytest.raises(KeyError, match="510106"):
        targets.total_emissions(TOTALS, ["510106"])


def test_yellow_by_hand(frame: pd.DataFrame) -> None:
    result = targets.assess(frame, targets.total_emissions(TOTALS, ["510104", "510105"]), YEL)
    got = {g.key: (g.total_t_per_day, g.reduction_t_per_day, g.percent, g.passed, g.shortfall_t_per_day)
           for g in result.groups}  # fmt: skip
    assert got == {
        "so2": (pytest.approx(10), pytest.approx(0.8), pytest.approx(8), False, pytest.approx(0.2)),
        "nox": (pytest.approx(10), pytest.approx(1.0), pytest.approx(10), True, 0.0),
        "pm": (pytest.approx(5), pytest.approx(0.2), pytest.approx(4), False, pytest.approx(0.3)),
        "vocs": (pytest.approx(3), 0.0, 0.0, False, pytest.approx(0.3)),
    }
    assert not result.passed and all(g.threshold_percent == 10 for g in result.groups)
    # so2: e1 can add 2 − 0.5 = 1.5 ≥ 0.2; pm: e1 adds 0.8 ≥ 0.3; vocs: only e4 has any (2)
    closing = result.closing
    assert list(zip(closing["group"], closing["id"], strict=True)) == [
        ("so2", "e1"),
        ("pm", "e1"),
        ("vocs", "e4"),
    ]
    assert list(closing["potential_t_per_day"]) == pytest.approx([1.5, 0.8, 2.0])
    assert all(g.closable for g in result.groups)


def test_exempt_enterprises_are_never_proposed(frame: pd.DataFrame) -> None:
    result = targets.assess(frame, targets.total_emissions(TOTALS, ["510104", "510105"]), YEL)
    assert not {"e2", "e3"} & set(result.closing["id"])


def test_red_shortfall_that_cannot_be_closed(frame: pd.DataFrame) -> None:
    result = targets.assess(frame, targets.total_emissions(TOTALS, ["510104", "510105"]), RED)
    pm = next(g for g in result.groups if g.key == "pm")
    # 30 % of 5 t/day = 1.5 needed; e1 (1.0) and e4 (0.4) together reach 1.4
    assert (pm.shortfall_t_per_day, pm.closable) == (pytest.approx(1.5), False)
    picked = result.closing[result.closing["group"] == "pm"]
    assert list(picked["id"]) == ["e1", "e4"] and list(picked["rank"]) == [1, 2]
    assert list(picked["cumulative_t_per_day"]) == pytest.approx([1.0, 1.4])


def test_so2_and_nox_together_and_ozone(frame: pd.DataFrame) -> None:
    totals = targets.total_emissions(TOTALS, ["510104", "510105"])
    combined = targets.assess(frame, totals, YEL, combine_so2_nox=True)
    assert [g.key for g in combined.groups] == ["so2+nox", "pm", "vocs"]
    together = combined.groups[0]
    assert (together.percent, together.passed, together.label) == (
        pytest.approx(9),
        False,
        "二氧化硫+氮氧化物",
    )
    assert together.shortfall_t_per_day == pytest.approx(0.2)
    ozone = targets.assess(frame, totals, YEL, ozone=True)
    assert [(g.key, g.passed) for g in ozone.groups] == [("nox", True), ("vocs", False)]
    with pytest.raises(ValueError, match="臭氧"):
        targets.assess(frame, totals, YEL, ozone=True, combine_so2_nox=True)


def test_thresholds_come_from_the_plan(frame: pd.DataFrame) -> None:
    totals = targets.total_emissions(TOTALS, ["510104", "510105"])
    lenient = {ResponseLevel.III: 8.0, ResponseLevel.II: 15.0, ResponseLevel.I: 25.0}
    result = targets.assess(frame, totals, YEL, thresholds=lenient)
    assert [(g.key, g.passed) for g in result.groups] == [
        ("so2", True),
        ("nox", True),
        ("pm", False),
        ("vocs", False),
    ]


def test_zero_total_is_not_a_failure(frame: pd.DataFrame) -> None:
    result = targets.assess(frame, {SO2: 0.0, NOX: 0.0, PM: 0.0, VOCS: 0.0}, YEL)
    assert result.passed and math.isnan(result.groups[0].percent) and result.closing.empty


def test_rows_from_the_domain_objects() -> None:
    facts = EnterpriseFacts("某砖厂", Category.key, Grade.C, "brick", {SO2: 36.5, NOX: 36.5, PM: 73.0})
    units = (ProcessUnit("kiln", "隧道窑", {SO2: 1.0, NOX: 1.0, PM: 0.5}),)
    dcs = Verification.dcs
    policy = PlantPolicy({
        YEL: [Measure(MeasureKind.limit, dcs, "kiln", 50)],
        ORA: [Measure(MeasureKind.stop, Verification.power_meter)],
        RED: [Measure(MeasureKind.stop, Verification.power_meter)],
    })  # fmt: skip
    df = targets.frame([targets.enterprise_row(17, "/510000/510100/510104/", facts, bulk.check(facts, units, policy))])
    first = df.iloc[0]
    assert (first["category"], first["grade"]) == ("key", "C")
    assert first["reduction_yellow_so2"] == pytest.approx(0.05) and first["reduction_yellow_pm"] == pytest.approx(0.05)
    assert first["reduction_red_pm"] == pytest.approx(0.2) and first["full_stop_pm"] == pytest.approx(0.2)


def synthetic_province(n: int, seed: int = 1) -> tuple[pd.DataFrame, dict[Pollutant, float]]:
    rng = np.random.default_rng(seed)
    counties = [f"/510000/51{c // 10:02d}00/51{c // 10:02d}{c % 10 + 1:02d}/" for c in range(180)]
    data: dict[str, object] = {
        "id": np.arange(n), "name": [f"企业{i}" for i in range(n)],
        "jurisdiction": rng.choice(counties, n),
        "category": rng.choice(["key", "guarantee", "micro", "other"], n, p=[0.3, 0.05, 0.45, 0.2]),
    }  # fmt: skip
    data["grade"] = np.where(data["category"] == "key", rng.choice(["A", "B", "C", "D", "leading"], n), None)
    for p in Pollutant:
        full = rng.lognormal(-2, 1.5, n)
        data[targets.full_stop_column(p)] = full
        share = np.sort(rng.uniform(0, 1, (n, 3)), axis=1)
        for i, level in enumerate(AlertLevel.ascending()):
            data[targets.reduction_column(level, p)] = full * share[:, i]
    df = targets.frame(pd.DataFrame(data).to_dict("records"))
    totals = {p: float(df[targets.full_stop_column(p)].sum()) * 365 * 3 for p in Pollutant}
    return df, totals


def test_whole_province_exempts_and_closes() -> None:
    """A province's 20,000 enterprises (speed: bench/targets.py)."""
    df, totals = synthetic_province(20_000)
    province = targets.select(df, ["510000"])
    results = [
        targets.assess(province, totals, level, **variant)
        for level in AlertLevel
        for variant in ({}, {"combine_so2_nox": True}, {"ozone": True})
    ]
    assert len(province) == 20_000 and all(r.enterprises == 20_000 for r in results)
    red = results[6]
    # the greedy list never names an exempt enterprise and closes every closable shortfall
    exempt = set(df.loc[(df["grade"] == "A") | (df["category"] == "guarantee"), "id"])  # seed 002 §4.3.1 (1)
    assert not exempt & set(red.closing["id"])
    for g in red.groups:
        picked = red.closing[red.closing["group"] == g.key]
        if not g.passed and g.closable:
            assert picked["cumulative_t_per_day"].iloc[-1] >= g.shortfall_t_per_day - 1e-9
            assert len(picked) == 1 or picked["cumulative_t_per_day"].iloc[-2] < g.shortfall_t_per_day


def test_policy_checks_for_a_province() -> None:
    library = rules.load(Path(__file__).resolve().parents[2] / "inventories" / "measure_rules")
    industries = ["steel", "cement_clinker", "brick", "furniture", "3599"]
    units = (ProcessUnit("u1", "1号线", {p: 0.5 for p in Pollutant}, 100.0),
             ProcessUnit("u2", "2号线", {p: 0.5 for p in Pollutant}, 100.0))  # fmt: skip
    policy = PlantPolicy({
        YEL: [Measure(MeasureKind.limit, Verification.dcs, "u1", 40),
              Measure(MeasureKind.truck_ban, Verification.video)],
        ORA: [Measure(MeasureKind.stop, Verification.power_meter, "u1"),
            Measure(MeasureKind.truck_ban, Verification.video)],
        RED: [Measure(MeasureKind.stop, Verification.power_meter)],
    })  # fmt: skip
    plants = [EnterpriseFacts(f"企业{i}", Category.key, (Grade.B, Grade.C, Grade.D)[i % 3], industries[i % 5],
                              {p: 1.0 for p in Pollutant}) for i in range(20_000)]  # fmt: skip
    measures = bulk.measure_rows(policy)
    assessed = bulk.assess(bulk.plants([(facts, units, measures) for facts in plants]), library)
    flagged = int((assessed.problems > 0).sum())
    rows = [
        {targets.ID: i, targets.NAME: f.name, targets.JURISDICTION: "/510000/510100/510104/",
         targets.CATEGORY: f.category.value, targets.GRADE: f.grade.value if f.grade else None,
         **{targets.reduction_column(lv, p): assessed.reductions[i, j, k] for j, lv in enumerate(LEVELS)
            for k, p in enumerate(POLLUTANTS)},
         **{targets.full_stop_column(p): assessed.full_stop[i, k] for k, p in enumerate(POLLUTANTS)}}
        for i, f in enumerate(plants)
    ]  # fmt: skip
    df = targets.frame(rows)
    result = targets.assess(df, {p: 20_000 * 365.0 for p in Pollutant}, RED)
    assert flagged > 0 and result.groups[0].reduction_t_per_day == pytest.approx(20_000 / 365)
