"""Generated readings for tests, the demo and the benchmark: enterprises that behave one way each during an alert
(seeded, vectorised, so 10 million readings take seconds). Nothing here is used by the check itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

# behaviour → (measure, percent): what the enterprise is asked to do
BEHAVIOURS = {
    "stops": ("stop", None),  # stops: production and controls at standby
    "limits": ("limit", 50),  # limits by 50 %: production and controls at ~45 %
    "pretends": ("stop", None),  # asked to stop, keeps producing at ~90 %
    "pretends_partly": ("limit", 50),  # asked to limit by 50 %, lowers production and controls to ~75 % only
    "controls_off_at_night": ("limit", 50),  # limits production to ~55 %, controls off 22:00–06:00
    "night": ("limit", 50),  # produces at night instead: day 10 %, night 100 %
    "silent": ("stop", None),  # its production meter goes silent when the alert starts
    "reported": ("stop", None),  # reported a stoppage in advance; meters silent from three days before the alert
}


@dataclass
class Episode:
    readings: pd.DataFrame
    meters: pd.DataFrame
    periods: pd.DataFrame
    measures: pd.DataFrame
    reports: pd.DataFrame
    behaviour: dict[int, str]  # enterprise id → behaviour
    alert_start: datetime
    alert_end: datetime


def generate(
    behaviours: list[str], hours: int = 24 * 40, alert_hours: int = 72, start: datetime = datetime(2026, 11, 1),
    production_meters: int = 1, control_meters: int = 1, total_meters: int = 1, seed: int = 14,
    step_minutes: int = 60, level: str = "orange",
) -> Episode:  # fmt: skip
    """One enterprise per entry of `behaviours` (ids 1…n), `hours` of readings from `start`, the alert over the
    last `alert_hours` hours that have readings, meters numbered per enterprise (production, control, total)."""
    rng = np.random.default_rng(seed)
    n_ent = len(behaviours)
    kinds = ["production"] * production_meters + ["control"] * control_meters + ["total"] * total_meters
    per = len(kinds)
    owner = np.repeat(np.arange(1, n_ent + 1), per)
    meters = pd.DataFrame({"meter_id": np.arange(1, n_ent * per + 1), "enterprise_id": owner, "kind": kinds * n_ent})
    alert_start = start + timedelta(hours=hours - alert_hours)
    alert_end = start + timedelta(hours=hours)
    steps_per_hour = 60 // step_minutes
    n_steps = hours * steps_per_hour
    step_hour = np.arange(n_steps) // steps_per_hour  # hour index of each step
    hod = (step_hour + start.hour) % 24
    in_alert = step_hour >= hours - alert_hours
    night = (hod >= 22) | (hod < 6)
    capacity = rng.uniform(200, 2000, n_ent)  # kWh per hour of production, per enterprise
    beh = np.array(behaviours)

    # share of the baseline during the alert, per enterprise and step, for production and control
    prod_share = np.ones((n_ent, n_steps))
    ctrl_share = np.ones((n_ent, n_steps))

    def during(mask_ent: np.ndarray, prod: np.ndarray | float, ctrl: np.ndarray | float) -> None:
        prod_share[np.ix_(mask_ent, in_alert)] = np.broadcast_to(prod, (mask_ent.sum(), in_alert.sum()))
        ctrl_share[np.ix_(mask_ent, in_alert)] = np.broadcast_to(ctrl, (mask_ent.sum(), in_alert.sum()))

    during(beh == "stops", 0.08, 0.05)
    during(beh == "silent", 0.08, 0.08)
    during(beh == "reported", 0.05, 0.05)
    during(beh == "limits", 0.45, 0.45)
    during(beh == "pretends", 0.9, 0.9)
    during(beh == "pretends_partly", 0.75, 0.75)
    during(beh == "controls_off_at_night", 0.55, np.where(night[in_alert], 0.02, 0.55))
    during(beh == "night", np.where(night[in_alert], 1.0, 0.1), np.where(night[in_alert], 1.0, 0.1))
    noise = rng.uniform(0.97, 1.03, (n_ent, n_steps))
    per_step = capacity[:, None] / steps_per_hour * noise
    frames = []
    times = pd.Timestamp(start) + pd.to_timedelta(np.arange(n_steps) * step_minutes, unit="min")
    silent_from = np.zeros(n_steps, dtype=bool)
    reported_from = step_hour >= hours - alert_hours - 72
    for n, kind in enumerate(kinds):
        base = per_step * {"production": 1.0, "control": 0.2, "total": 1.3}[kind]
        share = ctrl_share if kind == "control" else prod_share
        if kind == "total":
            share = (prod_share + 0.2 * ctrl_share) / 1.2
        values = base * share
        keep = np.ones((n_ent, n_steps), dtype=bool)
        if kind == "production" and n == 0:
            keep[beh == "silent"] = ~in_alert | silent_from
        keep[beh == "reported"] = ~reported_from
        ent, step = np.nonzero(keep)
        frames.append(pd.DataFrame({"meter_id": (ent * per + n + 1), "at": times[step], "kwh": values[ent, step]}))
    readings = pd.concat(frames, ignore_index=True)
    ids = np.arange(1, n_ent + 1)
    periods = pd.DataFrame({"enterprise_id": ids, "start": pd.Timestamp(alert_start), "end": pd.Timestamp(alert_end),
                            "level": level})  # fmt: skip
    measures = pd.DataFrame({"enterprise_id": ids, "level": level, "measure": [BEHAVIOURS[b][0] for b in behaviours],
                             "percent": [BEHAVIOURS[b][1] for b in behaviours]})  # fmt: skip
    rep = ids[beh == "reported"]
    reports = pd.DataFrame({"report_id": np.arange(1, len(rep) + 1), "enterprise_id": rep, "kind": "stoppage",
                            "start": pd.Timestamp(alert_start - timedelta(hours=72)),
                            "end": pd.Timestamp(alert_end + timedelta(days=2))})  # fmt: skip
    return Episode(readings, meters, periods, measures, reports, dict(zip(ids.tolist(), behaviours, strict=True)),
                   alert_start, alert_end)  # fmt: skip
