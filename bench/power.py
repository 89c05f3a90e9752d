"""Power check: the whole check of an episode over generated readings against DuckDB computing the same baselines
and daily figures from a Parquet copy; and twice the readings against once.

Default 200 enterprises × 5 meters × 1,000 hours (1 M readings, a CI run); `BENCH_POWER_FULL=1` runs the issue's
2,000 enterprises (10 M readings, 20 M for the doubling), `BENCH_POWER_ENTERPRISES=n` any other size.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np
import pandas as pd

from bench.harness import Context, Result, compare

NAME = "power"
HOURS = 1_000
FULL = 2_000
MIX = ["stops", "limits", "pretends", "controls_off_at_night", "night", "silent", "reported", "stops", "limits"]

# The same baselines (median of each hour of the day over the normal days of the 30 before the alert: complete
# days, no reported stoppage) and daily figures (production kWh and its baseline over the alert hours) in SQL.
DUCK_SQL = """
WITH r AS (SELECT meter_id, date_trunc('hour', "at") AS hour, sum(kwh) AS kwh FROM read_parquet(?) GROUP BY ALL),
first AS (SELECT enterprise_id, min("start")::DATE AS first_day FROM periods GROUP BY ALL),
cover AS (SELECT meter_id, hour::DATE AS day, count(*) AS n FROM r GROUP BY ALL),
normal AS (
  SELECT c.meter_id, c.day FROM cover c JOIN meters m USING (meter_id) JOIN first f USING (enterprise_id)
  WHERE c.day < f.first_day AND c.day >= f.first_day - 30 AND c.n >= 24 * 0.9
    AND NOT EXISTS (SELECT 1 FROM reports p WHERE p.enterprise_id = m.enterprise_id
                    AND p."start" < c.day + INTERVAL 1 DAY AND p."end" > c.day)),
base AS (
  SELECT r.meter_id, hour(r.hour) AS hod, median(r.kwh) AS kwh, count(*) AS n
  FROM r JOIN normal n ON r.meter_id = n.meter_id AND r.hour::DATE = n.day GROUP BY ALL),
alert AS (SELECT enterprise_id, unnest(generate_series("start", "end" - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS hour
          FROM periods),
prod AS (SELECT a.enterprise_id, a.hour, m.meter_id FROM alert a JOIN meters m USING (enterprise_id)
         WHERE m.kind = 'production')
SELECT p.enterprise_id, p.hour::DATE AS day, coalesce(sum(r.kwh), 0) AS production_kwh,
       sum(b.kwh) AS production_baseline_kwh
FROM prod p LEFT JOIN r ON r.meter_id = p.meter_id AND r.hour = p.hour
LEFT JOIN base b ON b.meter_id = p.meter_id AND b.hod = hour(p.hour)
GROUP BY ALL ORDER BY 1, 2
"""


def episode(enterprises: int):
    from app.power.domain.synthetic import generate

    behaviours = [MIX[n % len(MIX)] for n in range(enterprises)]
    return generate(behaviours, hours=HOURS, alert_hours=96, production_meters=2, control_meters=2, seed=14)


def cpu_compare(figure, baseline, repeat: int = 3) -> tuple[float, float]:
    """Medians of the process's CPU seconds per call, in alternating rounds after a warm-up of each. The check
    runs on one thread, so its CPU time is its cost; on a machine shared with other work the wall time of a
    several-second run says more about the neighbours (the same run's wall times are logged)."""
    figure(), baseline()
    f, b = [], []
    for _ in range(repeat):
        for fn, out in ((figure, f), (baseline, b)):
            start, wall = time.process_time(), time.perf_counter()
            fn()
            out.append(time.process_time() - start)
            print(f"[power]   {out[-1]:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall", file=sys.stderr)
    return statistics.median(f), statistics.median(b)


def run(ctx: Context) -> list[Result]:
    import duckdb

    from app.power.domain.check import check

    n = int(os.environ.get("BENCH_POWER_ENTERPRISES") or (FULL if os.environ.get("BENCH_POWER_FULL") else 200))
    ctx.log(f"generating {n:,} and {2 * n:,} enterprises × 5 meters × {HOURS:,} hours")
    one, two = episode(n), episode(2 * n)
    assert len(one.readings) >= n * 5 * (HOURS - 200) and len(two.readings) >= 2 * len(one.readings) * 0.99
    parquet = ctx.tmp / "readings.parquet"
    one.readings.to_parquet(parquet, index=False)
    con = duckdb.connect()
    con.register("meters", one.meters)
    con.register("periods", one.periods)
    con.register("reports", one.reports)

    def ours(ep=one):
        return check(ep.readings, ep.meters, ep.periods, ep.measures, ep.reports)

    def duck():
        return con.execute(DUCK_SQL, [str(parquet)]).df()

    # the two agree on what they compute, and the check flags what was generated
    result, figures = ours(), duck()
    days = result.days.sort_values(["enterprise_id", "day"], ignore_index=True)
    assert len(days) == len(figures), (len(days), len(figures))
    assert np.allclose(days["production_kwh"], figures["production_kwh"])
    known = figures["production_baseline_kwh"].notna().to_numpy()
    assert np.allclose(days["production_baseline_kwh"].to_numpy()[known], figures["production_baseline_kwh"][known])
    raised = result.flags[result.flags["status"] == "raised"]
    flagged = {one.behaviour[e] for e in raised["enterprise_id"]}
    assert flagged == {"pretends", "controls_off_at_night", "night", "silent"}, flagged
    ctx.log(f"{len(one.readings):,} readings: {len(result.flags):,} flags, {len(days):,} enterprise-days agree")

    fig, base = compare(ours, duck, number=1, repeat=3)
    ctx.log(f"check {fig:.2f} s, DuckDB {base:.2f} s")
    twice, once = cpu_compare(lambda: ours(two), ours, repeat=3)
    ctx.log(f"check of {len(two.readings):,} readings {twice:.2f} s CPU, of {len(one.readings):,} {once:.2f} s CPU")
    size = f"{len(one.readings) / 1e6:.0f}M" if len(one.readings) >= 1e6 else f"{len(one.readings) / 1e3:.0f}k"
    return [
        Result.at_most(f"check {size} readings vs DuckDB on Parquet", fig, base, "s", 20),
        Result.at_most(f"check 2× readings vs {size} (CPU time)", twice, once, "s", 2.2),
    ]


if __name__ == "__main__":  # a quick look without the harness
    ep = episode(20)
    print(pd.Series({k: len(v) for k, v in vars(ep).items() if isinstance(v, pd.DataFrame)}))
