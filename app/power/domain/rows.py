"""Readings in: CSV / Excel / JSON rows of the grid company or an office (meter number, time, kWh or power) and
HJ 212 data packets, all to one batch of rows (registry meter id, time, kWh). Plain pandas, no Flask, no database.

A batch with any bad row is refused whole: each problem names the line and the column (in Chinese, through
gettext, so a reader in another language reads it in theirs), unknown meters are named, and two rows of one
meter and time in a batch are a problem (the store keeps one value per meter and time; a batch sent again is
stored once). Columns, with their Chinese headers accepted as well:

    meter (电表编号), at (时间: the start of the interval, local time), kwh (用电量, kWh of the interval)
    or kw (功率, mean power over the interval) with interval_minutes (间隔分钟, default 60).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext

from app.core import tables
from app.core.errors import ProblemsError
from app.power.domain.factors import Factor
from app.power.domain.hj212 import FrameError, Packet
from app.power.domain.packets import readings_of

MAX_PROBLEMS = 50
MAX_KWH = 1e8  # one meter's interval: a figure above this is a typing error, not a plant
ALIASES = {
    "meter": ("meter", "meter_number", "meter_no", "电表编号", "电表号", "电表"),
    "at": ("at", "time", "时间", "采集时间", "数据时间"),
    "kwh": ("kwh", "energy", "用电量", "用电量(千瓦时)", "用电量（千瓦时）", "电量"),
    "kw": ("kw", "power", "功率", "功率(千瓦)", "功率（千瓦）"),
    "interval_minutes": ("interval_minutes", "间隔分钟", "间隔(分钟)", "间隔（分钟）"),
}
LABELS = {"meter": "电表编号", "at": "时间", "kwh": "用电量", "kw": "功率", "interval_minutes": "间隔分钟"}


class RowsError(ProblemsError):
    pass


@dataclass(frozen=True)
class Batch:
    frame: pd.DataFrame  # meter_id (registry_meter.id), at (local, naive), kwh — sorted by meter and time
    digest: str  # sha256 of the rows: the same rows give the same digest (an Idempotency-Key's body check)

    def __len__(self) -> int:
        return len(self.frame)


def read_table(name: str, content: bytes) -> tuple[pd.DataFrame, int]:
    """The raw table of a file (all text) and the line number of its first data row."""
    try:
        return tables.read_table(name, content, json_key="readings")
    except tables.TableError as e:
        raise RowsError([_table_message(name, e)]) from e


def json_table(name: str, items: Any) -> pd.DataFrame:
    """The bulk API's body (a list of objects, or {"readings": [...]}) as a table of text."""
    try:
        return tables.json_table(items)
    except tables.TableError as e:
        raise RowsError([_table_message(name, e)]) from e


def _table_message(name: str, e: tables.TableError) -> str:
    if e.kind == "encoding":
        return gettext("%(name)s：无法识别文件编码（请用 UTF-8）", name=name)
    if e.kind == "not_csv":
        return gettext("%(name)s：不是有效的 CSV", name=name)
    if e.kind == "not_objects":
        return gettext('%(name)s：应为对象数组，或 {"readings": [...]}', name=name)
    return gettext("%(name)s：无法读取（%(error)s）", name=name, error=e.detail)


def parse(name: str, content: bytes, meters: Mapping[str, int]) -> Batch:
    raw, first_line = read_table(name, content)
    return parse_table(name, raw, first_line, meters)


