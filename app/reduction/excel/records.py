"""The records a workbook is read into, and the list's context they are read in.

Records are plain tuples (they are compared with the stored list, written with COPY and kept in the preview
snapshot), in the field orders below. Dates are ISO strings, enums their values, JSON fields dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from app.reduction.excel import template as t
from app.reduction.excel.cells import Bad, cell_text
from app.reduction.excel.reader import Issue

ENT_FIELDS = (
    "uscc",
    "name",
    "address",
    "latitude",
    "longitude",
    "industry_code",
    "industry",
    "category",
    "grade",
    "graded_on",
    "so2",
    "nox",
    "pm",
    "vocs",
    "uses_coal",
    "uses_oil",
    "toxic",
    "ultra_low",
    "output_basis",
    "truck_visits_per_day",
    "machinery",
    "truck_emissions",
    "machinery_emissions",
    "operating_days",
    "contact_name",
    "contact_phone",
    "notes",
    "jurisdiction_id",
)
UNIT_FIELDS = (
    "code",
    "name",
    "share_so2",
    "share_nox",
    "share_pm",
    "share_vocs",
    "eia_capacity",
    "permit_capacity",
    "last_year_output",
    "capacity_unit",
    "outdoor",
    "under_rectification",
)
MEASURE_FIELDS = ("level", "unit", "kind", "percent", "verification", "max_stage", "basis", "note")
FACILITY_FIELDS = ("code", "name", "kind", "pollutants", "unit")
METER_FIELDS = ("number", "kind", "unit", "facility")
E = {name: i for i, name in enumerate(ENT_FIELDS)}
DEFAULTS: dict[str, Any] = {
    "address": "",
    "latitude": None,
    "longitude": None,
    "industry_code": "",
    "industry": "",
    "grade": None,
    "graded_on": None,
    "so2": 0.0,
    "nox": 0.0,
    "pm": 0.0,
    "vocs": 0.0,
    "uses_coal": False,
    "uses_oil": False,
    "toxic": False,
    "ultra_low": False,
    "output_basis": None,
    "truck_visits_per_day": 0,
    "operating_days": 365,
    "contact_name": "",
    "contact_phone": "",
    "notes": "",
}


# --- the context of a list ------------------------------------------------------------------------------


@dataclass
class Places:
    """The list's jurisdiction subtree: where its enterprises may be."""

    root_id: int
    root_is_county: bool
    by_key: dict[str, int]  # code, name and short name (normalised) → id; ambiguous names → -1

    def resolve(self, v: Any) -> int:
        key = cell_text(v)
        found = self.by_key.get(key)
        if found is None:
            found = self.by_key.get(t.norm(key))
        if found is None:
            raise Bad(_("“%(value)s”不在本清单的辖区内（请填写辖区内区县的名称或行政区划代码）。", value=key))
        if found == -1:
            raise Bad(_("辖区内有多个名为“%(value)s”的行政区，请填写行政区划代码。", value=key))
        return found


@dataclass
class Industries:
    by_key: dict[str, str]  # library code or name (normalised) → library code
    of_code: Callable[[str], str]  # GB/T 4754 code → library code
    labels: str


# --- the parsed file ------------------------------------------------------------------------------------


@dataclass
class Bundle:
    """One enterprise of the file with everything below it."""

    row: int
    ent: tuple[Any, ...]
    units: list[tuple[Any, ...]] = field(default_factory=list)
    measures: list[tuple[Any, ...]] = field(default_factory=list)
    facilities: list[tuple[Any, ...]] = field(default_factory=list)
    meters: list[tuple[Any, ...]] = field(default_factory=list)

    def dump(self) -> tuple[Any, ...]:
        return (self.row, self.ent, self.units, self.measures, self.facilities, self.meters)

    @classmethod
    def load(cls, data: tuple[Any, ...]) -> Bundle:
        """From `dump()` as marshal gives it back (tuples stay tuples, lists lists)."""
        return cls(*data)


@dataclass
class Parsed:
    bundles: list[Bundle]
    issues: list[Issue]
    in_file: int = 0  # the enterprises of the file (their first rows), those refused included

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.error)
