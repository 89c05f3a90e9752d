"""The power-consumption check (耗电量核算, seed 004 四(二)5; DOMAIN.md §6): from meter readings to flags with their
evidence in numbers. Plain data in, plain data out: no Flask, no database (docs/power.md).

Inputs (pandas DataFrames; times are local wall-clock times, or aware times converted to Asia/Shanghai):

- ``readings``: meter_id, at (start of the interval), kwh — hourly, 15-minute or any finer readings;
- ``meters``: meter_id (registry_meter.id), enterprise_id, kind (production / control / total);
- ``periods``: the episode's alert periods per enterprise under response: enterprise_id, start, end, level;
- ``measures``: enterprise_id, level, measure (``stop`` / ``limit``; others set no ceiling), percent (limit);
- ``reports`` (optional): report_id, enterprise_id, kind (stoppage / maintenance / retrofit / power_cut), start,
  end — reported in advance: left out of the baseline, and a flag they cover is explained;
- ``staggered`` (optional): enterprise_id, start, end — staggered shutdowns, left out of the baseline;
- ``holidays``: dates left out of the baseline; ``as_of``: hours from then on are not checked yet.

`check` returns a `Result`: ``flags`` (one row per enterprise, meter where it concerns one, day and kind, with
status raised / explained, the explaining report, the evidence as a dict of numbers and the reason in words),
``days`` (the daily figures per enterprise under alert) and ``baselines`` (per meter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from app.power.domain import grid as g
from app.power.domain.factors import KINDS
from app.power.domain.thresholds import Thresholds
from app.power.vocabulary import reasons

PRODUCTION, CONTROL, TOTAL = (KINDS.index(k) for k in ("production", "control", "total"))
FLAG_COLUMNS = ["enterprise_id", "meter_id", "day", "kind", "status", "report_id", "evidence", "reason"]


@dataclass
class Result:
    flags: pd.DataFrame
    days: pd.DataFrame
    baselines: pd.DataFrame


def check(
    readings: pd.DataFrame, meters: pd.DataFrame, periods: pd.DataFrame, measures: pd.DataFrame,
    reports: pd.DataFrame | None = None, staggered: pd.DataFrame | None = None, holidays: Iterable[date] = (),
    thresholds: Thresholds | None = None, as_of: datetime | pd.Timestamp | None = None,
) -> Result:  # fmt: skip
    t = thresholds or Thresholds()
    periods = periods[periods["enterprise_id"].isin(meters["enterprise_id"])]
    if periods.empty:
        return Result(pd.DataFrame(columns=FLAG_COLUMNS), pd.DataFrame(), pd.DataFrame())
    first_day = g.hours_of(periods["start"]) // 24
    last_hour = int((g.hours_of(periods["end"] - pd.Timedelta(microseconds=1)) + 1).max())
    end_hour = last_hour if as_of is None else min(last_hour, int(g.hours_of(pd.Series([as_of]))[0]))
    day0 = int(first_day.min()) - t.baseline_days
    grid = g.build(readings, meters, day0, (max(end_hour, day0 * 24 + 1) - 1) // 24 + 1 - day0)
    e_count, hours = len(grid.enterprise_ids), grid.hours

    # --- the alert hours to check, per enterprise --------------------------------------------------------
    level = g.alert_levels(grid, periods)
    checked = level > 0
    for _, e, s, _end in g.spans(grid, periods):
        checked[e, s : s + t.grace_hours] = False
    checked[:, max(end_hour - day0 * 24, 0) :] = False
    alert_days = checked.reshape(e_count, grid.days, 24).any(axis=2)
    first = np.full(e_count, grid.days, dtype=np.int64)
    np.minimum.at(first, g.enterprise_index(grid, periods["enterprise_id"]), first_day - day0)

    # --- baseline: normal production days before the alert -----------------------------------------------
    day_index = np.arange(grid.days)
    window = (day_index[None, :] < first[:, None]) & (day_index[None, :] >= first[:, None] - t.baseline_days)
    excluded = g.mark_days(grid, reports) | g.mark_days(grid, staggered)
    for d in holidays:
        if 0 <= (n := g.day_number(d) - day0) < grid.days:
            excluded[:, n] = True
    if t.exclude_weekends:
        excluded |= ((day_index + day0 + 3) % 7 >= 5)[None, :]  # 1970-01-01 was a Thursday
    complete = grid.seen.sum(axis=2) >= 24 * t.min_coverage_percent / 100  # (M, days)
    normal = (window & ~excluded)[grid.meter_ent] & complete
    normal_days = normal.sum(axis=1)
    span = int(first.max()) if e_count else 0  # no baseline day lies after the last first alert day
    base = _median_over_days(grid.kwh[:, :span], normal[:, :span, None] & grid.seen[:, :span])  # (M, 24)
    base[normal_days < t.min_baseline_days] = np.nan

    # --- per enterprise: production (or total where none) and control ----------------------------------------
    has_prod = np.zeros(e_count, dtype=bool)
    has_prod[grid.meter_ent[grid.meter_kind == PRODUCTION]] = True
    prod_sel = (grid.meter_kind == PRODUCTION) | ((grid.meter_kind == TOTAL) & ~has_prod[grid.meter_ent])
    ctrl_sel = grid.meter_kind == CONTROL
    kwh_h = grid.kwh.reshape(len(grid.meter_ids), hours)
    seen_h = grid.seen.reshape(len(grid.meter_ids), hours).view(np.uint8)

    def sums(sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = np.bincount(grid.meter_ent[sel], minlength=e_count)
        return (g.per_enterprise(grid, kwh_h, sel), g.per_enterprise(grid, seen_h, sel) == n[:, None],
                np.tile(g.per_enterprise(grid, base, sel), grid.days), n)  # fmt: skip

    prod, prod_seen, prod_base, _ = sums(prod_sel)
    ctrl, ctrl_seen, ctrl_base, n_ctrl = sums(ctrl_sel)

    # --- the ceiling each hour: the measure at the level in force ---------------------------------------------
    share_by_level = np.full((e_count, 4), np.nan)
    ms = measures.assign(e=g.enterprise_index(grid, measures["enterprise_id"]),
                         rank=measures["level"].map(g.LEVEL_RANK)).dropna(subset=["rank"])  # fmt: skip
    ms = ms[ms["e"] >= 0]
    stop = (ms["measure"] == "stop").to_numpy()
    limit = (ms["measure"] == "limit").to_numpy()
    pct = pd.to_numeric(ms["percent"], errors="coerce").fillna(0).to_numpy(np.float64)
    limited = np.minimum(1.0, (100 - pct + t.limit_tolerance_percent) / 100)
    value = np.where(stop, t.standby_percent / 100, np.where(limit, limited, np.nan))
    keep = stop | limit
    share_by_level[ms["e"].to_numpy()[keep], ms["rank"].to_numpy(np.int64)[keep]] = value[keep]
    share = np.take_along_axis(share_by_level, level.astype(np.int64), axis=1)  # (E, hours)

    def daily(values: np.ndarray) -> np.ndarray:
        return values.reshape(e_count, grid.days, 24).sum(axis=2)

    c = checked
    p_kwh = daily(np.where(c, prod, 0.0))
    p_base = daily(np.where(c, prod_base, 0.0))
    ceiling_h = np.where(c & ~np.isnan(share), share * prod_base, 0.0)
    has_ceiling = daily((c & ~np.isnan(share)).astype(np.int64)) > 0
    ceiling = daily(ceiling_h)
    k_kwh = daily(np.where(c, ctrl, 0.0))
    k_base = daily(np.where(c, ctrl_base, 0.0))
    n_checked = daily(c.astype(np.int64))
    flags: list[pd.DataFrame] = []

    def add(kind: str, where: np.ndarray, evidence: dict[str, np.ndarray], meter: np.ndarray | None = None) -> None:
        rows, days = np.nonzero(where)
        if not len(rows):
            return
        ents = rows if meter is None else grid.meter_ent[rows]
        frame = pd.DataFrame({"enterprise_id": grid.enterprise_ids[ents],
                              "meter_id": pd.array(grid.meter_ids[rows] if meter is not None else [None] * len(rows),
                                                   dtype="Int64"),
                              "day": [grid.day_of(d) for d in days], "kind": kind})  # fmt: skip
        ev = pd.DataFrame({k: np.round(v[rows, days], 2) for k, v in evidence.items()})
        frame["evidence"] = ev.to_dict("records")
        flags.append(frame)

    with np.errstate(divide="ignore", invalid="ignore"):
        # production not reduced as required
        add("production_not_reduced", has_ceiling & (p_base > 0) & (p_kwh > ceiling),
            {"kwh": p_kwh, "baseline_kwh": p_base, "ceiling_kwh": ceiling, "percent_of_baseline": 100 * p_kwh / p_base,
             "allowed_percent": 100 * ceiling / p_base, "hours": n_checked})  # fmt: skip

        # control equipment off or far below while production runs; or the two moving in opposite directions
        p_ratio = prod / prod_base
        k_ratio = ctrl / ctrl_base
        running = c & prod_seen & (prod_base > 0) & (p_ratio >= t.running_percent / 100)
        off = running & ctrl_seen & (ctrl_base > 0) & (k_ratio < t.control_min_percent / 100 * p_ratio)
        off_hours = daily(off.astype(np.int64))
        off_ctrl = daily(np.where(off, ctrl, 0.0))
        off_base = daily(np.where(off, ctrl_base, 0.0))
        p_day, k_day = p_kwh / p_base, k_kwh / k_base
        margin = t.opposite_percent / 100
        opposite = (p_day - 1 > margin) & (k_day - 1 < -margin) & (k_base > 0)
        add("controls_off", (n_ctrl[:, None] > 0) & ((off_hours >= t.controls_off_min_hours) | opposite),
            {"hours_off": off_hours, "control_kwh_off": off_ctrl, "control_baseline_kwh_off": off_base,
             "production_percent": 100 * p_day, "control_percent": 100 * k_day})  # fmt: skip

        # a night-time pattern that hides production
        night = np.zeros(24, dtype=bool)
        night[list(t.night_hours())] = True
        night_h = np.tile(night, grid.days)[None, :]
        cs = c & prod_seen
        n_night, n_day = daily((cs & night_h).astype(np.int64)), daily((cs & ~night_h).astype(np.int64))
        night_mean = daily(np.where(cs & night_h, prod, 0.0)) / n_night
        day_mean = daily(np.where(cs & ~night_h, prod, 0.0)) / n_day
        pb = g.per_enterprise(grid, base, prod_sel)  # (E, 24)
        base_ratio = (pb[:, night].mean(axis=1) / pb[:, ~night].mean(axis=1))[:, None]
        base_mean = pb.mean(axis=1)[:, None]
        ratio = night_mean / day_mean
        add("night_pattern", (n_night > 0) & (n_day > 0) & (night_mean > t.night_ratio * day_mean)
            & (night_mean >= t.night_min_percent / 100 * base_mean) & (base_ratio <= t.night_ratio),
            {"night_mean_kwh": night_mean, "day_mean_kwh": day_mean, "ratio": ratio,
             "baseline_ratio": np.broadcast_to(base_ratio, ratio.shape),
             "threshold": np.full(ratio.shape, t.night_ratio)})  # fmt: skip

    # a meter silent, or its data incomplete, on the hours to check
    expected = daily(c.astype(np.int64))[grid.meter_ent]  # (M, days)
    got = (grid.seen & c.reshape(e_count, grid.days, 24)[grid.meter_ent]).sum(axis=2)
    last = _last_seen(grid)
    evidence = {"expected_hours": expected, "hours_received": got, "last_seen_hours_ago": last}
    add("meter_silent", (expected > 0) & (got == 0), evidence, meter=grid.meter_ids)
    add("data_incomplete", (expected > 0) & (got > 0) & (got < expected * t.min_coverage_percent / 100), evidence,
        meter=grid.meter_ids)  # fmt: skip

    # a meter without enough normal days for a baseline: flagged once, on the enterprise's first alert day
    nb = np.zeros((len(grid.meter_ids), grid.days), dtype=bool)
    no_base = (normal_days < t.min_baseline_days) & (first[grid.meter_ent] < grid.days)
    nb[np.nonzero(no_base)[0], first[grid.meter_ent][no_base]] = True
    add("no_baseline", nb, {"normal_days": np.broadcast_to(normal_days[:, None], nb.shape),
                            "needed_days": np.full(nb.shape, t.min_baseline_days)}, meter=grid.meter_ids)  # fmt: skip

    out = pd.concat(flags, ignore_index=True) if flags else pd.DataFrame(columns=[*FLAG_COLUMNS[:4], "evidence"])
    out = _explain(out, reports, t)
    out["reason"] = reasons(list(out["kind"]), list(out["evidence"]))
    out = out.sort_values(["enterprise_id", "day", "kind", "meter_id"], kind="stable", ignore_index=True)

    er, dr = np.nonzero(alert_days)
    days = pd.DataFrame({"enterprise_id": grid.enterprise_ids[er], "day": [grid.day_of(d) for d in dr],
                         "hours": n_checked[er, dr], "production_kwh": p_kwh[er, dr],
                         "production_baseline_kwh": p_base[er, dr],
                         "ceiling_kwh": np.where(has_ceiling, ceiling, np.nan)[er, dr],
                         "control_kwh": k_kwh[er, dr], "control_baseline_kwh": k_base[er, dr]})  # fmt: skip
    baselines = pd.DataFrame({"meter_id": grid.meter_ids, "enterprise_id": grid.enterprise_ids[grid.meter_ent],
                              "kind": np.array(KINDS)[grid.meter_kind], "normal_days": normal_days,
                              "daily_kwh": base.sum(axis=1)})  # fmt: skip
    return Result(out[FLAG_COLUMNS], days, baselines)


def checked_days(
    periods: pd.DataFrame, meters: pd.DataFrame, thresholds: Thresholds | None = None,
    as_of: datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The hours `check` judges per enterprise and day — `Result.days[["enterprise_id", "day", "hours"]]` —
    from the periods alone (no readings): the hours inside an alert period at a level, less `grace_hours` after
    each period's start and the hours from `as_of` on, of enterprises with meters. What the compliance screen
    counts as checked without running the check again (a test holds the two equal)."""
    t = thresholds or Thresholds()
    every = periods[periods["enterprise_id"].isin(meters["enterprise_id"])]
    limit = None if as_of is None else int(g.hours_of(pd.Series([as_of]))[0])

    def hours(frame: pd.DataFrame, grace: bool = False) -> pd.DataFrame:
        start = g.hours_of(frame["start"])
        end = g.hours_of(frame["end"] - pd.Timedelta(microseconds=1)) + 1
        if grace:  # as the check: the hours after the start, also past a period shorter than the grace
            end = start + t.grace_hours
        elif limit is not None:
            end = np.minimum(end, limit)
        runs = [np.arange(a, b) for a, b in zip(start, end, strict=True)]
        return pd.DataFrame({"enterprise_id": np.repeat(frame["enterprise_id"].to_numpy(), [len(r) for r in runs]),
                             "hour": np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)})  # fmt: skip

    frame = hours(every[every["level"].map(g.LEVEL_RANK).fillna(0) > 0]).drop_duplicates()
    if t.grace_hours and len(frame):  # the first hours after each period's start, whichever period covers them
        spared = hours(every, grace=True).drop_duplicates()
        frame = frame.merge(spared, how="left", indicator=True)
        frame = frame[frame["_merge"] == "left_only"].drop(columns="_merge")
    out = frame.assign(day=frame["hour"] // 24).groupby(["enterprise_id", "day"]).size().rename("hours").reset_index()
    epoch = date(1970, 1, 1).toordinal()
    out["day"] = [date.fromordinal(epoch + int(d)) for d in out["day"]]
    return out.astype({"enterprise_id": np.int64, "hours": np.int64})


def _median_over_days(kwh: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(M, 24): per meter and hour of the day, the median over the days where `use` holds (NaN: no such day).

    Sorting each meter-hour's days (unused ones as +inf, so they sort last) and taking the middle of the used
    ones: the same as `np.nanmedian`, without its masked-array path for short axes."""
    m, days = kwh.shape[0], kwh.shape[1]
    if days == 0:
        return np.full((m, 24), np.nan)
    values = np.where(use, kwh, np.inf).transpose(0, 2, 1)  # (M, 24, days)
    values.sort(axis=2)
    n = use.sum(axis=1)  # (M, 24)
    lo = np.take_along_axis(values, np.maximum((n - 1) // 2, 0)[:, :, None], axis=2)[:, :, 0]
    hi = np.take_along_axis(values, np.maximum(n // 2, 0)[:, :, None], axis=2)[:, :, 0]
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, (lo + hi) / 2, np.nan)


def _last_seen(grid: g.Grid) -> np.ndarray:
    """(M, days): hours from the end of each day back to the meter's last reading (NaN: none yet)."""
    any_day = grid.seen.any(axis=2)
    last_in_day = 23 - np.argmax(grid.seen[:, :, ::-1], axis=2)
    idx = np.where(any_day, np.arange(grid.days)[None, :] * 24 + last_in_day, -1)
    last = np.maximum.accumulate(idx, axis=1)
    end = (np.arange(grid.days) + 1) * 24 - 1
    return np.where(last >= 0, end[None, :] - last, np.nan).astype(np.float64)


def _explain(flags: pd.DataFrame, reports: pd.DataFrame | None, t: Thresholds) -> pd.DataFrame:
    """A flag covered by a report made in advance, of a kind that explains it, is explained, not raised."""
    flags = flags.assign(status="raised", report_id=pd.array([None] * len(flags), dtype="Int64"))
    if reports is None or reports.empty or flags.empty:
        return flags
    pairs = [(k, f) for k, kinds in t.explains.items() for f in kinds]
    explains = pd.DataFrame(pairs, columns=["report_kind", "kind"])
    r = reports.rename(columns={"kind": "report_kind"})[["report_id", "enterprise_id", "report_kind", "start", "end"]]
    r = r.merge(explains, on="report_kind")
    f = flags.drop(columns=["report_id"]).reset_index().merge(r, on=["enterprise_id", "kind"])
    day_start = pd.to_datetime(f["day"])
    start, end = pd.to_datetime(f["start"]), pd.to_datetime(f["end"])
    if getattr(start.dt, "tz", None) is not None:
        start, end = (x.dt.tz_convert(g.LOCAL_TZ).dt.tz_localize(None) for x in (start, end))
    f = f[(start < day_start + pd.Timedelta(days=1)) & (end > day_start)]
    first = f.sort_values("report_id").drop_duplicates("index").set_index("index")["report_id"]
    flags.loc[first.index, "status"] = "explained"
    flags.loc[first.index, "report_id"] = first.astype("Int64")
    return flags
