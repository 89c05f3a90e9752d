"""An observed upgrade (seed 002 §3.7.1, plans with `upgrade_observed_hours`): when the observed air quality has
already reached a higher level than the alert in force, and the forecast shows no clear improvement within the
plan's hours, the alert is raised to the observed level at once. Plain data over two evaluations (the observed
readings and the latest forecast, both through evaluate.evaluate); no Flask, no database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from app.alerts.domain.evaluate import LEVEL_NAMES, RANK
from app.plans.schema import AlertRules


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _covered(forecast: Mapping[str, Any], units: set[str], rank: int, start: datetime, end: datetime) -> bool:
    """Whether the forecast keeps all `units` at `rank` or higher for the whole of [start, end)."""
    spans = sorted((_at(a["start"]), _at(a["end"])) for a in forecast.get("activations", ())
                   if RANK[a["level"]] >= rank and units <= set(a["units"]))  # fmt: skip
    at = start
    for a, b in spans:
        if a > at:
            break
        at = max(at, b)
    return at >= end


def upgrade(observed: Mapping[str, Any], in_force: Mapping[str, str | None], rules: AlertRules,
            forecast: Mapping[str, Any] | None = None) -> dict[str, Any] | None:  # fmt: skip
    """The upgrade proposal the observations call for, or None. `observed` is the evaluation of the observed
    readings, `in_force` each member unit's level in force at the end of the observations (None: no alert),
    `forecast` the evaluation of the latest forecast (no forecast: no improvement is forecast)."""
    hours = rules.upgrade_observed_hours
    if not hours or not observed.get("activations"):
        return None
    latest = max(observed["activations"], key=lambda a: (a["end"], RANK[a["level"]]))
    units = [u for u in latest["units"] if u in in_force]
    current = max((RANK[lv] for u in units if (lv := in_force.get(u))), default=0)
    rank = RANK[latest["level"]]
    if current == 0 or rank <= current:  # nothing in force (a new alert, not an upgrade), or not higher
        return None
    end = _at(latest["end"])
    if forecast is not None and not _covered(forecast, set(units), rank, end, end + timedelta(hours=hours)):
        return None  # improvement forecast within the plan's hours: no upgrade
    was = LEVEL_NAMES[next(lv for u in units if (lv := in_force.get(u)) and RANK[lv] == current)]
    now_level = LEVEL_NAMES[latest["level"]]
    outlook = f"预报未来{hours}小时内无明显改善" if forecast is not None else f"无未来{hours}小时预报（按无明显改善）"
    return {
        "kind": "upgrade", "level": latest["level"], "zones": latest["zones"], "units": units,
        "start": latest["end"], "observed": True,
        "reason": f"实测：{latest['reason']}；高于现行{was}预警，{outlook}，及时调整为{now_level}预警",
    }  # fmt: skip
