"""Forecasts + a plan's rules + adjacency → each unit's level, regional activations, episodes and proposals.

Plain Python and numpy over data: no Flask, no database. Every result carries its reason in words (which unit,
which days or hours, which threshold, which connected group). The rules (DOMAIN.md §2–§3):

- a *run* is a maximal stretch of consecutive steps whose daily AQI is above the plan's lowest threshold; its
  level comes from the longest streak above each threshold inside it (each level only when no higher one
  holds); every step of the run carries the run's level. With daily values a step is a day (a streak of n days
  lasts 24·n hours). With hourly values and `daily_aqi = "rolling_24h"` (Kashgar) a step is a 24-hour window
  starting at each hour, and "above x for 24·m hours" means m windows 24 hours apart (w, w+24, …) all above x,
  as m consecutive days would be, from any hour; each hour carries the highest level of the runs covering it.
  With hourly values and `calendar_day`, hours are averaged per local day.
- the regional trigger per step and level L over the units whose own level is L or higher:
  `connected_group`: a connected group of ≥ within_zone inside one zone (through that zone's units) triggers
  the zone; a group of ≥ across_zones spanning two or more zones triggers every zone it touches.
  `contiguous_mean`: a connected set of ≥ min_units whose mean AQI meets L triggers the zone.
  `any_unit`: any member unit at L triggers its zone.
  Every member of a triggered zone gets the zone's level, or its own when that is higher.
- a higher authority's regional alert sets a floor under every member's level for its period.
- stretches at a level L separated by less than the merge gap count as one (the gap takes level L).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.places.graph import neighbours
from app.plans.schema import LEVELS, AlertRules

LEVEL_NAMES = {"yellow": "黄色", "orange": "橙色", "red": "红色"}
DECIDES_NAMES = {"upper": "取预报范围上限", "lower": "取预报范围下限", "middle": "取预报范围中值"}
RANK = {name: n for n, name in enumerate(LEVELS, start=1)}


@dataclass(frozen=True)
class Geography:
    zones: dict[str, tuple[str, ...]]  # zone code → member unit codes (plan order)
    edges: frozenset[tuple[str, str]]
    names: dict[str, str] = field(default_factory=dict)  # unit code → short name
    zone_names: dict[str, str] = field(default_factory=dict)

    def name(self, code: str) -> str:
        return self.names.get(code, code)


@dataclass(frozen=True)
class Floor:
    """A higher authority's regional alert: no member below `level` from `start` to `end` (local time)."""

    level: str
    start: datetime
    end: datetime
    authority: str = ""


# --- the value that decides ---------------------------------------------------------------------------------


def decided(frame: pd.DataFrame, rules: AlertRules) -> np.ndarray:
    """The AQI each row counts with: the plan's bound of a range, else the value, else the one from PM2.5;
    NaN where a value the plan excludes (dust, ozone, a pollutant other than the plan's)."""
    n = len(frame)
    value = _column(frame, "aqi", n)
    low, high = _column(frame, "aqi_min", n), _column(frame, "aqi_max", n)
    ranged = {"upper": high, "lower": low, "middle": (low + high) / 2}[rules.decides]
    value = np.where(np.isnan(ranged), value, ranged)
    value = np.where(np.isnan(value), _column(frame, "aqi_pm25", n), value)
    return np.where(excluded(frame, rules), np.nan, value)


def excluded(frame: pd.DataFrame, rules: AlertRules) -> np.ndarray:
    n = len(frame)
    out = np.zeros(n, dtype=bool)
    if rules.dust == "excluded" and "dust" in frame:
        out |= frame["dust"].fillna(False).to_numpy(dtype=bool)
    if "primary_pollutant" in frame and frame["primary_pollutant"].notna().any():
        given = frame["primary_pollutant"]
        names = {v: _pollutant(v) for v in pd.unique(given.dropna())}  # a handful of distinct names
        mapped = given.map(names).to_numpy(dtype=object)
        pollutant = np.where(pd.isna(mapped), "", mapped)
        if rules.ozone != "counted":
            out |= pollutant == "O3"
        if rules.pollutant == "PM2.5":
            out |= (pollutant != "") & (pollutant != "PM25")
    return out


def _pollutant(name: object) -> str:
    key = str(name).upper().replace(".", "").replace("_8H", "").replace("8H", "")
    return key if key not in ("", "NONE", "NAN") else ""


