"""Reading and checking the place inventories (jurisdictions, adjacency, plans' zones) from files.

Pure functions over files: every problem is collected with its file, row and field before anything is
written, so a bad file changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.cases import limits
from app.core.errors import ProblemsError
from app.places.graph import components

LEVELS = ("province", "city", "county")
KINDS = {
    "province", "municipality", "prefecture_city", "prefecture", "district", "county", "county_city",
    "autonomous_county", "new_area", "high_tech_zone", "development_zone",
}  # fmt: skip
COLUMNS = ["code", "name", "short_name", "level", "parent_code", "kind", "official"]


class InventoryError(ProblemsError):
    pass


@dataclass(frozen=True)
class PlaceRow:
    code: str
    name: str
    short_name: str
    level: str
    parent_code: str | None
    kind: str
    official: bool


@dataclass(frozen=True)
class ZoneRow:
    code: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class PlanRow:
    code: str
    name: str
    source: str
    zones: tuple[ZoneRow, ...]
    file: str
    list_deadline: str | None = None
    case_limits: dict[str, int] | None = None  # hours per case state; None: the defaults
    targets: dict[str, Any] | None = None  # [targets]: percent per response level, exempt grades/categories


@dataclass
class Places:
    places: dict[str, PlaceRow] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    edge_km: dict[tuple[str, str], float] = field(default_factory=dict)  # shared border length, when recorded
    adjacency_digest: str | None = None  # the derivation's digest of its edge list (app/places/derive.py)
    adjacency_source: str = ""
    plans: list[PlanRow] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)

    def path_of(self, code: str) -> str:
        parts, current = [], self.places.get(code)
        while current is not None:
            parts.append(current.code)
            current = self.places.get(current.parent_code) if current.parent_code else None
        return "/" + "/".join(reversed(parts)) + "/"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(root: Path) -> Places:
    """Read inventories/places and inventories/plans; raise InventoryError naming every problem."""
    data, problems = Places(), []
    _read_jurisdictions(root / "places" / "jurisdictions.csv", data, problems)
    _read_adjacency(root / "places" / "adjacency.yaml", data, problems)
    for path in sorted((root / "plans").glob("*.toml")):
        _read_plan(path, data, problems)
    if problems:
        raise InventoryError(problems)
    return data


def _read_jurisdictions(path: Path, data: Places, problems: list[str]) -> None:
    name = f"places/{path.name}"
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames != COLUMNS:
                problems.append(f"{name}: header must be {','.join(COLUMNS)}")
                return
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return
    data.checksums[name] = _sha(path)
    for i, row in enumerate(rows, start=2):
        where = f"{name} row {i}"
        code = (row["code"] or "").strip()
        if not code or len(code) != 6 or not code.isalnum():
            problems.append(f"{where}: code {code!r} must be 6 characters")
            continue
        if code in data.places:
            problems.append(f"{where}: code {code} appears twice")
            continue
        if row["level"] not in LEVELS:
            problems.append(f"{where}: level {row['level']!r} is not one of {', '.join(LEVELS)}")
        if row["kind"] not in KINDS:
            problems.append(f"{where}: kind {row['kind']!r} is unknown")
        if row["official"] not in ("true", "false"):
            problems.append(f"{where}: official must be true or false")
        if not (row["name"] or "").strip() or not (row["short_name"] or "").strip():
            problems.append(f"{where}: name and short_name are required")
        official = row["official"] == "true"
        if official and not code.isdigit():
            problems.append(f"{where}: an official code is 6 digits")
        data.places[code] = PlaceRow(
            code, row["name"].strip(), row["short_name"].strip(), row["level"],
            (row["parent_code"] or "").strip() or None,
            row["kind"], official,
        )  # fmt: skip
    order = {lvl: n for n, lvl in enumerate(LEVELS)}
    for p in data.places.values():
        if p.parent_code is None:
            if p.level != "province":
                problems.append(f"{name}: {p.code} {p.name} has no parent but is not a province")
            continue
        parent = data.places.get(p.parent_code)
        if parent is None:
            problems.append(f"{name}: {p.code} {p.name} names unknown parent {p.parent_code}")
        elif p.level in order and parent.level in order and order[parent.level] >= order[p.level]:
            problems.append(f"{name}: {p.code} {p.name} ({p.level}) cannot sit below {parent.name} ({parent.level})")


def _read_adjacency(path: Path, data: Places, problems: list[str]) -> None:
    name = f"places/{path.name}"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return
    data.checksums[name] = _sha(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("edges"), list) or not doc.get("source"):
        problems.append(f"{name}: needs a 'source' note and an 'edges' list")
        return
    data.adjacency_source = str(doc["source"]).strip()
    derived = doc.get("derived")
    if isinstance(derived, dict) and derived.get("digest"):
        data.adjacency_digest = str(derived["digest"])
    for i, edge in enumerate(doc["edges"], start=1):
        if not isinstance(edge, list) or len(edge) not in (2, 3):
            problems.append(f"{name} edge {i}: must be [code, code] or [code, code, shared km]")
            continue
        km = edge[2] if len(edge) == 3 else None
        if km is not None and (isinstance(km, bool) or not isinstance(km, int | float) or km <= 0):
            problems.append(f"{name} edge {i}: the shared border length must be a number of km above 0, not {km!r}")
            continue
        a, b = (str(x) for x in edge[:2])  # YAML reads unquoted codes as integers
        for code in (a, b):
            if code not in data.places:
                problems.append(f"{name} edge {i}: unknown code {code}")
        if a == b:
            problems.append(f"{name} edge {i}: {a} cannot border itself")
            continue
        pair = (min(a, b), max(a, b))
        if pair in data.edges:
            problems.append(f"{name} edge {i}: {a}–{b} is listed twice")
        data.edges.add(pair)
        if km is not None:
            data.edge_km[pair] = float(km)


def _read_plan(path: Path, data: Places, problems: list[str]) -> None:
    name = f"plans/{path.name}"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return
    data.checksums[name] = _sha(path)
    for key in ("code", "name", "source"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            problems.append(f"{name}: '{key}' is required")
    zones, seen = [], {}
    for i, z in enumerate(doc.get("zones", []), start=1):
        if not isinstance(z, dict) or not z.get("code") or not z.get("name") or not isinstance(z.get("members"), list):
            problems.append(f"{name} zone {i}: needs code, name and members")
            continue
        members = tuple(str(m) for m in z["members"])
        for m in members:
            if m not in data.places:
                problems.append(f"{name} zone {z['code']}: unknown member {m}")
            elif m in seen:
                problems.append(f"{name} zone {z['code']}: {m} is already in zone {seen[m]}")
            seen[m] = z["code"]
        groups = components(members, data.edges)
        if doc.get("contiguous_zones") and len(groups) > 1 and all(m in data.places for m in members):
            problems.append(f"{name} zone {z['code']}: members are not connected ({len(groups)} groups)")
        zones.append(ZoneRow(str(z["code"]), str(z["name"]), members))
    deadline = doc.get("list_deadline")
    if deadline is not None and not _valid_month_day(deadline):
        problems.append(f'{name}: list_deadline must be "MM-DD", not {deadline!r}')
    case_limits = None
    if "case_limits" in doc:
        case_limits, wrong = limits.check(doc["case_limits"])
        problems.extend(f"{name}: {problem}" for problem in wrong)
    targets = None
    if "targets" in doc:
        targets = _targets(doc["targets"], name, problems)
    if not problems:
        data.plans.append(
            PlanRow(doc["code"], doc["name"], doc["source"], tuple(zones), name, deadline, case_limits or None,
                    targets)
        )


_TARGET_KEYS = {"source", "pollutants", "percent", "exempt_grades", "exempt_categories"}
_ALERT_LEVELS = ("yellow", "orange", "red")
_GRADES = ("A", "B", "C", "D", "leading")
_CATEGORIES = ("key", "guarantee", "micro", "other")


def _targets(value: Any, name: str, problems: list[str]) -> dict[str, Any] | None:
    """A plan's [targets] table, checked: percent = {yellow, orange, red} (the alert levels, i.e. response III,
    II, I) each above 0 and at most 100, not decreasing; exempt_grades and exempt_categories from the vocabulary.
    The layout is app/plans/schema.py's `Targets` (plans branch), so that the two loaders read the same table."""
    if not isinstance(value, dict):
        problems.append(f"{name}: targets must be a table")
        return None
    before = len(problems)
    unknown = set(value) - _TARGET_KEYS
    if unknown:
        problems.append(f"{name}: targets: unknown keys {', '.join(sorted(unknown))}")
    percent = value.get("percent")
    if not isinstance(percent, dict) or set(percent) != set(_ALERT_LEVELS) or not all(
        isinstance(percent[k], int | float) and not isinstance(percent[k], bool) and 0 < percent[k] <= 100
        for k in _ALERT_LEVELS
    ):
        problems.append(f"{name}: targets.percent must give yellow, orange and red, each above 0 and at most 100")
    elif not percent["yellow"] <= percent["orange"] <= percent["red"]:
        problems.append(f"{name}: targets.percent must not decrease from yellow to orange to red")
    for key, allowed in (("exempt_grades", _GRADES), ("exempt_categories", _CATEGORIES)):
        items = value.get(key, [])
        if not isinstance(items, list) or not all(i in allowed for i in items):
            problems.append(f"{name}: targets.{key} must be a list of {', '.join(allowed)}")
    if len(problems) > before:
        return None
    return {
        "percent": {k: float(percent[k]) for k in _ALERT_LEVELS},
        "exempt_grades": list(value.get("exempt_grades", [])),
        "exempt_categories": list(value.get("exempt_categories", [])),
    }


def _valid_month_day(value: object) -> bool:
    from datetime import date

    if not isinstance(value, str) or len(value) != 5 or value[2] != "-":
        return False
    try:
        date(2024, int(value[:2]), int(value[3:]))
    except ValueError:
        return False
    return True
