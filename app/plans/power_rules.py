"""The `[power_check]` section of a plan file: the thresholds of the power-consumption check
(app/power/domain/thresholds.py), checked with line and key like the rest of the plan (app/plans/schema.py)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Protocol

from app.power.domain.thresholds import FLAG_KINDS, REPORT_KINDS, Thresholds

WHOLE = {  # key → (lowest, highest)
    "baseline_days": (1, 365), "min_baseline_days": (1, 365), "min_coverage_percent": (1, 100),
    "standby_percent": (0, 100), "limit_tolerance_percent": (0, 100), "grace_hours": (0, 72),
    "running_percent": (1, 100), "control_min_percent": (1, 100), "controls_off_min_hours": (1, 24),
    "opposite_percent": (1, 100), "night_start": (0, 23), "night_end": (0, 23), "night_min_percent": (0, 100),
}  # fmt: skip
KEYS = {f.name for f in fields(Thresholds)}


class _Checker(Protocol):
    def fail(self, path: tuple[str | int, ...], message: str) -> None: ...
    def table(self, value: Any, path: tuple[str | int, ...], allowed: set[str], required: set[str]) -> bool: ...
    def whole(self, d: dict[str, Any], path: tuple[str | int, ...], key: str, low: int, high: int,
              default: int | None = None) -> int | None: ...  # fmt: skip
    def flag(self, d: dict[str, Any], path: tuple[str | int, ...], key: str) -> bool: ...
    def text_value(self, d: dict[str, Any], path: tuple[str | int, ...], key: str, default: str | None = None,
                   choices: tuple[str, ...] | None = None) -> str | None: ...  # fmt: skip
    def words(self, d: dict[str, Any], path: tuple[str | int, ...], key: str,
              choices: tuple[str, ...] | None = None) -> tuple[str, ...]: ...  # fmt: skip


def check_power(c: _Checker, value: Any) -> Thresholds | None:
    path: tuple[str | int, ...] = ("power_check",)
    if not c.table(value, path, KEYS, {"source"}):
        return None
    default = Thresholds()
    out: dict[str, Any] = {"source": c.text_value(value, path, "source") or ""}
    for key, (low, high) in WHOLE.items():
        out[key] = c.whole(value, path, key, low, high, getattr(default, key))
    out["exclude_weekends"] = c.flag(value, path, "exclude_weekends")
    ratio = value.get("night_ratio", default.night_ratio)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 1 <= ratio <= 20:
        c.fail((*path, "night_ratio"), f"must be a number from 1 to 20, not {ratio!r}")
        ratio = default.night_ratio
    out["night_ratio"] = float(ratio)
    if (out["min_baseline_days"] or 0) > (out["baseline_days"] or 0):
        c.fail((*path, "min_baseline_days"), f"cannot exceed baseline_days ({out['baseline_days']})")
    if out["night_start"] == out["night_end"]:
        c.fail((*path, "night_end"), "night cannot start and end at the same hour")
    explains = dict(default.explains)
    if "explains" in value:
        given = value["explains"]
        if c.table(given, (*path, "explains"), set(REPORT_KINDS), set()):
            for kind in given:
                explains[kind] = c.words(given, (*path, "explains"), kind, FLAG_KINDS)
    out["explains"] = explains
    return Thresholds(**out)
