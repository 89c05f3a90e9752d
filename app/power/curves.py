"""An enterprise's load curves over an episode (production, control), with its baseline and ceiling per hour and
the alert periods: what the enterprise screen draws and what a flag's case gets as a chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.power import flags
from app.power.domain.check import check
from app.power.domain.grid import LOCAL_TZ
from app.power.store import hourly


@dataclass
class Curves:
    hours: pd.DataFrame  # at (local), production, control, production_baseline, control_baseline, ceiling
    periods: list[tuple[pd.Timestamp, pd.Timestamp, str]]  # alert periods (local start, end, level)
    days: pd.DataFrame  # the check's daily figures of the enterprise


def of(session: Session, episode_id: int, enterprise_id: int, as_of: datetime | None = None) -> Curves:
    i = flags.inputs(session, episode_id, as_of)
    mine = {k: getattr(i, k)[getattr(i, k)["enterprise_id"] == enterprise_id] for k in
            ("meters", "periods", "measures", "reports", "staggered")}  # fmt: skip
    periods = [(p.start, p.end, p.level) for p in mine["periods"].itertuples()]
    if not periods or mine["meters"].empty:
        return Curves(pd.DataFrame(columns=["at"]), periods, pd.DataFrame())
    first = min(p[0] for p in periods).normalize()
    start, end = first - timedelta(days=i.thresholds.baseline_days), max(p[1] for p in periods).ceil("D")
    window = (start.tz_localize(LOCAL_TZ).to_pydatetime(), end.tz_localize(LOCAL_TZ).to_pydatetime())
    readings = hourly(session, mine["meters"]["meter_id"].astype(int).tolist(), *window)
    result = check(readings, mine["meters"], mine["periods"], mine["measures"], reports=mine["reports"],
                   staggered=mine["staggered"], thresholds=i.thresholds, as_of=flags._local(i.as_of))  # fmt: skip
    kinds = mine["meters"].set_index("meter_id")["kind"]
    readings = readings.assign(kind=readings["meter_id"].map(kinds))
    if not (kinds == "production").any():
        readings["kind"] = readings["kind"].replace("total", "production")
    table = readings.pivot_table(index="at", columns="kind", values="kwh", aggfunc="sum")
    grid = pd.DataFrame(index=pd.date_range(start, end, freq="h", inclusive="left"))
    grid = grid.join(table.reindex(columns=["production", "control"]))
    before = grid[grid.index < first]
    for kind in ("production", "control"):
        profile = before[kind].groupby(before.index.hour).median()
        grid[f"{kind}_baseline"] = profile.reindex(grid.index.hour).to_numpy()
    share = pd.Series(np.nan, index=grid.index)
    for d in result.days.itertuples():
        if d.production_baseline_kwh and not pd.isna(d.ceiling_kwh):
            day = pd.Timestamp(d.day)
            share[(grid.index >= day) & (grid.index < day + timedelta(days=1))] = (
                d.ceiling_kwh / d.production_baseline_kwh
            )
    in_alert = np.zeros(len(grid), dtype=bool)
    for p_start, p_end, _level in periods:
        in_alert |= (grid.index >= p_start) & (grid.index < p_end)
    grid["ceiling"] = (grid["production_baseline"] * share).where(in_alert)  # the ceiling holds in the alert only
    shown = grid[grid.index >= first - timedelta(days=3)]
    return Curves(shown.rename_axis("at").reset_index(), periods, result.days)
