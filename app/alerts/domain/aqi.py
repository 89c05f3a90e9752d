"""AQI from PM2.5 concentrations by HJ 633: the breakpoint tables are data (inventories/aqi/hj633.toml), the
edition is chosen by the day a value is for (the 2012 tables before 2026-03-01, the 2026 revision from then)."""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from app.core.errors import ProblemsError

TABLES = Path(__file__).resolve().parents[3] / "inventories" / "aqi" / "hj633.toml"


class TableError(ProblemsError):
    pass


@dataclass(frozen=True)
class Table:
    code: str
    source: str
    verified: bool
    starts: date | None  # applies from this day (None: from any day)
    until: date | None  # applies before this day (None: open)
    pm25: tuple[tuple[float, int], ...]  # (concentration, IAQI), increasing
    note: str = ""

    @property
    def label(self) -> str:
        return self.code if self.verified else f"{self.code}（未核实）"


def load(path: Path = TABLES) -> tuple[Table, ...]:
    name = f"aqi/{path.name}"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise TableError([f"{name}: cannot be read ({e})"]) from e
    problems: list[str] = []
    tables = []
    for i, t in enumerate(doc.get("tables", [])):
        where = f"{name} tables[{i}]"
        unknown = set(t) - {"code", "name", "from", "until", "source", "verified", "note", "pm25"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if not t.get("code") or not t.get("source"):
            problems.append(f"{where}: code and source are required")
        if t.get("verified") is False and not t.get("note"):
            problems.append(f"{where}: an unverified table needs a note saying why")
        points = t.get("pm25")
        ok = (
            isinstance(points, list) and len(points) >= 2
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, int | float) for x in p) for p in points)
        )  # fmt: skip
        if not ok:
            problems.append(f"{where}.pm25: must be a list of [concentration, IAQI] pairs")
            continue
        if points[0] != [0, 0] or any(b[0] <= a[0] or b[1] <= a[1] for a, b in itertools.pairwise(points)):
            problems.append(f"{where}.pm25: must start at [0, 0] and increase in both columns")
        try:
            starts = date.fromisoformat(t["from"]) if t.get("from") else None
            until = date.fromisoformat(t["until"]) if t.get("until") else None
        except (TypeError, ValueError):
            problems.append(f"{where}: from and until are dates YYYY-MM-DD")
            continue
        tables.append(Table(str(t.get("code")), str(t.get("source")), t.get("verified", True) is True, starts, until,
                            tuple((float(c), int(v)) for c, v in points), str(t.get("note", ""))))  # fmt: skip
    if not problems and not tables:
        problems.append(f"{name}: no tables")
    if problems:
        raise TableError(problems)
    return tuple(tables)


def table_for(tables: tuple[Table, ...], day: date) -> Table:
    for t in tables:
        if (t.starts is None or day >= t.starts) and (t.until is None or day < t.until):
            return t
    raise TableError([f"no HJ 633 table applies to {day.isoformat()}"])


def iaqi(table: Table, concentration: np.ndarray) -> np.ndarray:
    """IAQI of PM2.5 concentrations (μg/m³), rounded up; NaN stays NaN; above the last breakpoint, its IAQI."""
    c = np.asarray(concentration, dtype=float)
    bp = np.array([p[0] for p in table.pm25])
    iv = np.array([p[1] for p in table.pm25], dtype=float)
    value = np.interp(c, bp, iv)  # piecewise linear between breakpoints, the formula of HJ 633 §5.1
    return np.where(np.isnan(c), np.nan, np.ceil(np.round(value, 6)))
