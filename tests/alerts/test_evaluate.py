"""Evaluation as plain Python over data: the Done-when scenario, the regional trigger, Kashgar, floors, dust."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from app.alerts.domain.evaluate import Floor, evaluate
from tests.alerts.conftest import CHENGDU_FOUR, geography, hourly, rules


def chuanyu_members(places):  # type: ignore[no-untyped-def]
    return [m for z in geography(places, "chuanyu").zones.values() for m in z]


def done_when_forecast(places):  # type: ignore[no-untyped-def]
    """成都, 德阳, 眉山, 雅安 above AQI 200 for 48 hours (10–11 December), then 72 hours of improvement."""
    return hourly(chuanyu_members(places), 24 * 7, lambda u, h: 250 if u in CHENGDU_FOUR and 48 <= h < 96 else 80)


def test_four_chengdu_plain_cities_above_200_for_48h_give_an_orange_proposal_for_the_whole_zone(places) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(done_when_forecast(places), rules(places, "chuanyu"), geography(places, "chuanyu"))
    [activation] = result["activations"]
    assert activation["zones"] == ["chengdu_plain"] and activation["level"] == "orange"
    assert set(activation["units"]) == {"510100", "510600", "510700", "511400", "511100", "511800"}
    assert (activation["start"], activation["end"]) == ("2026-12-10T00:00+08:00", "2026-12-12T00:00+08:00")
    assert "成都平原内4个相邻城市（成都、德阳、眉山、雅安）达到橙色预警条件（区域内≥4个）" in activation["reason"]
    issue = result["proposals"][0]
    assert issue["kind"] == "issue" and issue["level"] == "orange" and issue["propose_by"] == "2026-12-07T00:00+08:00"
    lift = result["proposals"][-1]
    assert lift["kind"] == "lift" and lift["start"] == "2026-12-12T00:00+08:00"
    assert "持续72小时（≥36小时），解除预警" in lift["reason"]
    mianyang = next(u for u in result["units"] if u["unit"] == "510700")
    assert mianyang["levels"][0]["level"] == "orange" and mianyang["levels"][0]["own_level"] is None
    assert mianyang["levels"][0]["reason"] == "所在联动区域启动预警"
    chengdu = next(u for u in result["units"] if u["unit"] == "510100")
    assert "成都：12月10日至12月11日日AQI>200持续48小时（≥48小时），取预报范围上限，达到橙色预警条件" in chengdu[
        "levels"][0]["reason"]  # fmt: skip


def test_an_improvement_shorter_than_36_hours_does_not_lift_yet(places) -> None:  # type: ignore[no-untyped-def]
    frame = hourly(chuanyu_members(places), 24 * 5, lambda u, h: 250 if u in CHENGDU_FOUR and 48 <= h < 96 else 80)
    result = evaluate(frame, rules(places, "chuanyu"), geography(places, "chuanyu"))
    assert result["proposals"][-1]["kind"] == "lift_pending"
    assert "预报仅覆盖24小时（需持续≥36小时），暂不解除" in result["proposals"][-1]["reason"]


def test_three_cities_do_not_trigger_a_zone(places) -> None:  # type: ignore[no-untyped-def]
    three = CHENGDU_FOUR[:3]
    frame = hourly(chuanyu_members(places), 24 * 7, lambda u, h: 250 if u in three and 48 <= h < 96 else 80)
    result = evaluate(frame, rules(places, "chuanyu"), geography(places, "chuanyu"))
    assert result["activations"] == []
    own = [u for u in result["units"] if u["levels"]]
    assert {u["unit"] for u in own} == set(three)  # their own orange alerts, no regional one


def test_a_unit_with_a_higher_own_level_keeps_it(places) -> None:  # type: ignore[no-untyped-def]
    def value(u: str, h: int) -> int:
        if u == "510100" and 24 <= h < 120:
            return 320  # 成都 > 200 for 96 h and > 300 for ≥ 24 h: red
        return 250 if u in CHENGDU_FOUR and 48 <= h < 96 else 80

    result = evaluate(hourly(chuanyu_members(places), 24 * 8, value), rules(places, "chuanyu"),
                      geography(places, "chuanyu"))  # fmt: skip
    chengdu = next(u for u in result["units"] if u["unit"] == "510100")
    assert [r["level"] for r in chengdu["levels"]] == ["red"]
    deyang = next(u for u in result["units"] if u["unit"] == "510600")
    assert {r["level"] for r in deyang["levels"]} == {"orange"}


def test_episodes_closer_than_36_hours_are_one_at_the_higher_level(places) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame([
        {"unit": u, "start": datetime(2026, 12, 1) + timedelta(days=d), "hours": 24,
         "aqi": {2: 220, 3: 220, 4: 100, 5: 160, 6: 160}.get(d, 60)}
        for u in chuanyu_members(places) for d in range(10)
    ])  # fmt: skip
    result = evaluate(frame, rules(places, "chuanyu"), geography(places, "chuanyu"))
    assert len(result["activations"]) == 1  # one day (24 h < 36 h) between: one episode
    activation = result["activations"][0]
    assert activation["start"] == "2026-12-03T00:00+08:00" and activation["end"] == "2026-12-08T00:00+08:00"
    assert activation["level"] == "orange"


def test_across_zones_six_adjacent_units_trigger_every_zone_they_touch(places) -> None:  # type: ignore[no-untyped-def]
    geo = geography(places, "chuanyu")
    # 资阳 and 内江 (south), 遂宁 (central) with 成都, 眉山, 德阳 (Chengdu plain): connected across zones.
    group = {"512000", "511000", "510900", "510100", "511400", "510600"}
    frame = hourly(chuanyu_members(places), 24 * 6, lambda u, h: 230 if u in group and 24 <= h < 48 else 70)
    result = evaluate(frame, rules(places, "chuanyu"), geo)
    zones = {z for a in result["activations"] for z in a["zones"]}
    assert zones == {"south", "central", "chengdu_plain"}
    assert all(a["level"] == "yellow" for a in result["activations"])
    assert any("跨区域≥6个" in a["reason"] for a in result["activations"])


def test_dust_is_excluded_where_the_plan_says_so(places) -> None:  # type: ignore[no-untyped-def]
    frame = done_when_forecast(places)
    frame["dust"] = True
    result = evaluate(frame, rules(places, "chuanyu"), geography(places, "chuanyu"))
    assert result["activations"] == [] and "不计入预警" in result["notes"][0]


def test_kashgar_three_contiguous_counties_by_their_mean_and_the_regions_floor(places) -> None:  # type: ignore[no-untyped-def]
    geo = geography(places, "kashgar")
    members = geo.zones["kashgar"]
    a, b = sorted(geo.edges)[0]
    third = next(c for e in sorted(geo.edges) for c in e if (a in e or b in e) and c not in (a, b))
    trio = {a, b, third}
    frame = hourly(members, 24 * 5, lambda u, h: 260 if u in trio and 24 <= h < 72 else 90)
    result = evaluate(frame, rules(places, "kashgar"), geo)
    [activation] = result["activations"]
    assert activation["level"] == "orange" and len(activation["units"]) == 12
    assert "3个连片县（市）" in activation["reason"] and "平均日AQI达到橙色预警条件" in activation["reason"]
    assert result["proposals"][-1]["without_approval"] is True  # §3.7.2: lifting on schedule
    # The autonomous region's yellow alert puts every county at yellow at least.
    calm = hourly(members, 24 * 5, lambda u, h: 90)
    floor = Floor("yellow", datetime(2026, 12, 9), datetime(2026, 12, 10), "新疆维吾尔自治区")
    result = evaluate(calm, rules(places, "kashgar"), geo, floors=[floor])
    [activation] = result["activations"]
    assert activation["level"] == "yellow" and "新疆维吾尔自治区黄色区域预警（不低于其级别）" in activation["reason"]
    assert all(u["levels"][0]["level"] == "yellow" for u in result["units"])


def test_kashgar_rolling_24_hour_mean_crosses_calendar_days(places) -> None:  # type: ignore[no-untyped-def]
    geo = geography(places, "kashgar")
    members = geo.zones["kashgar"]
    # 24 hours above 200 from noon to noon: no calendar day's mean is above 200, the rolling mean is.
    frame = hourly(members, 24 * 4, lambda u, h: 300 if 36 <= h < 60 else 100)
    result = evaluate(frame, rules(places, "kashgar"), geo)
    assert result["resolution"] == "hour"
    [activation] = result["activations"]
    assert activation["level"] == "yellow"  # one 24-hour mean above 200, not two 24 hours apart
    # The first 24-hour window above 200 starts at 01:00 on the 9th (13 of its hours at 300), the last at 23:00.
    assert (activation["start"], activation["end"]) == ("2026-12-09T01:00+08:00", "2026-12-10T23:00+08:00")
    # 48 hours at 300 from noon: two windows 24 hours apart above 200 — orange, across three calendar days.
    frame = hourly(members, 24 * 5, lambda u, h: 300 if 36 <= h < 84 else 100)
    assert evaluate(frame, rules(places, "kashgar"), geo)["activations"][0]["level"] == "orange"


def test_hourly_values_average_per_local_day_like_a_groupby(places) -> None:  # type: ignore[no-untyped-def]
    """The day means the calendar-day plans count with: missing hours left out, an empty day missing, units
    outside the plan ignored; the same numbers pandas' groupby gives."""
    import numpy as np

    from app.alerts.domain.evaluate import grid

    rng = np.random.default_rng(7)
    t0 = datetime(2026, 12, 1)
    rows = []
    for unit in ("a", "b", "zz"):
        for h in range(72):
            if unit == "b" and 24 <= h < 48:
                continue  # b has no values on the second day
            value = None if rng.random() < 0.2 else float(rng.integers(50, 300))
            rows.append({"unit": unit, "start": t0 + timedelta(hours=h), "hours": 1, "aqi": value})
    frame = pd.DataFrame(rows)
    g = grid(frame, rules(places, "chuanyu"), ["a", "b"])
    expected = frame.assign(day=frame["start"].dt.floor("D")).groupby(["unit", "day"])["aqi"].mean()
    assert g.step_hours == 24 and g.times == [t0, t0 + timedelta(days=1), t0 + timedelta(days=2)]
    for i, unit in enumerate(("a", "b")):
        for d, day in enumerate(g.times):
            want = expected.get((unit, pd.Timestamp(day)), float("nan"))
            assert (np.isnan(want) and np.isnan(g.values[i, d])) or abs(g.values[i, d] - want) < 1e-9
    assert np.isnan(g.values[1, 1])


def test_each_hour_carries_the_highest_level_of_the_24_windows_covering_it() -> None:
    import numpy as np

    from app.alerts.domain.evaluate import _cover

    rng = np.random.default_rng(11)
    for width in (1, 5, 23, 24, 25, 100, 217):
        windows = rng.integers(0, 4, (7, width))
        hours = _cover(windows)
        assert hours.shape == (7, width + 23)
        for h in range(width + 23):
            covering = windows[:, max(0, h - 23) : h + 1]
            assert (hours[:, h] == covering.max(axis=1)).all(), (width, h)
