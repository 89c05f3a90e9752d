"""Properties of the evaluation (hypothesis): monotone in the values, independent of row order, and a triggering
group of exactly the minimum size stops triggering without any one of its units."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.alerts.domain.evaluate import Geography, compute, evaluate
from app.plans.schema import AlertRules, Condition, LevelRule, Trigger

# Two zones of a small made-up geography: A1–A6 in a line, B1–B4 in a line, A6–B1 adjacent.
ZONE_A = tuple(f"A{i}" for i in range(1, 7))
ZONE_B = tuple(f"B{i}" for i in range(1, 5))
EDGES = frozenset(
    [(a, b) for a, b in itertools.pairwise(ZONE_A)] + [(a, b) for a, b in itertools.pairwise(ZONE_B)] + [("A6", "B1")]
)
GEO = Geography({"a": ZONE_A, "b": ZONE_B}, EDGES)
UNITS = ZONE_A + ZONE_B
DAYS = 8


def chuanyu_like(**changes) -> AlertRules:  # type: ignore[no-untyped-def]
    levels = (
        LevelRule("yellow", ((Condition(200, 24),), (Condition(150, 48),))),
        LevelRule("orange", ((Condition(200, 48),), (Condition(150, 72),))),
        LevelRule("red", ((Condition(200, 72), Condition(300, 24)),)),
    )
    values = {"source": "test", "levels": levels, "trigger": Trigger("connected_group", within_zone=4, across_zones=6)}
    return AlertRules(**{**values, **changes})


RULES = [
    chuanyu_like(),
    chuanyu_like(trigger=Trigger("contiguous_mean", min_units=3)),
    chuanyu_like(trigger=Trigger("any_unit")),
]

values = st.lists(st.integers(0, 400), min_size=len(UNITS) * DAYS, max_size=len(UNITS) * DAYS)


def frame(flat: list[int]) -> pd.DataFrame:
    rows = [{"unit": u, "start": datetime(2026, 12, 1) + timedelta(days=d), "hours": 24, "aqi": flat[i * DAYS + d]}
            for i, u in enumerate(UNITS) for d in range(DAYS)]  # fmt: skip
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.integers(0, len(UNITS) * DAYS - 1), st.integers(1, 300), st.sampled_from(range(len(RULES))))
def test_raising_a_value_never_lowers_a_level(flat, where, by, which) -> None:  # type: ignore[no-untyped-def]
    rules = RULES[which]
    before = compute(frame(flat), rules, GEO)
    raised = list(flat)
    raised[where] = min(500, raised[where] + by)
    after = compute(frame(raised), rules, GEO)
    assert (after.own >= before.own).all()
    assert (after.final >= before.final).all()
    assert (after.zones >= before.zones).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.randoms(use_true_random=False), st.sampled_from(range(len(RULES))))
def test_the_result_does_not_depend_on_row_order(flat, rng, which) -> None:  # type: ignore[no-untyped-def]
    f = frame(flat)
    order = list(range(len(f)))
    rng.shuffle(order)
    shuffled = f.iloc[order].reset_index(drop=True)
    assert evaluate(shuffled, RULES[which], GEO) == evaluate(f, RULES[which], GEO)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2), st.integers(0, 3), st.integers(210, 400), st.integers(0, 149))
def test_removing_a_unit_from_a_minimal_triggering_group_ends_the_trigger(first, drop, high, low) -> None:  # type: ignore[no-untyped-def]
    group = ZONE_A[first : first + 4]  # exactly 4 adjacent units of zone a (the minimum)
    flat = [high if (u in group and 2 <= d < 4) else low for u in UNITS for d in range(DAYS)]
    result = evaluate(frame(flat), RULES[0], GEO)
    assert [a["zones"] for a in result["activations"]] == [["a"]]
    without = [low if UNITS[i // DAYS] == group[drop] else v for i, v in enumerate(flat)]
    assert evaluate(frame(without), RULES[0], GEO)["activations"] == []
    # and removing the unit's rows altogether ends it too
    f = frame(flat)
    assert evaluate(f[f["unit"] != group[drop]], RULES[0], GEO)["activations"] == []


def test_grid_keeps_missing_days_missing() -> None:
    f = frame([250] * (len(UNITS) * DAYS))
    f = f[~((f["unit"] == "A1") & (f["start"] == datetime(2026, 12, 3)))]
    lv = compute(f, RULES[0], GEO)
    assert np.isnan(lv.grid.values[0, 2])
