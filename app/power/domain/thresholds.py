"""The thresholds of the power-consumption check (耗电量核算): data of the plan (`[power_check]` in
inventories/plans/*.toml, checked by app/plans/power_rules.py), with defaults calibrated on the published
figures (DOMAIN.md §6: fully stopped plants' use fell by more than 75 %, limited ones by about 50 %; night use
above 1.5× day use puts a plant on a watch list). Percentages are whole numbers, as elsewhere in the plans.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

FLAG_KINDS = ("production_not_reduced", "controls_off", "meter_silent", "data_incomplete", "night_pattern",
              "no_baseline")  # fmt: skip
REPORT_KINDS = ("stoppage", "maintenance", "retrofit", "power_cut")

# Which flags a report made in advance explains (the flag is shown as explained, not raised). A stoppage or a
# power cut leaves meters silent; maintenance or a retrofit of control equipment stops the controls.
DEFAULT_EXPLAINS: dict[str, tuple[str, ...]] = {
    "stoppage": ("meter_silent", "data_incomplete", "controls_off"),
    "maintenance": ("controls_off", "meter_silent", "data_incomplete"),
    "retrofit": ("controls_off", "meter_silent", "data_incomplete"),
    "power_cut": ("meter_silent", "data_incomplete", "controls_off"),
}


@dataclass(frozen=True)
class Thresholds:
    source: str = "默认值：全面停产企业用电量下降75%以上、限产企业下降约50%、夜间用电高于白天1.5倍列入关注"
    # baseline: normal production days before the alert
    baseline_days: int = 30  # calendar days before the alert's first day the baseline is drawn from
    min_baseline_days: int = 7  # fewer normal days: no baseline (flag no_baseline)
    exclude_weekends: bool = False
    min_coverage_percent: int = 90  # share of hours with data for a day to be complete
    # expected ceiling
    standby_percent: int = 25  # stop: the standby share of the baseline (fell by more than 75 %)
    limit_tolerance_percent: int = 10  # limit by p %: (100 − p + tolerance) % of the baseline
    grace_hours: int = 0  # hours after an alert starts before the measures are checked (shutting down)
    # control equipment
    running_percent: int = 50  # production runs when at least this share of its baseline hour
    control_min_percent: int = 50  # controls far below: control share under this × production share
    controls_off_min_hours: int = 3  # that many hours in a day raise controls_off
    opposite_percent: int = 20  # production up and control down by more than this over the day
    # night-time pattern
    night_ratio: float = 1.5  # night hourly mean above this × day hourly mean
    night_start: int = 22  # night from 22:00 …
    night_end: int = 6  # … to 06:00 (local time)
    night_min_percent: int = 30  # the night mean must be at least this share of the baseline hourly mean
    explains: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_EXPLAINS))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["explains"] = {k: list(v) for k, v in self.explains.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Thresholds:
        data = dict(data or {})
        if "explains" in data:
            data["explains"] = {k: tuple(v) for k, v in data["explains"].items()}
        return cls(**data)

    def night_hours(self) -> tuple[int, ...]:
        if self.night_start > self.night_end:
            return tuple(h for h in range(24) if h >= self.night_start or h < self.night_end)
        return tuple(range(self.night_start, self.night_end))
