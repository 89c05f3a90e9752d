"""Forecast and observation files: CSV, Excel or JSON, per member unit (division code) and day or hour.

The plainest form is a CSV with the header `unit,date,aqi`; every other form extends it with `time` in place
of `date` (hourly values, local time), `aqi_min,aqi_max` (a range), `pm25` (a concentration in μg/m³, turned
into an AQI by HJ 633), `primary_pollutant` and `dust`. A file with any bad row is refused whole: each problem
names the line and the column. Plain Python and pandas, no Flask, no database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from app.alerts.domain import aqi
from app.core import tables
from app.core.errors import ProblemsError

COLUMNS = ("unit", "date", "time", "aqi", "aqi_min", "aqi_max", "pm25", "primary_pollutant", "dust")
POLLUTANTS = {"PM2.5": "PM2.5", "PM25": "PM2.5", "PM10": "PM10", "O3": "O3", "O3_8H": "O3", "NO2": "NO2",
              "SO2": "SO2", "CO": "CO"}  # fmt: skip
TRUE = {"1", "true", "yes", "y", "是", "有"}
FALSE = {"", "0", "false", "no", "n", "否", "无"}
MAX_PROBLEMS = 50


class ReadingsError(ProblemsError):
    pass


@dataclass(frozen=True)
class Readings:
    frame: pd.DataFrame  # unit, start, hours, aqi, aqi_min, aqi_max, pm25, aqi_pm25, aqi_table, primary_pollutant, dust
    resolution: str  # day | hour
    digest: str
    notes: tuple[str, ...] = ()


def read_table(name: str, content: bytes) -> tuple[pd.DataFrame, int]:
    """The raw table of a file (all text) and the line number of its first data row."""
    try:
        return tables.read_table(name, content, json_key="values")
    except tables.TableError as e:
        message = {
            "encoding": f"{name}：无法识别文件编码（请用 UTF-8）",
            "not_csv": f"{name}：不是有效的 CSV（{e.detail}）",
            "not_objects": f'{name}：应为对象数组，或 {{"values": [...]}}',
        }.get(e.kind, f"{name}：无法读取（{e.detail}）")
        raise ReadingsError([message]) from e


def parse(name: str, content: bytes, units: set[str] | None = None,
          tables: tuple[aqi.Table, ...] | None = None) -> Readings:  # fmt: skip
    raw, first_line = read_table(name, content)
    return parse_frame(name, raw, first_line, units, tables)


def parse_frame(name: str, raw: pd.DataFrame, first_line: int = 2, units: set[str] | None = None,
                tables: tuple[aqi.Table, ...] | None = None) -> Readings:  # fmt: skip
    raw = raw.rename(columns=lambda c: str(c).strip().lower())
    problems: list[str] = []
    is_json = first_line == 1
    where_item = "第{n}项" if is_json else "第{n}行"

    def at(i: int, column: str, message: str) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(f"{name} {where_item.format(n=i + first_line)} {column} 列：{message}")

    columns = list(raw.columns)
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        problems.append(f"{name}：未知的列 {', '.join(unknown)}（可用：{', '.join(COLUMNS)}）")
    if "unit" not in columns:
        problems.append(f"{name}：缺少 unit 列（行政区划代码）")
    if ("date" in columns) == ("time" in columns):
        problems.append(f"{name}：需要 date 列（日值）或 time 列（小时值），二者选一")
    if not ({"aqi", "pm25"} & set(columns)) and not {"aqi_min", "aqi_max"} <= set(columns):
        problems.append(f"{name}：需要 aqi、aqi_min 与 aqi_max，或 pm25 列")
    if ("aqi_min" in columns) != ("aqi_max" in columns):
        problems.append(f"{name}：aqi_min 与 aqi_max 须同时给出")
    if problems:
        raise ReadingsError(problems)
    if raw.empty:
        raise ReadingsError([f"{name}：没有数据行"])
    text = raw.astype(str).apply(lambda s: s.str.strip())
    n = len(text)

    unit = text["unit"]
    bad = (unit == "") | ~unit.str.fullmatch(r"[0-9A-Za-z]{6}")
    if units is not None:
        bad |= ~unit.isin(units)
    for i in np.flatnonzero(bad.to_numpy()):
        at(int(i), "unit", f"“{unit.iat[i]}”不是本预案的成员单位代码" if unit.iat[i] else "不能为空")

    hourly = "time" in columns
    when_col = "time" if hourly else "date"
    when_text = text[when_col].str.replace("T", " ", regex=False)
    fmt = None if hourly else "%Y-%m-%d"
    start = pd.to_datetime(when_text, format=fmt, errors="coerce") if not hourly else pd.to_datetime(
        when_text, format="%Y-%m-%d %H:%M", errors="coerce")  # fmt: skip
    if hourly:
        retry = start.isna()
        if retry.any():
            start[retry] = pd.to_datetime(when_text[retry], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    bad_when = start.isna().to_numpy().copy()
    if hourly:
        bad_when |= ~(start.dt.minute.fillna(0) == 0).to_numpy()
    for i in np.flatnonzero(bad_when):
        shape = "YYYY-MM-DD HH:00（当地时间，整点）" if hourly else "YYYY-MM-DD"
        at(int(i), when_col, f"“{when_text.iat[i]}”不是 {shape}")

    def numbers(column: str, low: float, high: float, whole: bool) -> np.ndarray:
        if column not in columns:
            return np.full(n, np.nan)
        s = text[column]
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        given = (s != "").to_numpy()
        wrong = given & (np.isnan(v) | (v < low) | (v > high) | ((v != np.round(v)) if whole else False))
        kind = "整数" if whole else "数值"
        for i in np.flatnonzero(wrong):
            at(int(i), column, f"“{s.iat[i]}”应为 {low:g}–{high:g} 的{kind}")
        return np.where(given & ~wrong, v, np.nan)

    value = numbers("aqi", 0, 500, True)
    low = numbers("aqi_min", 0, 500, True)
    high = numbers("aqi_max", 0, 500, True)
    pm25 = numbers("pm25", 0, 2000, False)
    for i in np.flatnonzero(~np.isnan(low) & ~np.isnan(high) & (low > high)):
        at(int(i), "aqi_min", f"下限 {low[i]:g} 大于上限 {high[i]:g}")
    for i in np.flatnonzero(np.isnan(low) != np.isnan(high)):
        at(int(i), "aqi_max" if np.isnan(high[i]) else "aqi_min", "范围须同时给出上限和下限")
    empty = np.isnan(value) & np.isnan(high) & np.isnan(pm25)
    for i in np.flatnonzero(empty & ~bad.to_numpy() & ~bad_when):
        if not any(str(text[c].iat[i]) for c in ("aqi", "aqi_min", "aqi_max", "pm25") if c in columns):
            at(int(i), "aqi", "没有数值（aqi、aqi_min/aqi_max 或 pm25）")

    pollutant = pd.Series([""] * n, dtype=object)
    if "primary_pollutant" in columns:
        key = text["primary_pollutant"].str.upper().str.replace("₂", "2").str.replace("₅", "5").str.replace("₃", "3")
        pollutant = key.map(lambda k: POLLUTANTS.get(k, "?" if k else ""))
        for i in np.flatnonzero((pollutant == "?").to_numpy()):
            at(
                int(i),
                "primary_pollutant",
                f"“{text['primary_pollutant'].iat[i]}”不是 {', '.join(sorted(set(POLLUTANTS.values())))} 之一",
            )
    dust = np.zeros(n, dtype=bool)
    if "dust" in columns:
        flag = text["dust"].str.lower()
        dust = flag.isin(TRUE).to_numpy()
        for i in np.flatnonzero(~(flag.isin(TRUE) | flag.isin(FALSE)).to_numpy()):
            at(int(i), "dust", f"“{text['dust'].iat[i]}”应为 是/否（true/false）")

    frame = pd.DataFrame({"unit": unit.to_numpy(), "start": start.to_numpy()})
    dup = frame.duplicated(["unit", "start"], keep="first").to_numpy() & ~bad_when
    for i in np.flatnonzero(dup):
        at(int(i), when_col, f"{unit.iat[i]} 的 {when_text.iat[i]} 重复出现")
    if problems:
        problems.sort(key=_line_number)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"{name}：问题过多，仅列出前 {MAX_PROBLEMS} 条")
        raise ReadingsError(problems)

    aqi_pm25 = np.full(n, np.nan)
    table_label = np.full(n, None, dtype=object)
    notes: list[str] = []
    if (~np.isnan(pm25)).any():
        tables = tables or aqi.load()
        days = start.dt.date.to_numpy()
        for t in tables:
            mask = ~np.isnan(pm25) & np.array([(t.starts is None or d >= t.starts) and (t.until is None or d < t.until)
                                               for d in days])  # fmt: skip
            if mask.any():
                aqi_pm25[mask] = aqi.iaqi(t, pm25[mask])
                table_label[mask] = t.label
                if not t.verified:
                    notes.append(f"{int(mask.sum())} 个 PM2.5 浓度按 {t.code} 换算，该表分级限值未核实：{t.note}")
        missing = ~np.isnan(pm25) & np.isnan(aqi_pm25)
        if missing.any():
            day: date = days[np.flatnonzero(missing)[0]]
            raise ReadingsError([f"{name}：没有适用于 {day.isoformat()} 的 HJ 633 分级限值表"])
    frame = pd.DataFrame({
        "unit": unit.to_numpy(dtype=object), "start": start.to_numpy(), "hours": 1 if hourly else 24,
        "aqi": value, "aqi_min": low, "aqi_max": high, "pm25": pm25, "aqi_pm25": aqi_pm25, "aqi_table": table_label,
        "primary_pollutant": pollutant.replace("", None).to_numpy(dtype=object), "dust": dust,
    })  # fmt: skip
    return Readings(frame, "hour" if hourly else "day", digest(frame), tuple(notes))


def _line_number(problem: str) -> int:
    m = re.search(r" 第(\d+)[行项] ", problem)
    return int(m.group(1)) if m else 0


def digest(frame: pd.DataFrame) -> str:
    """sha256 of the values in a canonical order: the same forecast posted twice, in any row order, is one."""
    canon = frame.sort_values(["unit", "start"], kind="stable")[
        ["unit", "start", "hours", "aqi", "aqi_min", "aqi_max", "pm25", "primary_pollutant", "dust"]
    ]
    text = canon.to_csv(index=False, date_format="%Y-%m-%dT%H:%M", na_rep="")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
