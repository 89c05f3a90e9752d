"""Reading and checking the plan files (inventories/plans/*.toml): one file per plan, no code per plan.

Pure functions over files, no Flask, no database: every problem is collected, naming the file (and for the
rules the line and key), before anything is written; `app.places.inventory.read` calls `read_plans` with the
places and the adjacency it has read.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from app.auth.roles import Role
from app.cases import limits
from app.places.graph import components
from app.plans.schema import Rules, check


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
    rules: Rules = field(default_factory=Rules)


def read_plans(
    folder: Path, places: Iterable[str], edges: set[tuple[str, str]], problems: list[str],
    checksums: dict[str, str] | None = None,
) -> list[PlanRow]:  # fmt: skip
    known = set(places)
    plans: list[PlanRow] = []
    codes: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        row = read_plan(path, known, edges, problems, checksums)
        if row is None:
            continue
        if row.code in codes:
            problems.append(f"{row.file}: code {row.code!r} is already the code of {codes[row.code]}")
            continue
        codes[row.code] = row.file
        plans.append(row)
    return plans


def read_plan(
    path: Path, known: set[str], edges: set[tuple[str, str]], problems: list[str],
    checksums: dict[str, str] | None = None,
) -> PlanRow | None:  # fmt: skip
    name = f"plans/{path.name}"
    before = len(problems)
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        problems.append(f"{name}: cannot be read ({e})")
        return None
    if checksums is not None:
        checksums[name] = hashlib.sha256(path.read_bytes()).hexdigest()
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
            if m not in known:
                problems.append(f"{name} zone {z['code']}: unknown member {m}")
            elif m in seen:
                problems.append(f"{name} zone {z['code']}: {m} is already in zone {seen[m]}")
            seen[m] = z["code"]
        groups = components(members, edges)
        if doc.get("contiguous_zones") and len(groups) > 1 and all(m in known for m in members):
            problems.append(f"{name} zone {z['code']}: members are not connected ({len(groups)} groups)")
        zones.append(ZoneRow(str(z["code"]), str(z["name"]), members))
    deadline = doc.get("list_deadline")
    if deadline is not None and not _valid_month_day(deadline):
        problems.append(f'{name}: list_deadline must be "MM-DD", not {deadline!r}')
    case_limits = None
    if "case_limits" in doc:
        case_limits, wrong = limits.check(doc["case_limits"])
        problems.extend(f"{name}: {problem}" for problem in wrong)
    rules, wrong = check(doc, text, name, roles={r.value for r in Role}, places=known)
    problems.extend(wrong)
    if len(problems) > before:
        return None
    return PlanRow(doc["code"], doc["name"], doc["source"], tuple(zones), name, deadline, case_limits or None, rules)


def _valid_month_day(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 5 or value[2] != "-":
        return False
    try:
        date(2024, int(value[:2]), int(value[3:]))
    except ValueError:
        return False
    return True
