"""Forecasts and observations in: CSV, Excel and JSON; HJ 633; bad rows refused with line and column."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from app.alerts.domain import aqi, readings
from app.alerts.models import ForecastIssue, ForecastValue
from app.config import ROOT
from tests.alerts.conftest import CHENGDU_FOUR

CHUANYU = {"510100", "510600", "510700", "511400", "511100", "511800", "500153", "512000"}


def test_the_plainest_file_is_unit_date_aqi() -> None:
    r = readings.parse("f.csv", b"unit,date,aqi\n510100,2026-12-10,250\n510600,2026-12-10,180\n", CHUANYU)
    assert r.resolution == "day" and list(r.frame["aqi"]) == [250, 180] and list(r.frame["hours"]) == [24, 24]


def test_ranges_pollutant_dust_and_hours() -> None:
    text = ("unit,time,aqi_min,aqi_max,primary_pollutant,dust\n"
            "510100,2026-12-10 00:00,160,210,PM2.5,否\n510100,2026-12-10T01:00,150,190,O3,1\n")  # fmt: skip
    r = readings.parse("f.csv", text.encode(), CHUANYU)
    assert r.resolution == "hour" and list(r.frame["aqi_max"]) == [210, 190]
    assert list(r.frame["primary_pollutant"]) == ["PM2.5", "O3"] and list(r.frame["dust"]) == [False, True]


def test_bad_rows_are_refused_with_line_and_column() -> None:
    text = "unit,date,aqi\n510100,2026-12-10,250\n510100,2026-13-01,20\n999999,2026-12-11,abc\n510100,2026-12-10,90\n"
    with pytest.raises(readings.ReadingsError) as e:
        readings.parse("预报.csv", text.encode(), CHUANYU)
    assert e.value.problems == [
        "预报.csv 第3行 date 列：“2026-13-01”不是 YYYY-MM-DD",
        "预报.csv 第4行 unit 列：“999999”不是本预案的成员单位代码",
        "预报.csv 第4行 aqi 列：“abc”应为 0–500 的整数",
        "预报.csv 第5行 date 列：510100 的 2026-12-10 重复出现",
    ]


def test_a_file_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(readings.ReadingsError) as e:
        readings.parse("f.csv", b"unit,day,value\n510100,2026-12-10,1\n", CHUANYU)
    known = "unit, date, time, aqi, aqi_min, aqi_max, pm25, primary_pollutant, dust"
    assert f"f.csv：未知的列 day, value（可用：{known}）" in e.value.problems
    assert "f.csv：需要 date 列（日值）或 time 列（小时值），二者选一" in e.value.problems


def test_excel_and_json_read_like_the_csv() -> None:
    csv = readings.parse("f.csv", b"unit,date,aqi\n510100,2026-12-10,250\n", CHUANYU)
    buffer = io.BytesIO()
    pd.DataFrame({"unit": ["510100"], "date": ["2026-12-10"], "aqi": [250]}).to_excel(buffer, index=False)
    xlsx = readings.parse("f.xlsx", buffer.getvalue(), CHUANYU)
    body = json.dumps({"values": [{"unit": "510100", "date": "2026-12-10", "aqi": 250}]}).encode()
    api = readings.parse("api.json", body, CHUANYU)
    assert csv.digest == xlsx.digest == api.digest
    with pytest.raises(readings.ReadingsError) as e:
        readings.parse("api.json", json.dumps([{"unit": "510100", "date": "x", "aqi": 1}]).encode(), CHUANYU)
    assert e.value.problems == ["api.json 第1项 date 列：“x”不是 YYYY-MM-DD"]


def test_the_same_forecast_in_another_row_order_has_the_same_digest() -> None:
    a = readings.parse("a.csv", b"unit,date,aqi\n510100,2026-12-10,250\n510600,2026-12-10,180\n", CHUANYU)
    b = readings.parse("b.csv", b"unit,date,aqi\n510600,2026-12-10,180\n510100,2026-12-10,250\n", CHUANYU)
    c = readings.parse("c.csv", b"unit,date,aqi\n510600,2026-12-10,181\n510100,2026-12-10,250\n", CHUANYU)
    assert a.digest == b.digest != c.digest


def test_pm25_by_the_hj633_table_of_the_day() -> None:
    tables = aqi.load()
    old, new = aqi.table_for(tables, date(2026, 2, 28)), aqi.table_for(tables, date(2026, 3, 1))
    assert (old.code, old.verified) == ("HJ 633-2012", True) and new.code == "HJ 633-2026"
    # HJ 633-2012: 75 μg/m³ ↔ 100, 115 ↔ 150, 150 ↔ 200, 250 ↔ 300; between, linear and rounded up.
    assert aqi.iaqi(old, np.array([75, 115, 150, 250, 120, 600])).tolist() == [100, 150, 200, 300, 158, 500]
    r = readings.parse("f.csv", b"unit,date,pm25\n510100,2026-02-28,151\n510100,2026-03-01,151\n", CHUANYU)
    assert list(r.frame["aqi_pm25"]) == [201, 201]
    assert list(r.frame["aqi_table"]) == ["HJ 633-2012", "HJ 633-2026（未核实）"]
    assert r.notes and "未核实" in r.notes[0]  # the 2026 figures could not be verified: said on every use


def test_a_malformed_table_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hj633.toml"
    path.write_text('[[tables]]\ncode = "x"\nsource = "y"\npm25 = [[0, 0], [50, 40], [40, 100]]\n', encoding="utf-8")
    with pytest.raises(aqi.TableError) as e:
        aqi.load(path)
    assert e.value.problems == ["aqi/hj633.toml tables[0].pm25: must start at [0, 0] and increase in both columns"]


# --- through the command line and the database ----------------------------------------------------------------


def write_forecast(path: Path, hours: int = 24 * 7) -> Path:
    members = ["510100", "510600", "510700", "511400", "511100", "511800"]
    lines = ["unit,time,aqi"]
    for u in members:
        for h in range(hours):
            value = 250 if u in CHENGDU_FOUR and 48 <= h < 96 else 80
            lines.append(f"{u},{pd.Timestamp('2026-12-08') + pd.Timedelta(hours=h):%Y-%m-%d %H:%M},{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_flask_alerts_evaluate_prints_the_same_activation(session, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    file = write_forecast(tmp_path / "forecast.csv")
    result = runner.invoke(args=["alerts", "evaluate", "chuanyu", str(file)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [activation] = data["activations"]
    assert activation["zones"] == ["chengdu_plain"] and activation["level"] == "orange"
    assert activation["start"] == "2026-12-10T00:00+08:00" and "成都、德阳、眉山、雅安" in activation["reason"]
    assert [p["kind"] for p in data["proposals"]] == ["issue", "lift"]
    bad = runner.invoke(args=["alerts", "evaluate", "nosuch", str(file)])
    assert bad.exit_code != 0 and "没有代码为 nosuch 的预案" in bad.output


def test_the_same_forecast_posted_twice_is_stored_once_and_bad_files_keep_nothing(
    session, runner, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    file = write_forecast(tmp_path / "forecast.csv", hours=48)
    first = runner.invoke(args=["alerts", "import", str(file)])
    assert first.exit_code == 0 and "stored (288 values, hour)" in first.output
    second = runner.invoke(args=["alerts", "import", str(file)])
    assert "already stored" in second.output
    assert session.scalar(select(func.count()).select_from(ForecastIssue)) == 1
    changed = tmp_path / "forecast2.csv"
    changed.write_text(file.read_text(encoding="utf-8").replace(",80\n", ",81\n", 1), encoding="utf-8")
    assert "stored (288" in runner.invoke(args=["alerts", "import", str(changed)]).output  # a new issue, kept
    assert session.scalar(select(func.count()).select_from(ForecastIssue)) == 2
    broken = tmp_path / "broken.csv"
    broken.write_text(file.read_text(encoding="utf-8") + "510100,2026-12-20 00:00,x\n", encoding="utf-8")
    result = runner.invoke(args=["alerts", "import", "--observed", str(broken)])
    assert result.exit_code != 0 and "第290行 aqi 列：“x”应为 0–500 的整数" in result.output
    assert session.scalar(select(func.count()).select_from(ForecastIssue)) == 2
    assert session.scalar(select(func.count()).select_from(ForecastValue)) == 576


def test_a_stored_issue_replays_to_the_same_evaluation(session, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.alerts import services as alerts

    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    file = write_forecast(tmp_path / "forecast.csv")
    parsed = readings.parse(file.name, file.read_bytes(), alerts.member_codes(session, "chuanyu"))
    issue, created = alerts.store(session, parsed, alerts.ReadingKind.forecast, file.name)
    assert created
    assert alerts.evaluate(session, "chuanyu", alerts.frame_of(session, issue)) == alerts.evaluate(
        session, "chuanyu", parsed.frame)  # fmt: skip


def test_the_table_file_ships_with_its_source() -> None:
    text = (ROOT / "inventories" / "aqi" / "hj633.toml").read_text(encoding="utf-8")
    assert "HJ 633-2012 表1" in text and "UNVERIFIED" in text
