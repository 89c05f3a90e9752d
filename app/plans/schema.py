"""The schema of a plan file's rules (inventories/plans/*.toml): alert levels, trigger, approval, reporting and
reduction targets. Plain dataclasses and plain checks, no Flask, no database.

`check(doc, text, name)` returns the rules and the problems, each naming the file, the line and the key
(`plans/chuanyu.toml line 31 alert.levels.red.when[0][1].hours: must be whole hours from 1 to 720, not 0`).
`Rules.from_dict(rules.to_dict())` round-trips: the loaded rules are stored with the plan (`Plan.rules`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from app.plans.power_rules import check_power
from app.power.domain.thresholds import Thresholds

LEVELS = ("yellow", "orange", "red")  # low to high; 0 = no alert
LEVEL_RANK = {name: n for n, name in enumerate(LEVELS, start=1)}
DECIDES = ("upper", "lower", "middle")
DAILY_AQI = ("calendar_day", "rolling_24h")
DUST = ("excluded", "counted")
OZONE = ("excluded", "counted", "process_response")
TRIGGERS = ("connected_group", "contiguous_mean", "any_unit")
ACTIONS = ("review", "agree", "approve")
DAILY_REPORT = ("every day", "same day", "previous day")
GRADES = ("leading", "A", "B", "C", "D", "ungraded")
CATEGORIES = ("key", "micro", "guarantee", "other")
POLLUTANTS = ("SO2", "NOx", "PM", "VOCs")
# The fields a daily report or an episode summary may ask for (labels: app/response/vocabulary.REPORT_FIELDS).
REPORT_FIELDS = ("leaders_activities", "bureau_work", "next_plans", "issue_list_rectification", "on_site_supervision",
                 "patrols", "online_supervision", "area_source_control", "previous_day_response", "alert", "duration",
                 "departments_response", "enterprises_implementation", "work_summary")  # fmt: skip

TOP_KEYS = {"code", "name", "source", "contiguous_zones", "list_deadline", "zones", "case_limits",
            "alert", "approval", "reporting", "targets", "power_check"}  # fmt: skip


@dataclass(frozen=True)
class Condition:
    """Daily AQI above `aqi_above` for at least `hours` hours."""

    aqi_above: int
    hours: int


@dataclass(frozen=True)
class LevelRule:
    level: str
    # Alternatives: the level holds when every condition of at least one alternative holds.
    when: tuple[tuple[Condition, ...], ...]


@dataclass(frozen=True)
class Trigger:
    kind: str  # connected_group (川渝), contiguous_mean (喀什), any_unit (one city)
    within_zone: int | None = None
    across_zones: int | None = None
    min_units: int | None = None


@dataclass(frozen=True)
class AlertRules:
    source: str
    levels: tuple[LevelRule, ...]  # yellow, orange, red (each present)
    trigger: Trigger
    pollutant: str = "AQI"
    decides: str = "upper"
    daily_aqi: str = "calendar_day"
    merge_gap_hours: int = 36
    lift_hours: int = 36
    upgrade_observed_hours: int | None = None
    lift_without_approval: bool = False
    dust: str = "excluded"
    ozone: str = "counted"
    advance_notice_hours: int | None = None
    advance_notice_min_hours: int | None = None
    higher_authority: str | None = None

    def rule(self, level: str) -> LevelRule:
        return next(r for r in self.levels if r.level == level)

    @property
    def thresholds(self) -> tuple[int, ...]:
        return tuple(sorted({c.aqi_above for r in self.levels for alt in r.when for c in alt}))


@dataclass(frozen=True)
class ApprovalStep:
    action: str  # review, agree, approve
    role: str  # app.auth.roles.Role value
    jurisdiction: str | None = None  # the approver's jurisdiction when the step names one (四川省, 重庆市)
    delegate: str | None = None  # a role that may act when delegated


@dataclass(frozen=True)
class Approval:
    source: str
    chains: dict[str, tuple[ApprovalStep, ...]]  # level → steps in order
    after_approval: str = ""
    confirmations: bool = False


@dataclass(frozen=True)
class Reporting:
    source: str
    daily_report: str = "every day"
    daily_report_due: str | None = None  # "HH:MM" local time
    daily_report_photos: bool = False
    daily_report_fields: tuple[str, ...] = ()
    summary_due_next_day: str | None = None  # "HH:MM" the day after the lift
    summary_within_hours: int | None = None
    summary_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Targets:
    source: str
    percent: dict[str, int]  # level → at least this share of the jurisdiction's total emissions
    pollutants: tuple[str, ...] = POLLUTANTS
    exempt_grades: tuple[str, ...] = ()
    exempt_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    alert: AlertRules | None = None
    approval: Approval | None = None
    reporting: Reporting | None = None
    targets: Targets | None = None
    power_check: Thresholds | None = None  # the power-consumption check's thresholds (app/plans/power_rules.py)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists, not tuples): equal to what the database gives back, so a second load changes nothing."""
        return json.loads(json.dumps({k: v for k, v in asdict(self).items() if v is not None}))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Rules:
        data = data or {}
        alert = approval = reporting = targets = None
        if a := data.get("alert"):
            levels = tuple(
                LevelRule(r["level"], tuple(tuple(Condition(**c) for c in alt) for alt in r["when"]))
                for r in a["levels"]
            )
            alert = AlertRules(**{**a, "levels": levels, "trigger": Trigger(**a["trigger"])})
        if p := data.get("approval"):
            chains = {lvl: tuple(ApprovalStep(**s) for s in steps) for lvl, steps in p["chains"].items()}
            approval = Approval(**{**p, "chains": chains})
        if r := data.get("reporting"):
            reporting = Reporting(**{**r, "daily_report_fields": tuple(r.get("daily_report_fields", ())),
                                     "summary_fields": tuple(r.get("summary_fields", ()))})  # fmt: skip
        if t := data.get("targets"):
            targets = Targets(**{**t, **{k: tuple(t.get(k, ())) for k in ("pollutants", "exempt_grades",
                                                                           "exempt_categories")}})  # fmt: skip
        power = Thresholds.from_dict(data["power_check"]) if data.get("power_check") else None
        return cls(alert, approval, reporting, targets, power)