def parse_table(name: str, raw: pd.DataFrame, first_line: int, meters: Mapping[str, int]) -> Batch:
    """Check every row of a raw table against the registered meters (meter number → registry_meter.id)."""
    problems: list[str] = []
    columns = _columns(raw)
    for key in ("meter", "at"):
        if key not in columns:
            problems.append(gettext("%(name)s：缺少「%(column)s」列", name=name, column=LABELS[key]))
    if "kwh" not in columns and "kw" not in columns:
        problems.append(gettext("%(name)s：须有「用电量」或「功率」列", name=name))
    if problems:
        raise RowsError(problems)
    line = np.arange(len(raw)) + first_line
    text = {k: raw[c].astype(str).str.strip() for k, c in columns.items()}
    order = list(LABELS)
    found: list[tuple[int, int, str]] = []  # (line, column, problem): told in the order of the file

    def bad(mask: np.ndarray | pd.Series, key: str, message: str) -> None:
        for n in np.nonzero(np.asarray(mask))[0][:MAX_PROBLEMS]:
            where = gettext("%(name)s 第%(line)s行「%(column)s」列：", name=name, line=line[n], column=LABELS[key])
            found.append((int(line[n]), order.index(key), where + message % {"value": text[key].iloc[n]}))

    numbers = text["meter"]
    meter_id = numbers.map(meters)
    bad(numbers == "", "meter", gettext("不能为空"))
    unknown = (numbers != "") & meter_id.isna()
    bad(unknown, "meter", gettext("未登记的电表「%(value)s」"))
    at = _times(text["at"])
    bad(at.isna(), "at", gettext("无法识别的时间「%(value)s」（应为 2026-12-01 08:00）"))
    if "kwh" in columns:
        kwh = pd.to_numeric(text["kwh"], errors="coerce")
        value_key = "kwh"
    else:
        interval = pd.Series(60.0, index=raw.index)
        if "interval_minutes" in columns:
            interval = pd.to_numeric(text["interval_minutes"].replace("", "60"), errors="coerce")
            wrong = ~(interval > 0) | ~(interval <= 1440)
            bad(wrong, "interval_minutes", gettext("应为 1–1440 分钟，不是「%(value)s」"))
        kwh = pd.to_numeric(text["kw"], errors="coerce") * interval / 60
        value_key = "kw"
    bad(kwh.isna() | ~np.isfinite(kwh.fillna(0)), value_key, gettext("应为数字，不是「%(value)s」"))
    bad((kwh < 0) | (kwh > MAX_KWH), value_key, gettext("应在 0 到 1 亿之间，不是「%(value)s」"))
    frame = pd.DataFrame({"meter_id": meter_id, "at": at, "kwh": kwh, "line": line, "number": numbers})
    good = frame.dropna(subset=["meter_id", "at", "kwh"])
    again = good[good.duplicated(["meter_id", "at"], keep=False)]
    if not again.empty:
        first = again.groupby(["meter_id", "at"])["line"].transform("min")
        for row, first_line_of in zip(again.itertuples(), first, strict=True):
            if row.line != first_line_of:
                found.append((int(row.line), len(order), gettext(
                    "%(name)s 第%(line)s行：与第%(first)s行重复（电表「%(meter)s」，%(at)s）", name=name, line=row.line,
                    first=first_line_of, meter=row.number, at=row.at.strftime("%Y-%m-%d %H:%M"))))  # fmt: skip
    problems = [p for _, _, p in sorted(found)][:MAX_PROBLEMS]
    if unknown.any():
        names = sorted(set(numbers[unknown]))
        listed = "、".join(names[:20]) + ("……" if len(names) > 20 else "")
        problems.append(gettext("%(name)s：未登记的电表 %(count)s 块：%(meters)s", name=name, count=len(names),
                                meters=listed))  # fmt: skip
    if problems:
        raise RowsError(problems)
    return _batch(good.drop(columns=["line", "number"]))


def rows_of_packets(packets: Iterable[Packet], devices: Mapping[str, Mapping[str, int]],
                    factors: Mapping[str, Factor]) -> Batch:  # fmt: skip
    """The readings of HJ 212 data packets as one batch. ``devices`` maps a device's MN to its factor codes'
    meters. A packet resent with the same values is one row; a packet of an unknown device, or one naming a
    factor no meter has, refuses the batch naming it."""
    problems: list[str] = []
    rows: list[tuple[int, Any, float]] = []
    for n, packet in enumerate(packets, start=1):
        if packet.mn not in devices:
            problems.append(gettext("第%(n)s个数据包：未登记的设备 %(mn)s", n=n, mn=packet.mn))
            continue
        try:
            rows.extend((r.meter_id, r.at, r.kwh) for r in readings_of(packet, dict(devices[packet.mn]), dict(factors)))
        except FrameError as e:
            problems.append(gettext("第%(n)s个数据包：%(error)s", n=n, error=str(e)))
    frame = pd.DataFrame(rows, columns=["meter_id", "at", "kwh"])
    same = frame.drop_duplicates()
    clash = same[same.duplicated(["meter_id", "at"], keep=False)]
    for (meter, at), _ in clash.groupby(["meter_id", "at"]):
        problems.append(
            gettext("电表 %(meter)s 在 %(at)s 有两个不同的值", meter=meter, at=at.strftime("%Y-%m-%d %H:%M"))
        )
    if problems:
        raise RowsError(problems[:MAX_PROBLEMS])
    return _batch(same)


def _columns(raw: pd.DataFrame) -> dict[str, str]:
    found: dict[str, str] = {}
    for column in raw.columns:
        key = str(column).strip().lower().replace(" ", "")
        for name, aliases in ALIASES.items():
            if key in aliases and name not in found:
                found[name] = column
    return found


def _times(text: pd.Series) -> pd.Series:
    """Local times: `2026-12-01 08:00[:00]`, `2026/12/01 08:00`, ISO with an offset (converted to local time),
    or HJ 212's `20261201080000`."""
    compact = text.str.fullmatch(r"\d{14}")
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if compact.any():
        out[compact] = pd.to_datetime(text[compact], format="%Y%m%d%H%M%S", errors="coerce")
    rest = ~compact & (text != "")
    if rest.any():
        parsed = pd.to_datetime(text[rest].str.replace("/", "-"), errors="coerce", format="mixed", utc=True)
        aware = text[rest].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
        local = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        naive = parsed.dt.tz_localize(None)
        out[rest] = local.where(aware, naive)
    return out


def _batch(frame: pd.DataFrame) -> Batch:
    frame = frame.astype({"meter_id": np.int64, "kwh": np.float64})
    frame = frame.sort_values(["meter_id", "at"], ignore_index=True)[["meter_id", "at", "kwh"]]
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    return Batch(frame, digest)
