"""The power-consumption check over generated readings: exactly the right flags, with their reasons in numbers."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.power.domain.check import check
from app.power.domain.report import document
from app.power.domain.synthetic import generate
from app.power.domain.thresholds import Thresholds

DEMO = ["stops", "limits", "pretends", "controls_off_at_night", "night", "silent", "reported"]


def run(ep, **kw):
    return check(ep.readings, ep.meters, ep.periods, ep.measures, ep.reports, **kw)


def kinds_by_enterprise(flags: pd.DataFrame, status: str = "raised") -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for e, kind in flags.loc[flags["status"] == status, ["enterprise_id", "kind"]].itertuples(index=False):
        out.setdefault(int(e), set()).add(kind)
    return out


@pytest.fixture(scope="module")
def demo():
    ep = generate(DEMO)
    return ep, run(ep)


def test_the_demo_flags_exactly_the_pretender_the_night_ones_and_the_silent_one(demo) -> None:
    ep, result = demo
    ids = {b: e for e, b in ep.behaviour.items()}
    assert kinds_by_enterprise(result.flags) == {
        ids["pretends"]: {"production_not_reduced"},
        ids["controls_off_at_night"]: {"controls_off"},
        ids["night"]: {"night_pattern"},
        ids["silent"]: {"meter_silent"},
    }
    # the one that reported its stoppage in advance: explained, not raised, by its report
    explained = result.flags[result.flags["status"] == "explained"]
    assert set(explained["enterprise_id"]) == {ids["reported"]}
    assert set(explained["kind"]) == {"meter_silent"} and set(explained["report_id"]) == {1}


def test_a_flag_a_day_over_the_alert_and_the_silent_meter_named(demo) -> None:
    ep, result = demo
    ids = {b: e for e, b in ep.behaviour.items()}
    alert_days = {ep.alert_start.date() + timedelta(days=n) for n in range(3)}
    pretender = result.flags[result.flags["enterprise_id"] == ids["pretends"]]
    assert set(pretender["day"]) == alert_days and len(pretender) == 3
    silent = result.flags[result.flags["enterprise_id"] == ids["silent"]]
    production = ep.meters[(ep.meters["enterprise_id"] == ids["silent"]) & (ep.meters["kind"] == "production")]
    assert set(silent["meter_id"]) == set(production["meter_id"])


def test_reasons_are_words_with_the_numbers(demo) -> None:
    ep, result = demo
    ids = {b: e for e, b in ep.behaviour.items()}
    row = result.flags[result.flags["enterprise_id"] == ids["pretends"]].iloc[0]
    ev = row["evidence"]
    assert ev["allowed_percent"] == 25 and 85 < ev["percent_of_baseline"] < 95 and ev["hours"] == 24
    assert row["reason"].startswith("生产用电未按要求下降：预警期间24小时生产用电")
    assert "超过应急措施允许的25%" in row["reason"]
    night = result.flags[result.flags["kind"] == "night_pattern"].iloc[0]
    assert night["evidence"]["ratio"] > 1.5 and "倍（阈值1.5倍" in night["reason"]
    silent = result.flags[result.flags["kind"] == "meter_silent"].iloc[0]
    assert silent["reason"] == "电表无数据：应有24小时数据，未收到任何数据"


def test_daily_figures_and_baselines(demo) -> None:
    ep, result = demo
    ids = {b: e for e, b in ep.behaviour.items()}
    days = result.days[result.days["enterprise_id"] == ids["stops"]]
    assert len(days) == 3 and (days["production_kwh"] < 0.1 * days["production_baseline_kwh"]).all()
    assert np.allclose(days["ceiling_kwh"], 0.25 * days["production_baseline_kwh"])
    limits = result.days[result.days["enterprise_id"] == ids["limits"]]
    assert np.allclose(limits["ceiling_kwh"], 0.6 * limits["production_baseline_kwh"])
    # the reported stoppage's days (three before the alert) are not in its baseline: 27 normal days of 30
    base = result.baselines.set_index("meter_id")
    reported = ep.meters.loc[ep.meters["enterprise_id"] == ids["reported"], "meter_id"]
    assert set(base.loc[reported, "normal_days"]) == {27}
    assert set(base.loc[ep.meters.loc[ep.meters["enterprise_id"] == ids["stops"], "meter_id"], "normal_days"]) == {30}


def test_holidays_and_staggered_shutdowns_leave_the_baseline() -> None:
    ep = generate(["stops", "limits"])
    first = ep.alert_start.date()
    holidays = [first - timedelta(days=n) for n in (1, 2)]
    staggered = pd.DataFrame({"enterprise_id": [2], "start": [pd.Timestamp(first - timedelta(days=10))],
                              "end": [pd.Timestamp(first - timedelta(days=5))]})  # fmt: skip
    result = check(ep.readings, ep.meters, ep.periods, ep.measures, staggered=staggered, holidays=holidays)
    by_ent = result.baselines.groupby("enterprise_id")["normal_days"].max()
    assert by_ent.to_dict() == {1: 28, 2: 23}


def test_a_stoppage_during_the_baseline_unreported_lowers_nothing_when_excluded_by_a_report() -> None:
    """A plant that stopped for maintenance before the alert without telling gets that low week in its baseline
    median only as far as the median lets it; reported, the week is left out."""
    ep = generate(["pretends"])
    week = (ep.readings["at"] >= ep.alert_start - timedelta(days=8)) & (ep.readings["at"] < ep.alert_start)
    readings = ep.readings.assign(kwh=np.where(week, ep.readings["kwh"] * 0.05, ep.readings["kwh"]))
    report = pd.DataFrame({"report_id": [9], "enterprise_id": [1], "kind": ["maintenance"],
                           "start": [ep.alert_start - timedelta(days=8)], "end": [ep.alert_start]})  # fmt: skip
    result = check(readings, ep.meters, ep.periods, ep.measures, report)
    assert set(result.baselines["normal_days"]) == {22}
    assert set(result.flags["kind"]) == {"production_not_reduced"}


def test_too_few_normal_days_no_baseline_and_no_other_flag() -> None:
    ep = generate(["pretends"], hours=24 * 13)  # ten days before the alert …
    t = Thresholds(min_baseline_days=12)  # … fewer than the plan asks for
    result = run(ep, thresholds=t)
    assert set(result.flags["kind"]) == {"no_baseline"} and len(result.flags) == 3  # once per meter
    assert "预警前正常生产日仅10天，少于所需的12天" in result.flags["reason"].iloc[0]


def test_thresholds_are_the_plans() -> None:
    ep = generate(["limits"])
    assert run(ep).flags.empty
    strict = Thresholds(limit_tolerance_percent=0, standby_percent=10)  # limit 50 %: ceiling 50 %, used ~45 %
    assert run(ep, thresholds=strict).flags.empty
    stricter = Thresholds(limit_tolerance_percent=0)
    limited = generate(["limits"])
    limited.measures["percent"] = 60  # asked for 60 %: ceiling 40 %, used ~45 %
    assert set(run(limited, thresholds=stricter).flags["kind"]) == {"production_not_reduced"}


def test_as_of_checks_only_the_hours_so_far() -> None:
    ep = generate(["silent"])
    result = run(ep, as_of=ep.alert_start + timedelta(hours=30))
    assert list(result.flags["day"]) == [ep.alert_start.date(), ep.alert_start.date() + timedelta(days=1)]
    assert [e["expected_hours"] for e in result.flags["evidence"]] == [24, 6]


def test_a_quarter_hour_meter_counts_its_hours_and_an_incomplete_day_is_flagged() -> None:
    ep = generate(["stops", "stops"], step_minutes=15)
    at = ep.readings["at"]
    gap = (ep.readings["meter_id"] == 4) & (at >= ep.alert_start) & (at < ep.alert_start + timedelta(hours=6))
    result = check(ep.readings[~gap], ep.meters, ep.periods, ep.measures)
    assert list(result.flags["kind"]) == ["data_incomplete"]
    row = result.flags.iloc[0]
    assert row["meter_id"] == 4 and row["evidence"]["hours_received"] == 18
    assert row["reason"] == "电表数据不完整：应有24小时数据，仅收到18小时"


def test_aware_times_are_read_in_local_time() -> None:
    ep = generate(["pretends", "stops"])
    utc = ep.readings.assign(at=ep.readings["at"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC"))
    assert (
        run(ep)
        .flags.drop(columns="evidence")
        .equals(check(utc, ep.meters, ep.periods, ep.measures, ep.reports).flags.drop(columns="evidence"))
    )


@settings(max_examples=25, deadline=None)
@given(
    standby=st.floats(0.0, 0.2), ctrl=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
    night_off=st.booleans(), silent_control=st.booleans(),
)  # fmt: skip
def test_a_plant_that_truly_stops_is_never_flagged(standby, ctrl, seed, night_off, silent_control) -> None:
    """Whatever its controls do while it is stopped, a plant at or under its standby share raises nothing."""
    ep = generate(["stops"], seed=seed, hours=24 * 35)
    r = ep.readings
    in_alert = (r["at"] >= ep.alert_start).to_numpy()
    kind = r["meter_id"].map(ep.meters.set_index("meter_id")["kind"]).to_numpy()
    night = ((r["at"].dt.hour >= 22) | (r["at"].dt.hour < 6)).to_numpy()
    control = in_alert & (kind == "control")
    kwh = r["kwh"].to_numpy().copy()
    kwh[in_alert & (kind == "production")] *= standby / 0.08  # generated at 8 % of the baseline
    kwh[control] *= ctrl / 0.05 * np.where(night_off & night[control], 0.0, 1.0)  # generated at 5 %
    readings = r.assign(kwh=kwh)[~(control & silent_control)]
    flags = check(readings, ep.meters, ep.periods, ep.measures).flags
    assert set(flags["kind"]) <= ({"meter_silent"} if silent_control else set())


def test_days_and_flags_do_not_depend_on_the_order_of_the_rows() -> None:
    ep = generate(DEMO, seed=3)
    shuffled = ep.readings.sample(frac=1.0, random_state=1)
    a, b = run(ep), check(shuffled, ep.meters, ep.periods, ep.measures, ep.reports)
    assert a.flags.drop(columns="evidence").equals(b.flags.drop(columns="evidence"))
    assert np.allclose(a.days["production_kwh"], b.days["production_kwh"])


def test_no_alert_no_flags() -> None:
    ep = generate(["pretends"])
    result = check(ep.readings, ep.meters, ep.periods.iloc[0:0], ep.measures)
    assert result.flags.empty


def test_a_second_alert_period_and_a_higher_level_use_that_levels_measure() -> None:
    ep = generate(["limits"], alert_hours=48)
    second = date(2026, 12, 10)
    periods = pd.DataFrame({"enterprise_id": [1, 1], "start": [ep.alert_start, pd.Timestamp(second)],
                            "end": [pd.Timestamp(second), ep.alert_end], "level": ["orange", "red"]})  # fmt: skip
    measures = pd.concat([ep.measures, pd.DataFrame({"enterprise_id": [1], "level": ["red"], "measure": ["stop"],
                                                     "percent": [None]})])  # fmt: skip
    result = check(ep.readings, ep.meters, periods, measures)
    assert list(result.flags["day"]) == [second] and list(result.flags["kind"]) == ["production_not_reduced"]
    assert result.flags["evidence"].iloc[0]["allowed_percent"] == 25


def test_the_json_document_follows_the_documented_schema(demo) -> None:
    ep, result = demo
    doc = json.loads(json.dumps(document(result, "2026-014", Thresholds(), ep.alert_end)))
    schema = json.loads((Path(__file__).parents[2] / "docs" / "power-flags.schema.json").read_text("utf-8"))
    jsonschema.validate(doc, schema)
    assert doc["raised"] == {"production_not_reduced": 3, "controls_off": 3, "night_pattern": 3, "meter_silent": 3}
    assert doc["enterprises"] == 7 and doc["flags"][0]["label"] == "生产用电未按要求下降"


@settings(max_examples=25, deadline=None)
@given(
    grace=st.integers(0, 30),
    as_of_hours=st.one_of(st.none(), st.integers(-5, 100)),
    second=st.one_of(
        st.none(),
        st.tuples(st.integers(-30, 90), st.integers(1, 60), st.sampled_from(["yellow", "orange", "red", "none"])),
    ),
)
def test_the_checked_hours_from_the_periods_alone_are_the_checks(grace, as_of_hours, second) -> None:  # type: ignore[no-untyped-def]
    """What the compliance screen counts as checked (no readings) equals the check's daily hours."""
    from app.power.domain.check import checked_days

    ep = generate(["pretends", "stops"], hours=24 * 12)
    periods = ep.periods
    if second is not None:
        start = pd.Timestamp(ep.alert_start) + pd.Timedelta(hours=second[0])
        periods = pd.concat([periods, pd.DataFrame({"enterprise_id": [2], "start": [start],
                                                    "end": [start + pd.Timedelta(hours=second[1])],
                                                    "level": [second[2]]})], ignore_index=True)  # fmt: skip
    periods = pd.concat(
        [
            periods,
            pd.DataFrame({"enterprise_id": [9], "start": [ep.alert_start], "end": [ep.alert_end], "level": ["red"]}),
        ],
        ignore_index=True,
    )  # fmt: skip  (no meters)
    t = Thresholds(grace_hours=grace, min_baseline_days=3)
    as_of = None if as_of_hours is None else pd.Timestamp(ep.alert_start) + pd.Timedelta(hours=as_of_hours)
    result = check(ep.readings, ep.meters, periods, ep.measures, thresholds=t, as_of=as_of)
    expected = (result.days[["enterprise_id", "day", "hours"]] if len(result.days) else
                pd.DataFrame(columns=["enterprise_id", "day", "hours"]))  # fmt: skip
    expected = expected[expected["hours"] > 0].astype({"enterprise_id": np.int64, "hours": np.int64})
    got = checked_days(periods, ep.meters, t, as_of)
    assert got.to_dict("records") == expected.reset_index(drop=True).to_dict("records")