def _column(frame: pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in frame:
        return np.full(n, np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


# --- the grid: units × steps --------------------------------------------------------------------------------


@dataclass
class Grid:
    units: list[str]
    times: list[datetime]  # start of each step (local)
    step_hours: int  # 24 (days) or 1 (hours)
    values: np.ndarray  # units × steps, NaN = missing or excluded
    windows: bool = False  # rolling 24-hour windows: values[:, w] is the mean of hours w .. w+23

    def end_of(self, step: int) -> datetime:
        return self.times[0] + timedelta(hours=self.step_hours * (step + 1))


def grid(frame: pd.DataFrame, rules: AlertRules, units: Sequence[str] | None = None, *, others: bool = False) -> Grid:
    """The values as units × steps: the rows are `units` (all of the file's, sorted, when None), followed by the
    file's other units, sorted, when `others`."""
    value = decided(frame, rules)
    hours = frame["hours"].to_numpy(dtype=int) if "hours" in frame else np.full(len(frame), 24)
    hourly = bool(len(frame)) and bool((hours == 1).any())
    codes, distinct = unit_codes(frame)
    known = list(dict.fromkeys(units)) if units is not None else sorted(distinct)
    if units is not None and others:
        known += sorted(set(distinct) - set(known))
    rows = _rows_of(codes, distinct, known)
    starts = pd.to_datetime(frame["start"]).to_numpy()
    if hourly and rules.daily_aqi == "calendar_day":
        return _daily_means(known, rows, starts, value)
    step = np.timedelta64(1, "h") if hourly else np.timedelta64(24, "h")
    if len(starts) == 0:
        return Grid(known, [], 1 if hourly else 24, np.full((len(known), 0), np.nan))
    first, last = starts.min(), starts.max()
    if not hourly:
        first = first.astype("datetime64[D]").astype(starts.dtype)
    n_steps = int((last - first) // step) + 1
    col = ((starts - first) // step).astype(int)
    keep = rows >= 0
    values = np.full((len(known), n_steps), np.nan)
    values[rows[keep], col[keep]] = value[keep]
    t0 = pd.Timestamp(first).to_pydatetime()
    times = [t0 + timedelta(hours=(1 if hourly else 24) * i) for i in range(n_steps)]
    g = Grid(known, times, 1 if hourly else 24, values)
    if hourly and rules.daily_aqi == "rolling_24h":
        g = _rolling(g)
    return g


def unit_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Each row's position in the list of distinct unit codes, and that list (in order of first appearance).
    Factorised once: looking 720,000 unit strings up one by one (`Index.get_indexer`) took more than half of an
    hourly evaluation, where the file holds only a few thousand distinct codes."""
    if not len(frame):
        return np.zeros(0, dtype=int), []
    codes, distinct = pd.factorize(frame["unit"])
    return codes, [str(u) for u in distinct]


def _rows_of(codes: np.ndarray, distinct: list[str], known: list[str]) -> np.ndarray:
    """Each row's position in `known` (-1 for a unit not in it), through the distinct codes only."""
    position = {u: i for i, u in enumerate(known)}
    lookup = np.array([position.get(u, -1) for u in distinct] + [-1], dtype=int)  # a last -1 for a missing code
    return lookup[codes]


def _daily_means(known: list[str], rows: np.ndarray, starts: np.ndarray, value: np.ndarray) -> Grid:
    """Hourly values → each known unit's mean per local day (missing hours left out; a day with none is NaN).
    Summed by bincount over (unit, day) positions: a groupby on the unit strings took most of the evaluation."""
    days = starts.astype("datetime64[D]")
    keep = (rows >= 0) & ~np.isnan(value)
    if not keep.any():
        return Grid(known, [], 24, np.full((len(known), 0), np.nan))
    first = days.min()
    n_days = int((days.max() - first).astype(int)) + 1
    flat = rows[keep] * n_days + (days[keep] - first).astype(int)
    size = len(known) * n_days
    sums = np.bincount(flat, weights=value[keep], minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).reshape(len(known), n_days)
    t0 = pd.Timestamp(first).to_pydatetime()
    return Grid(known, [t0 + timedelta(days=i) for i in range(n_days)], 24, means)


def _rolling(g: Grid) -> Grid:
    """24-hour means ending 23 hours after each hour; a window with a missing hour is missing."""
    v = g.values
    if v.shape[1] < 24:
        return Grid(g.units, g.times, 1, np.full((v.shape[0], 0), np.nan), windows=True)
    filled = np.nan_to_num(v, nan=0.0)
    c = np.concatenate([np.zeros((v.shape[0], 1)), np.cumsum(filled, axis=1)], axis=1)
    means = (c[:, 24:] - c[:, :-24]) / 24.0
    gaps = np.concatenate([np.zeros((v.shape[0], 1)), np.cumsum(np.isnan(v), axis=1)], axis=1)
    means[(gaps[:, 24:] - gaps[:, :-24]) > 0] = np.nan
    return Grid(g.units, g.times, 1, means, windows=True)


# --- own levels ---------------------------------------------------------------------------------------------


@dataclass
class Runs:
    """The runs of every row of a value matrix and the level each reaches."""

    row: np.ndarray
    first: np.ndarray  # first step
    last: np.ndarray  # last step (inclusive)
    level: np.ndarray  # 0..3
    streak_hours: dict[int, np.ndarray]  # threshold → longest streak above it, in hours
    step_levels: np.ndarray  # rows × steps


def levels_of(values: np.ndarray, rules: AlertRules, step_hours: int, windows: bool) -> Runs:
    rows, steps = values.shape
    thresholds = rules.thresholds
    lowest = thresholds[0]
    with np.errstate(invalid="ignore"):
        padded = np.concatenate([values, np.full((rows, 1), np.nan)], axis=1).ravel()
        above_low = padded > lowest
    starts = above_low & ~np.concatenate([[False], above_low[:-1]])
    run_no = np.cumsum(starts) - 1
    n_runs = int(starts.sum())
    run_first_flat = np.flatnonzero(starts)
    ends = above_low & ~np.concatenate([above_low[1:], [False]])
    run_last_flat = np.flatnonzero(ends)
    streak: dict[int, np.ndarray] = {}
    for x in thresholds:
        with np.errstate(invalid="ignore"):
            b = padded > x
        if windows:  # days of 24 hours from any hour: windows w, w+24, w+48 … all above x
            chain = _chains(values > x if values.size else np.zeros_like(values, dtype=bool))
            flat_chain = np.concatenate([chain, np.zeros((rows, 1), dtype=int)], axis=1).ravel()
            best = np.zeros(n_runs, dtype=int)
            inside = np.flatnonzero(above_low & (flat_chain > 0))
            if len(inside):
                np.maximum.at(best, run_no[inside], flat_chain[inside])
            streak[x] = best * 24
            continue
        seg_start = b & ~np.concatenate([[False], b[:-1]])
        seg_no = np.cumsum(seg_start) - 1
        lengths = np.bincount(seg_no[b], minlength=int(seg_start.sum())) if b.any() else np.zeros(0, dtype=int)
        best = np.zeros(n_runs, dtype=int)
        if len(lengths):
            np.maximum.at(best, run_no[np.flatnonzero(seg_start)], lengths)
        streak[x] = best * step_hours
    level = np.zeros(n_runs, dtype=int)
    for rule in reversed(rules.levels):  # red first: a level only when no higher one holds
        holds = np.zeros(n_runs, dtype=bool)
        for alternative in rule.when:
            ok = np.ones(n_runs, dtype=bool)
            for c in alternative:
                ok &= streak[c.aqi_above] >= c.hours
            holds |= ok
        level = np.where((level == 0) & holds, RANK[rule.level], level)
    flat = np.zeros(rows * (steps + 1), dtype=int)
    if n_runs:
        flat[above_low] = level[run_no[above_low]]
    step_levels = flat.reshape(rows, steps + 1)[:, :steps]
    return Runs(run_first_flat // (steps + 1), run_first_flat % (steps + 1), run_last_flat % (steps + 1), level,
                streak, step_levels)  # fmt: skip


def _chains(above: np.ndarray) -> np.ndarray:
    """For each window, how many windows 24 hours apart from it on are above in a row (0 when it is not)."""
    with np.errstate(invalid="ignore"):
        above = np.nan_to_num(above, nan=0).astype(bool)
    rows, n = above.shape
    out = np.zeros((rows, n + 24), dtype=int)
    for w in range(n - 1, -1, -1):
        out[:, w] = np.where(above[:, w], out[:, w + 24] + 1, 0)
    return out[:, :n]


def _cover(levels: np.ndarray) -> np.ndarray:
    """Window levels → hour levels: each hour carries the highest level of the 24 windows covering it (a
    sliding maximum over 24 windows, by doubling: 1 → 2 → 4 → 8 → 16, then 16 + 8)."""
    w = levels.shape[1]
    padded = np.pad(levels, ((0, 0), (23, 23)))  # hour h is covered by windows h-23 … h
    m = {1: padded}
    for k in (2, 4, 8, 16):
        half = m[k // 2]
        m[k] = np.maximum(half[:, : half.shape[1] - k // 2], half[:, k // 2 :])
    m16, m8 = m[16], m[8]
    return np.maximum(m16[:, : w + 23], m8[:, 16 : 16 + w + 23])


# --- regional trigger ---------------------------------------------------------------------------------------


@dataclass
class Trigger:
    level: int
    units: tuple[str, ...]
    how: str  # words


def _regional(own: np.ndarray, g: Grid, geo: Geography, rules: AlertRules, hours: int) -> tuple[
    np.ndarray, list[dict[int, Trigger]]]:  # fmt: skip
    """Zone levels (zones × steps) and for each zone the trigger of each step that has one."""
    zone_codes = list(geo.zones)
    index = {u: i for i, u in enumerate(g.units)}
    zone_of = {u: z for z, members in geo.zones.items() for u in members}
    levels = np.zeros((len(zone_codes), hours), dtype=int)
    why: list[dict[int, Trigger]] = [{} for _ in zone_codes]
    kind = rules.trigger.kind
    if kind == "contiguous_mean":
        return _contiguous_mean(g, geo, rules, hours)
    memo: dict[tuple[int, frozenset[str]], dict[str, Trigger]] = {}
    graph = neighbours(geo.edges)
    inner = {u: {v for v in vs if zone_of.get(v) == zone_of.get(u)} for u, vs in graph.items()}
    cross: dict[str, list[str]] = {}  # each unit's neighbours in another zone
    for a, b in sorted(geo.edges):
        if a in zone_of and b in zone_of and zone_of[a] != zone_of[b]:
            cross.setdefault(a, []).append(b)
    zone_memo: dict[frozenset[str], list[list[str]]] = {}
    members = [u for z in zone_codes for u in geo.zones[z] if u in index]
    member_rows = np.array([index[u] for u in members], dtype=int)
    sub = own[member_rows] if len(member_rows) else np.zeros((0, hours), dtype=int)
    seen: dict[tuple[int, bytes], dict[str, Trigger]] = {}
    for t in np.flatnonzero(sub.max(axis=0, initial=0) > 0) if len(sub) else ():
        col = sub[:, t]
        for lvl in range(int(col.max()), 0, -1):
            mask = col >= lvl
            quick = (lvl, mask.tobytes())
            if quick not in seen:
                qualifying = frozenset(np.asarray(members, dtype=object)[mask].tolist())
                key = (lvl, qualifying)
                if key not in memo:
                    memo[key] = _triggered(qualifying, lvl, geo, rules, zone_of, inner, cross, zone_memo)
                seen[quick] = memo[key]
            for z, trig in seen[quick].items():
                zi = zone_codes.index(z)
                if levels[zi, t] < lvl:
                    levels[zi, t] = lvl
                    why[zi][t] = trig
    return levels, why


def _components(nodes: frozenset[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Connected groups of `nodes` through `graph`'s edges among them (one pass, any order)."""
    seen: set[str] = set()
    out: list[list[str]] = []
    for start in nodes:
        if start in seen:
            continue
        seen.add(start)
        group, stack = [start], [start]
        while stack:
            for v in graph.get(stack.pop(), ()):
                if v in nodes and v not in seen:
                    seen.add(v)
                    group.append(v)
                    stack.append(v)
        out.append(group)
    return out


def _triggered(qualifying: frozenset[str], lvl: int, geo: Geography, rules: AlertRules, zone_of: dict[str, str],
               inner: dict[str, set[str]], cross: dict[str, list[str]],
               zone_memo: dict[frozenset[str], list[list[str]]]) -> dict[str, Trigger]:  # fmt: skip
    """The zones the qualifying units trigger at `lvl`, each with its group in words. `inner` is the graph of
    edges within a zone: its groups are the groups inside each zone, all found in one pass."""
    out: dict[str, Trigger] = {}
    name = LEVEL_NAMES[LEVELS[lvl - 1]]
    if rules.trigger.kind == "any_unit":
        for z in geo.zones:
            units = tuple(sorted(u for u in qualifying if zone_of[u] == z))
            if units:
                out[z] = Trigger(lvl, units, f"{'、'.join(geo.name(u) for u in units)}达到{name}预警条件")
        return out
    within, across = rules.trigger.within_zone or 0, rules.trigger.across_zones or 0
    by_zone: dict[str, list[str]] = {}
    for u in qualifying:
        by_zone.setdefault(zone_of[u], []).append(u)
    groups: list[list[str]] = []
    for inside in by_zone.values():  # groups inside each zone: memoised per zone and set, most hours repeat them
        key = frozenset(inside)
        if key not in zone_memo:
            zone_memo[key] = _components(key, inner)
        groups.extend(zone_memo[key])
    best: dict[str, tuple[str, ...]] = {}
    for group in groups:
        if len(group) >= within:
            units = tuple(sorted(group))
            z = zone_of[units[0]]
            if z not in best or (-len(units), units) < (-len(best[z]), best[z]):  # the largest, then by codes
                best[z] = units
    for z in geo.zones:
        if z in best:
            units = best[z]
            out[z] = Trigger(
                lvl,
                units,
                f"{geo.zone_names.get(z, z)}内{len(units)}个相邻城市"
                f"（{'、'.join(geo.name(u) for u in units)}）达到{name}预警条件（区域内≥{within}个）",
            )
    if len(qualifying) >= across:
        # Groups across zones: the zones' own groups joined through the edges between zones (union-find).
        parent = list(range(len(groups)))
        group_of = {u: i for i, g in enumerate(groups) for u in g}

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        # only the qualifying units' own edges across zones: a few, where walking every such edge of the
        # region for each distinct set of qualifying units took most of an hourly evaluation
        for a in sorted(qualifying):
            for b in cross.get(a, ()):
                if b not in group_of:
                    continue
                ra, rb = root(group_of[a]), root(group_of[b])
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        joined: dict[int, list[str]] = {}
        for i, g in enumerate(groups):
            joined.setdefault(root(i), []).extend(g)
        spanning = []
        for group in joined.values():
            touched = sorted({zone_of[u] for u in group})
            if len(group) >= across and len(touched) >= 2:
                spanning.append((tuple(sorted(group)), touched))
        for units, touched in sorted(spanning, key=lambda x: (-len(x[0]), x[0])):
            zones = "、".join(geo.zone_names.get(z, z) for z in touched)
            how = (
                f"跨{zones}{len(units)}个相邻城市（{'、'.join(geo.name(u) for u in units)}）达到{name}预警条件"
                f"（跨区域≥{across}个）"
            )
            for z in touched:
                out.setdefault(z, Trigger(lvl, units, how))
    return out


def _contiguous_mean(g: Grid, geo: Geography, rules: AlertRules, hours: int) -> tuple[
    np.ndarray, list[dict[int, Trigger]]]:  # fmt: skip
    """Kashgar: every connected set of ≥ min_units members; its mean AQI series gets a level like a unit's."""
    n_min = rules.trigger.min_units or 3
    index = {u: i for i, u in enumerate(g.units)}
    zone_codes = list(geo.zones)
    levels = np.zeros((len(zone_codes), hours), dtype=int)
    why: list[dict[int, Trigger]] = [{} for _ in zone_codes]
    graph = neighbours(geo.edges)
    for zi, z in enumerate(zone_codes):
        members = [u for u in geo.zones[z] if u in index]
        sets = connected_sets(members, graph, n_min, exact=len(members) > 16)
        if not sets:
            continue
        means = np.stack([np.mean(g.values[[index[u] for u in s]], axis=0) for s in sets])
        runs = levels_of(means, rules, g.step_hours, g.windows)
        lv = _cover(runs.step_levels) if g.windows else runs.step_levels
        for t in range(hours):
            best = int(lv[:, t].max()) if len(lv) else 0
            if best:
                s = sets[int(np.argmax(lv[:, t]))]
                name = LEVEL_NAMES[LEVELS[best - 1]]
                units = tuple(sorted(s))
                levels[zi, t] = best
                group = "、".join(geo.name(u) for u in units)
                why[zi][t] = Trigger(
                    best, units, f"{len(units)}个连片县（市）（{group}）平均日AQI达到{name}预警条件（≥{n_min}个）"
                )
    return levels, why


def connected_sets(members: Sequence[str], graph: dict[str, set[str]], n_min: int, exact: bool = False) -> list[
    frozenset[str]]:  # fmt: skip
    """Every connected set of at least `n_min` of `members` (exactly `n_min` when `exact`), in a stable order."""
    allowed = set(members)
    found: set[frozenset[str]] = set()
    frontier = {frozenset([u]) for u in members}
    size = 1
    while frontier and size < (n_min if exact else len(members)) + 1:
        if size >= n_min:
            found |= frontier
        if exact and size == n_min:
            break
        nxt = set()
        for s in frontier:
            for u in s:
                for v in graph.get(u, ()):
                    if v in allowed and v not in s:
                        nxt.add(s | {v})
        frontier, size = nxt, size + 1
    return sorted(found, key=lambda s: (len(s), sorted(s)))


# --- merging, episodes, proposals ---------------------------------------------------------------------------


def merge_gaps(series: np.ndarray, gap_steps: float) -> np.ndarray:
    """For each level L, a gap shorter than `gap_steps` between two stretches at L or higher takes level L."""
    out = series.copy()
    if out.size == 0:
        return out
    rows, n = out.shape
    idx = np.broadcast_to(np.arange(n), (rows, n))
    for lvl in range(1, len(LEVELS) + 1):
        at = out >= lvl
        if not at.any():
            break
        before = np.maximum.accumulate(np.where(at, idx, -1), axis=1)  # last step at ≥ L so far
        after = np.minimum.accumulate(np.where(at, idx, n)[:, ::-1], axis=1)[:, ::-1]  # next one
        fill = ~at & (before >= 0) & (after < n) & ((after - before - 1) < gap_steps)
        out[fill] = np.maximum(out[fill], lvl)
    return out


def _stretches(row: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, last, level) of each stretch of constant level > 0."""
    if not row.any():
        return []
    change = np.flatnonzero(np.diff(row)) + 1
    bounds = np.concatenate([[0], change, [len(row)]])
    return [(int(a), int(b) - 1, int(row[a])) for a, b in itertools.pairwise(bounds) if row[a] > 0]


def _stretches_by_row(matrix: np.ndarray) -> dict[int, list[tuple[int, int, int]]]:
    """`_stretches` of every row at once (one pass over the matrix, not one call per unit)."""
    rows, n = matrix.shape
    if not rows or not n or not matrix.any():
        return {}
    padded = np.pad(matrix, ((0, 0), (1, 1))).ravel()  # a 0 on each side: no stretch crosses two rows
    begins = np.flatnonzero(np.diff(padded)) + 1
    ends = np.append(begins[1:], len(padded))
    level = padded[begins]
    on = level > 0
    out: dict[int, list[tuple[int, int, int]]] = {}
    width = n + 2
    for b, e, lv in zip(begins[on].tolist(), ends[on].tolist(), level[on].tolist(), strict=True):
        r, c = divmod(b, width)
        out.setdefault(r, []).append((c - 1, c - 1 + (e - b) - 1, lv))
    return out


def _episodes(row: np.ndarray) -> list[tuple[int, int]]:
    on = (row > 0).astype(int)
    if not on.any():
        return []
    d = np.diff(np.concatenate([[0], on, [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist(), strict=True))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M") + "+08:00"


def _span(times: list[datetime], step_hours: int, first: int, last: int) -> str:
    a, b = times[first], times[last] + timedelta(hours=step_hours)
    if step_hours == 24:
        end = b - timedelta(days=1)
        return a.strftime("%m月%d日") if a == end else f"{a:%m月%d日}至{end:%m月%d日}"
    return f"{a:%m月%d日%H时}至{b:%m月%d日%H时}"


@dataclass
class Levels:
    """The evaluation's arrays: the grid, each unit's own and final level and each zone's level per step."""

    grid: Grid
    runs: Runs
    times: list[datetime]
    own: np.ndarray  # units × steps (hours for hourly input), 0..3
    final: np.ndarray
    zones: np.ndarray  # zones × steps
    zone_why: list[dict[int, Trigger]]
    floor_text: dict[int, str]


def compute(frame: pd.DataFrame, rules: AlertRules, geo: Geography, floors: Iterable[Floor] = ()) -> Levels:
    """Own levels, the regional trigger, floors and merging, as arrays."""
    members = [u for z in geo.zones.values() for u in z]
    g = grid(frame, rules, members, others=True)
    runs = levels_of(g.values, rules, g.step_hours, g.windows)
    own = _cover(runs.step_levels) if g.windows else runs.step_levels
    times = g.times
    hours_axis = len(times)
    own = np.pad(own, ((0, 0), (0, max(0, hours_axis - own.shape[1]))))[:, :hours_axis]
    step = g.step_hours
    zone_levels, zone_why = _regional(own, g, geo, rules, hours_axis)
    index = {u: i for i, u in enumerate(g.units)}
    final = own.copy()
    floor_level = np.zeros(hours_axis, dtype=int)
    floor_text: dict[int, str] = {}
    for f in floors:
        for t, at in enumerate(times):
            if f.start <= at < f.end and RANK[f.level] > floor_level[t]:
                floor_level[t] = RANK[f.level]
                floor_text[t] = f"{f.authority or '上级'}{LEVEL_NAMES[f.level]}区域预警（不低于其级别）"
    zone_levels = np.maximum(zone_levels, floor_level[None, :]) if len(zone_levels) else zone_levels
    gap_steps = rules.merge_gap_hours / step
    zone_levels = merge_gaps(zone_levels, gap_steps)
    for zi, z in enumerate(geo.zones):
        for u in geo.zones[z]:
            if u in index:
                final[index[u]] = np.maximum(final[index[u]], zone_levels[zi])
    final = merge_gaps(final, gap_steps)
    return Levels(g, runs, times, own, final, zone_levels, zone_why, floor_text)


def evaluate(
    frame: pd.DataFrame, rules: AlertRules, geo: Geography, *, plan: str = "",
    floors: Iterable[Floor] = (),
) -> dict[str, Any]:  # fmt: skip
    """The whole evaluation as a JSON-ready dict (schema: docs/alerts.md)."""
    lv = compute(frame, rules, geo, floors)
    g, runs, times, own, final = lv.grid, lv.runs, lv.times, lv.own, lv.final
    zone_levels, zone_why, floor_text = lv.zones, lv.zone_why, lv.floor_text
    step = g.step_hours
    index = {u: i for i, u in enumerate(g.units)}
    decides = DECIDES_NAMES[rules.decides]

    def run_reason(r: int) -> str:
        u = g.units[int(runs.row[r])]
        lvl = LEVELS[int(runs.level[r]) - 1]
        rule = rules.rule(lvl)
        held = next(alt for alt in rule.when if all(runs.streak_hours[c.aqi_above][r] >= c.hours for c in alt))
        parts = "且".join(f"日AQI>{c.aqi_above}持续{int(runs.streak_hours[c.aqi_above][r])}小时（≥{c.hours}小时）"
                         for c in held)  # fmt: skip
        first, last = int(runs.first[r]), int(runs.last[r]) + (23 if g.windows else 0)
        return f"{geo.name(u)}：{_span(times, step, first, last)}{parts}，{decides}，达到{LEVEL_NAMES[lvl]}预警条件"

    unit_results = []
    zone_of = {u: z for z, members in geo.zones.items() for u in members}
    reasons_by_unit: dict[str, list[tuple[int, int, str]]] = {}
    for r in np.flatnonzero(runs.level > 0):
        span = (int(runs.first[r]), int(runs.last[r]) + (23 if g.windows else 0))
        reasons_by_unit.setdefault(g.units[int(runs.row[r])], []).append((*span, run_reason(int(r))))
    stretches = _stretches_by_row(final)
    for u in g.units:
        i = index[u]
        rows = []
        for first, last, lvl in stretches.get(i, ()):
            own_max = int(own[i, first : last + 1].max())
            if own_max >= lvl:
                why = "；".join(w for a, b, w in reasons_by_unit.get(u, []) if a <= last and b >= first)
            else:
                why = "所在联动区域启动预警" + (f"（本地自身{LEVEL_NAMES[LEVELS[own_max - 1]]}）" if own_max else "")
            rows.append({"level": LEVELS[lvl - 1], "own_level": LEVELS[own_max - 1] if own_max else None,
                         "start": _iso(times[first]), "end": _iso(times[last] + timedelta(hours=step)),
                         "reason": why})  # fmt: skip
        unit_results.append({"unit": u, "name": geo.name(u), "zone": zone_of.get(u), "levels": rows})

    activations, proposals = [], []
    zone_codes = list(geo.zones)
    grouped: dict[tuple[int, int, tuple[int, ...]], list[int]] = {}
    for zi in range(len(zone_codes)):
        for first, last in _episodes(zone_levels[zi]):
            grouped.setdefault((first, last, tuple(zone_levels[zi, first : last + 1])), []).append(zi)
    for (first, last, _series), zis in sorted(grouped.items()):
        zi0 = zis[0]
        zones = [zone_codes[z] for z in zis]
        units = [u for z in zones for u in geo.zones[z]]
        lvl = int(zone_levels[zi0, first : last + 1].max())
        trig = [zone_why[zi0][t] for t in range(first, last + 1) if t in zone_why[zi0]]
        words = []
        for tr in trig:
            if tr.how not in words:
                words.append(tr.how)
        words += [floor_text[t] for t in range(first, last + 1) if t in floor_text and floor_text[t] not in words][:1]
        zone_words = "、".join(geo.zone_names.get(z, z) for z in zones)
        reason = f"{'；'.join(words)}；{zone_words}全部{len(units)}个成员单位启动预警，自身等级更高的按自身等级"
        start, end = times[first], times[last] + timedelta(hours=step)
        activations.append({"zones": zones, "units": units, "level": LEVELS[lvl - 1], "start": _iso(start),
                            "end": _iso(end), "reason": reason})  # fmt: skip
        for a, b, stretch_level in _stretches(zone_levels[zi0, first : last + 1]):
            at = times[first + a]
            previous = int(zone_levels[zi0, first + a - 1]) if a > 0 else 0
            kind = "issue" if previous == 0 else ("upgrade" if stretch_level > previous else "downgrade")
            p = {"kind": kind, "level": LEVELS[stretch_level - 1], "zones": zones, "units": units,
                 "start": _iso(at), "reason": reason if kind == "issue" else
                 f"{zone_words}预报{'升至' if kind == 'upgrade' else '降至'}{LEVEL_NAMES[LEVELS[stretch_level - 1]]}"
                 f"（{_span(times, step, first + a, first + b)}）"}  # fmt: skip
            if kind == "issue" and rules.advance_notice_hours:
                p["propose_by"] = _iso(at - timedelta(hours=rules.advance_notice_hours))
            proposals.append(p)
        after = (len(times) - 1 - last) * step
        lifted = after >= rules.lift_hours
        since = f"{zone_words}预报自{end:%m月%d日%H时}起"
        need = f"{rules.lift_hours}小时"
        proposals.append({
            "kind": "lift" if lifted else "lift_pending", "level": None, "zones": zones, "units": units,
            "start": _iso(end),
            "without_approval": rules.lift_without_approval,
            "reason": f"{since}低于预警条件并持续{after}小时（≥{need}），解除预警" if lifted
            else f"{since}改善，但预报仅覆盖{after}小时（需持续≥{need}），暂不解除",
        })  # fmt: skip

    notes = []
    if rules.ozone == "process_response" and "primary_pollutant" in frame:
        ozone = frame[frame["primary_pollutant"].fillna("").astype(str).str.upper().str.startswith("O3")]
        for u in sorted(set(ozone["unit"].astype(str))):
            notes.append(f"{geo.name(u)}：首要污染物为臭氧，按污染过程应对，不计入预警")
    if rules.dust == "excluded" and "dust" in frame and frame["dust"].fillna(False).astype(bool).any():
        n = int(frame["dust"].fillna(False).astype(bool).sum())
        notes.append(f"{n}条沙尘天气预报不计入预警（预案不适用于沙尘天气）")
    return {
        "plan": plan, "resolution": "day" if step == 24 else "hour", "decides": rules.decides,
        "start": _iso(times[0]) if times else None,
        "end": _iso(times[-1] + timedelta(hours=step)) if times else None,
        "units": unit_results, "activations": activations, "proposals": proposals, "notes": notes,
    }  # fmt: skip
