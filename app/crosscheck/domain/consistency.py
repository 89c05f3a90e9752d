"""Consistency of measures across the region (seed 001 六: the same industry and grade, the same strength).

Input: one row per enterprise and alert level, as a dataframe with the columns of `COLUMNS`:
`bureau` (the owning jurisdiction's id), `enterprise_id`, `industry`, `grade`, `level`, and the three measures of
strength — `cut_pct` (the production cut, % of the reduction base), `lines_pct` (the share of production lines
stopped, %), `transport` (how many transport measures: 1 a day-and-night ban on heavy trucks, …).

`analyse` gives the regional median per (industry, grade, level), each bureau's median in the same groups, and
the outliers: a bureau whose median lies further from the region's than the metric's tolerance, with the reason
as data (`metric`, `direction`, the two medians) for the screen to word in the reader's language. Only
aggregates leave this module; enterprise rows are the caller's to show within its own scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

KEYS = ["industry", "grade", "level"]
METRICS = ("cut_pct", "lines_pct", "transport")
COLUMNS = ["bureau", "enterprise_id", *KEYS, *METRICS]
# How far a bureau's median may lie from the region's before it is listed (percentage points; measures).
TOLERANCE = {"cut_pct": 10.0, "lines_pct": 10.0, "transport": 1.0}
WEAKER, STRONGER = "weaker", "stronger"


@dataclass(frozen=True)
class Analysis:
    regional: pd.DataFrame  # KEYS + n + one median column per metric
    bureaus: pd.DataFrame  # bureau + KEYS + n + bureau medians + regional medians (suffix _region)
    outliers: pd.DataFrame  # bureau + KEYS + metric + direction + value + region + n


def frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    for m in METRICS:
        df[m] = pd.to_numeric(df[m], errors="coerce").fillna(0.0).astype(float)
    df["grade"] = df["grade"].fillna("-")
    return df


def analyse(df: pd.DataFrame, tolerance: dict[str, float] | None = None) -> Analysis:
    tol = {**TOLERANCE, **(tolerance or {})}
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    metrics = list(METRICS)
    grouped = df.groupby(KEYS, sort=True, observed=True)
    regional = grouped[metrics].median()
    regional.insert(0, "n", grouped.size())
    regional = regional.reset_index()
    by = df.groupby(["bureau", *KEYS], sort=True, observed=True)
    bureaus = by[metrics].median()
    bureaus.insert(0, "n", by.size())
    bureaus = bureaus.reset_index().merge(regional.drop(columns="n"), on=KEYS, how="left", suffixes=("", "_region"))
    parts = []
    for m in metrics:
        delta = bureaus[m] - bureaus[f"{m}_region"]
        off = delta.abs() > tol[m]
        if not off.any():
            continue
        part = bureaus.loc[off, ["bureau", *KEYS, "n"]].copy()
        part["metric"] = m
        part["direction"] = [WEAKER if d < 0 else STRONGER for d in delta[off]]
        part["value"] = bureaus.loc[off, m].to_numpy()
        part["region"] = bureaus.loc[off, f"{m}_region"].to_numpy()
        parts.append(part)
    cols = ["bureau", *KEYS, "metric", "direction", "value", "region", "n"]
    outliers = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    outliers = outliers.sort_values(["bureau", *KEYS, "metric"], ignore_index=True)
    return Analysis(regional=regional, bureaus=bureaus, outliers=outliers)


def for_bureau(analysis: Analysis, bureau: int) -> Analysis:
    """What one bureau may see: the region's aggregates, its own medians, its own outliers."""
    return Analysis(
        regional=analysis.regional,
        bureaus=analysis.bureaus[analysis.bureaus["bureau"] == bureau].reset_index(drop=True),
        outliers=analysis.outliers[analysis.outliers["bureau"] == bureau].reset_index(drop=True),
    )
