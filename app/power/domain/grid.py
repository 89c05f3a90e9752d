"""Readings and periods laid on a dense grid of meters × days × hours (local wall-clock time), the shape the check
computes on: one `bincount` puts any number of readings in their hours, and every figure after that is an array
operation whose cost grows with the readings and the hours, never with a loop over enterprises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from app.plans.schema import LEVEL_RANK
from app.power.domain.factors import KINDS

LOCAL_TZ = "Asia/Shanghai"


PER_HOUR = {"s": 3_600, "ms": 3_600_000, "us": 3_600_000_000, "ns": 3_600_000_000_000}


def hours_of(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Whole hours since 1970-01-01 00:00 local time (floored); an aware time is converted to local time.
    NaT gives a very negative number (outside any grid)."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    arr = s.to_numpy()
    unit = np.datetime_data(arr.dtype)[0]
    if unit not in PER_HOUR:
        arr, unit = arr.astype("datetime64[s]"), "s"
    return arr.view(np.int64) // PER_HOUR[unit]


def day_number(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


@dataclass
class Grid:
    """The meters (rows, sorted by enterprise) and the hours from `day0` for `days` days."""

    meter_ids: np.ndarray  # (M,) registry meter ids
    meter_kind: np.ndarray  # (M,) index into KINDS
    meter_ent: np.ndarray  # (M,) index into enterprise_ids
    enterprise_ids: np.ndarray  # (E,)
    day0: int  # day number of the first day
    days: int
    kwh: np.ndarray  # (M, days, 24) energy of the hour, 0 where nothing arrived
    seen: np.ndarray  # (M, days, 24) whether any reading arrived for the hour

    @property
    def hours(self) -> int:
        return self.days * 24

    def day_of(self, index: int) -> date:
        return date(1970, 1, 1) + timedelta(days=int(self.day0 + index))


def build(readings: pd.DataFrame, meters: pd.DataFrame, day0: int, days: int) -> Grid:
    """Sum readings (meter_id, at, kwh) per meter and hour; readings of meters not in `meters` or outside the
    days are left out (the parsers name unknown meters before anything reaches the check)."""
    meters = meters.sort_values(["enterprise_id", "meter_id"], kind="stable").reset_index(drop=True)
    ent_ids, meter_ent = np.unique(meters["enterprise_id"].to_numpy(), return_inverse=True)
    kind_index = {k: n for n, k in enumerate(KINDS)}
    meter_kind = meters["kind"].map(kind_index)
    if meter_kind.isna().any():
        bad = sorted(set(meters.loc[meter_kind.isna(), "kind"].astype(str)))
        raise ValueError(f"电表种类须为 {'/'.join(KINDS)}，不是 {'、'.join(bad)}")
    meter_ids = meters["meter_id"].to_numpy(np.int64)
    m, h = len(meter_ids), days * 24
    # in place where it can be: at 20 M readings each temporary array is 160 MB of fresh pages
    key = pd.Index(meter_ids).get_indexer(readings["meter_id"].to_numpy()).astype(np.int64, copy=False)
    hour = hours_of(readings["at"])
    hour -= day0 * 24
    keep = key >= 0
    keep &= hour >= 0
    keep &= hour < h
    key *= h
    key += hour
    del hour
    weights = readings["kwh"].to_numpy(np.float64)
    if not keep.all():
        key, weights = key[keep], weights[keep]
    kwh = np.bincount(key, weights=weights, minlength=m * h)
    seen = np.zeros(m * h, dtype=bool)
    seen[key] = True
    return Grid(meter_ids, meter_kind.to_numpy(np.int64), meter_ent.astype(np.int64), ent_ids, day0, days,
                kwh.reshape(m, days, 24), seen.reshape(m, days, 24))  # fmt: skip


def enterprise_index(grid: Grid, enterprise_ids: Iterable) -> np.ndarray:
    return pd.Index(grid.enterprise_ids).get_indexer(list(enterprise_ids))


def spans(grid: Grid, frame: pd.DataFrame | None) -> list[tuple[int, int, int, int]]:
    """(row, enterprise index, first hour, end hour) of each period of `frame` (enterprise_id, start, end) on
    the grid, clipped to it; periods of enterprises without meters are left out."""
    if frame is None or frame.empty:
        return []
    ent = enterprise_index(grid, frame["enterprise_id"])
    start = np.clip(hours_of(frame["start"]) - grid.day0 * 24, 0, grid.hours)
    end = np.clip(hours_of(frame["end"] - pd.Timedelta(microseconds=1)) + 1 - grid.day0 * 24, 0, grid.hours)
    return [(n, int(e), int(s), int(t)) for n, (e, s, t) in enumerate(zip(ent, start, end, strict=True)) if e >= 0]


def mark_days(grid: Grid, frame: pd.DataFrame | None) -> np.ndarray:
    """(E, days): the days each enterprise's periods touch."""
    out = np.zeros((len(grid.enterprise_ids), grid.days), dtype=bool)
    for _, e, s, t in spans(grid, frame):
        if t > s:
            out[e, s // 24 : (t - 1) // 24 + 1] = True
    return out


def alert_levels(grid: Grid, periods: pd.DataFrame) -> np.ndarray:
    """(E, hours): the highest level in force each hour (0 none, 1 yellow … 3 red)."""
    out = np.zeros((len(grid.enterprise_ids), grid.hours), dtype=np.int8)
    ranks = periods["level"].map(LEVEL_RANK).fillna(0).to_numpy(np.int8)
    for n, e, s, t in spans(grid, periods):
        np.maximum(out[e, s:t], ranks[n], out=out[e, s:t])
    return out


def per_enterprise(grid: Grid, values: np.ndarray, meters: np.ndarray) -> np.ndarray:
    """Sum of `values` (M, ...) over the selected meters per enterprise: (E, ...). The meters are sorted by
    enterprise, so each enterprise's selected rows are one run summed by `reduceat`."""
    dtype = np.int32 if values.dtype.kind in "bu" else values.dtype
    out = np.zeros((len(grid.enterprise_ids), *values.shape[1:]), dtype=dtype)
    rows = np.nonzero(meters)[0]
    if not len(rows):
        return out
    ents = grid.meter_ent[rows]
    starts = np.r_[0, np.nonzero(np.diff(ents))[0] + 1]
    out[ents[starts]] = np.add.reduceat(values[rows], starts, axis=0, dtype=dtype)
    return out