# --- checking ----------------------------------------------------------------------------------------------


def line_of(text: str, path: tuple[str | int, ...]) -> int | None:
    """The line of `path` (keys and array indexes) in a TOML text: the deepest key found, else its table.

    A small scanner of headers (`[a.b]`, `[[a.b]]`, counting array tables) and `key =` lines; enough to
    point at the place a problem is."""
    keys = [p for p in path if isinstance(p, str)]
    best: tuple[int, int] | None = None  # (depth matched, line)
    table: list[str] = []
    counts: dict[str, int] = {}
    wanted_index = {}
    for n, p in enumerate(path):  # an array-table index right after a key: [[approval.red]] number n
        if isinstance(p, int) and n > 0 and isinstance(path[n - 1], str):
            wanted_index[".".join(str(x) for x in path[:n] if isinstance(x, str))] = p
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith(('"', "'")) else raw.strip()
        m = re.match(r"^\[\[\s*([^\]]+?)\s*\]\]$", line) or re.match(r"^\[\s*([^\]]+?)\s*\]$", line)
        if m:
            table = [k.strip().strip('"') for k in m.group(1).split(".")]
            name = ".".join(table)
            if line.startswith("[["):
                counts[name] = counts.get(name, -1) + 1
                if name in wanted_index and counts[name] != wanted_index[name]:
                    table = ["\0"]  # another element of the wanted array table
                    continue
            depth = _prefix(table, keys)
            if depth == len(table) and (best is None or depth > best[0]):
                best = (depth, lineno)
            continue
        m = re.match(r"^([A-Za-z0-9_\-\"]+(?:\.[A-Za-z0-9_\-\"]+)*)\s*=", line)
        if m:
            full = table + [k.strip('"') for k in m.group(1).split(".")]
            depth = _prefix(full, keys)
            if depth == len(full) and (best is None or depth > best[0]):
                best = (depth, lineno)
    return best[1] if best else None


def _prefix(a: list[str], b: list[str]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def _key(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


class _Checker:
    def __init__(self, text: str, name: str, roles: set[str] | None, places: set[str] | None) -> None:
        self.text, self.name, self.roles, self.places = text, name, roles, places
        self.problems: list[str] = []

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        line = line_of(self.text, path)
        where = f"{self.name} line {line}" if line else self.name
        self.problems.append(f"{where} {_key(path)}: {message}")

    def table(self, value: Any, path: tuple[str | int, ...], allowed: set[str], required: set[str]) -> bool:
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
            return False
        for key in sorted(set(value) - allowed):
            self.fail((*path, key), f"unknown key (known: {', '.join(sorted(allowed))})")
        for key in sorted(required - set(value)):
            self.fail((*path, key), "is required")
        return True

    def text_value(self, d: dict[str, Any], path: tuple[str | int, ...], key: str, default: str | None = None,
                   choices: tuple[str, ...] | None = None) -> str | None:  # fmt: skip
        value = d.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), f"must be text, not {value!r}")
            return default
        if choices and value not in choices:
            self.fail((*path, key), f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def whole(self, d: dict[str, Any], path: tuple[str | int, ...], key: str, low: int, high: int,
              default: int | None = None) -> int | None:  # fmt: skip
        value = d.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail((*path, key), f"must be a whole number from {low} to {high}, not {value!r}")
            return default
        return value

    def flag(self, d: dict[str, Any], path: tuple[str | int, ...], key: str) -> bool:
        value = d.get(key, False)
        if not isinstance(value, bool):
            self.fail((*path, key), f"must be true or false, not {value!r}")
            return False
        return value

    def clock(self, d: dict[str, Any], path: tuple[str | int, ...], key: str) -> str | None:
        value = d.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            self.fail((*path, key), f'must be a time "HH:MM", not {value!r}')
            return None
        return value

    def words(self, d: dict[str, Any], path: tuple[str | int, ...], key: str,
              choices: tuple[str, ...] | None = None) -> tuple[str, ...]:  # fmt: skip
        value = d.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail((*path, key), "must be a list of text")
            return ()
        for v in value:
            if choices and v not in choices:
                self.fail((*path, key), f"{v!r} is not one of {', '.join(choices)}")
        return tuple(value)

    # --- sections -------------------------------------------------------------------------------------------

    def alert(self, a: Any) -> AlertRules | None:
        path: tuple[str | int, ...] = ("alert",)
        allowed = {"source", "pollutant", "decides", "daily_aqi", "merge_gap_hours", "lift_hours",
                   "upgrade_observed_hours", "lift_without_approval", "dust", "ozone", "advance_notice_hours",
                   "advance_notice_min_hours", "higher_authority", "levels", "trigger"}  # fmt: skip
        if not self.table(a, path, allowed, {"source", "levels", "trigger"}):
            return None
        levels = self.levels(a.get("levels"), (*path, "levels"))
        trigger = self.trigger(a.get("trigger"), (*path, "trigger"))
        notice = self.whole(a, path, "advance_notice_hours", 1, 240)
        notice_min = self.whole(a, path, "advance_notice_min_hours", 1, 240)
        if notice and notice_min and notice_min > notice:
            self.fail((*path, "advance_notice_min_hours"), f"cannot exceed advance_notice_hours ({notice})")
        rules = AlertRules(
            source=self.text_value(a, path, "source") or "",
            levels=levels or (),
            trigger=trigger or Trigger("any_unit"),
            pollutant=self.text_value(a, path, "pollutant", "AQI", ("AQI", "PM2.5")) or "AQI",
            decides=self.text_value(a, path, "decides", "upper", DECIDES) or "upper",
            daily_aqi=self.text_value(a, path, "daily_aqi", "calendar_day", DAILY_AQI) or "calendar_day",
            merge_gap_hours=self.whole(a, path, "merge_gap_hours", 0, 240, 36) or 0,
            lift_hours=self.whole(a, path, "lift_hours", 1, 240, 36) or 36,
            upgrade_observed_hours=self.whole(a, path, "upgrade_observed_hours", 1, 240),
            lift_without_approval=self.flag(a, path, "lift_without_approval"),
            dust=self.text_value(a, path, "dust", "excluded", DUST) or "excluded",
            ozone=self.text_value(a, path, "ozone", "counted", OZONE) or "counted",
            advance_notice_hours=notice,
            advance_notice_min_hours=notice_min,
            higher_authority=self.text_value(a, path, "higher_authority"),
        )
        return rules if levels and trigger else None

    def levels(self, value: Any, path: tuple[str | int, ...]) -> tuple[LevelRule, ...] | None:
        if not self.table(value, path, set(LEVELS), set(LEVELS)):
            return None
        out = []
        for level in LEVELS:
            lp = (*path, level)
            body = value.get(level)
            if body is None or not self.table(body, lp, {"when"}, {"when"}):
                continue
            when = body["when"]
            if not isinstance(when, list) or not when:
                self.fail((*lp, "when"), "must be a list of alternatives, each a list of {aqi_above, hours}")
                continue
            alternatives = []
            for i, alt in enumerate(when):
                if not isinstance(alt, list) or not alt:
                    self.fail((*lp, "when", i), "must be a non-empty list of {aqi_above, hours}")
                    continue
                conditions = []
                for j, c in enumerate(alt):
                    cp = (*lp, "when", i, j)
                    if not self.table(c, cp, {"aqi_above", "hours"}, {"aqi_above", "hours"}):
                        continue
                    above = self.whole(c, cp, "aqi_above", 0, 500)
                    hours = self.whole(c, cp, "hours", 1, 720)
                    if above is not None and hours is not None:
                        conditions.append(Condition(above, hours))
                if len(conditions) == len(alt):
                    alternatives.append(tuple(conditions))
            if len(alternatives) == len(when):
                out.append(LevelRule(level, tuple(alternatives)))
        return tuple(out) if len(out) == len(LEVELS) else None

    def trigger(self, value: Any, path: tuple[str | int, ...]) -> Trigger | None:
        if not self.table(value, path, {"kind", "within_zone", "across_zones", "min_units"}, {"kind"}):
            return None
        kind = self.text_value(value, path, "kind", None, TRIGGERS)
        if kind == "connected_group":
            for key in ("within_zone", "across_zones"):
                if key not in value:
                    self.fail((*path, key), "is required for a connected_group trigger")
            within = self.whole(value, path, "within_zone", 1, 1000)
            across = self.whole(value, path, "across_zones", 1, 1000)
            return Trigger(kind, within_zone=within, across_zones=across) if within and across else None
        if kind == "contiguous_mean":
            if "min_units" not in value:
                self.fail((*path, "min_units"), "is required for a contiguous_mean trigger")
            n = self.whole(value, path, "min_units", 1, 16)
            return Trigger(kind, min_units=n) if n else None
        return Trigger(kind) if kind else None

    def approval(self, p: Any) -> Approval | None:
        path: tuple[str | int, ...] = ("approval",)
        if not self.table(p, path, {"source", "after_approval", "confirmations", *LEVELS}, {"source", *LEVELS}):
            return None
        chains = {}
        for level in LEVELS:
            steps = p.get(level)
            if steps is None:
                continue
            if not isinstance(steps, list) or not steps:
                self.fail((*path, level), "must be a list of steps ([[approval.LEVEL]])")
                continue
            out = []
            for i, s in enumerate(steps):
                sp = (*path, level, i)
                if not self.table(s, sp, {"action", "role", "jurisdiction", "delegate"}, {"action", "role"}):
                    continue
                action = self.text_value(s, sp, "action", None, ACTIONS)
                role = self.text_value(s, sp, "role")
                delegate = self.text_value(s, sp, "delegate")
                for key, r in (("role", role), ("delegate", delegate)):
                    if r and self.roles is not None and r not in self.roles:
                        self.fail((*sp, key), f"{r!r} is not a known role")
                where = self.text_value(s, sp, "jurisdiction")
                if where and self.places is not None and where not in self.places:
                    self.fail((*sp, "jurisdiction"), f"unknown jurisdiction {where}")
                if action and role:
                    out.append(ApprovalStep(action, role, where, delegate))
            if out and out[-1].action != "approve":
                self.fail((*path, level, len(steps) - 1), "the last step of a chain must be 'approve'")
            chains[level] = tuple(out)
        return Approval(
            source=self.text_value(p, path, "source") or "", chains=chains,
            after_approval=self.text_value(p, path, "after_approval") or "",
            confirmations=self.flag(p, path, "confirmations"),
        )  # fmt: skip

    def reporting(self, r: Any) -> Reporting | None:
        path: tuple[str | int, ...] = ("reporting",)
        allowed = {"source", "daily_report", "daily_report_due", "daily_report_photos", "daily_report_fields",
                   "summary_due_next_day", "summary_within_hours", "summary_fields"}  # fmt: skip
        if not self.table(r, path, allowed, {"source"}):
            return None
        if "summary_due_next_day" in r and "summary_within_hours" in r:
            self.fail((*path, "summary_within_hours"), "give summary_due_next_day or summary_within_hours, not both")
        return Reporting(
            source=self.text_value(r, path, "source") or "",
            daily_report=self.text_value(r, path, "daily_report", "every day", DAILY_REPORT) or "every day",
            daily_report_due=self.clock(r, path, "daily_report_due"),
            daily_report_photos=self.flag(r, path, "daily_report_photos"),
            daily_report_fields=self.words(r, path, "daily_report_fields", REPORT_FIELDS),
            summary_due_next_day=self.clock(r, path, "summary_due_next_day"),
            summary_within_hours=self.whole(r, path, "summary_within_hours", 1, 720),
            summary_fields=self.words(r, path, "summary_fields", REPORT_FIELDS),
        )

    def targets(self, t: Any) -> Targets | None:
        path: tuple[str | int, ...] = ("targets",)
        allowed = {"source", "percent", "pollutants", "exempt_grades", "exempt_categories"}
        if not self.table(t, path, allowed, {"source", "percent"}):
            return None
        percent: dict[str, int] = {}
        pct = t.get("percent")
        if self.table(pct, (*path, "percent"), set(LEVELS), set(LEVELS)):
            for level in LEVELS:
                n = self.whole(pct, (*path, "percent"), level, 0, 100)
                if n is not None:
                    percent[level] = n
            values = [percent.get(lv, 0) for lv in LEVELS]
            if values != sorted(values):
                self.fail((*path, "percent"), "a higher level cannot ask for a smaller reduction")
        return Targets(
            source=self.text_value(t, path, "source") or "", percent=percent,
            pollutants=self.words(t, path, "pollutants", POLLUTANTS) or POLLUTANTS,
            exempt_grades=self.words(t, path, "exempt_grades", GRADES),
            exempt_categories=self.words(t, path, "exempt_categories", CATEGORIES),
        )  # fmt: skip


def check(
    doc: dict[str, Any], text: str, name: str, roles: set[str] | None = None, places: set[str] | None = None
) -> tuple[Rules, list[str]]:
    """The rules of one plan document and the problems found (empty when the file is sound)."""
    c = _Checker(text, name, roles, places)
    for key in sorted(set(doc) - TOP_KEYS):
        c.fail((key,), f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")
    rules = Rules(
        alert=c.alert(doc["alert"]) if "alert" in doc else None,
        approval=c.approval(doc["approval"]) if "approval" in doc else None,
        reporting=c.reporting(doc["reporting"]) if "reporting" in doc else None,
        targets=c.targets(doc["targets"]) if "targets" in doc else None,
        power_check=check_power(c, doc["power_check"]) if "power_check" in doc else None,
    )
    return rules, c.problems
