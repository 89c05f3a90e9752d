"""The enterprise editor's form (services/editing.py writes what it accepts): what the form holds, the stored
enterprise as the form shows it, and the form judged by the import's own parser (excel/main_sheet.py and
optional_sheets.py).

The form's values are laid out as the rows of a one-enterprise workbook (the main sheet, the facilities and
the meters sheets) and read by the same converters and checks, so that the editor, the import and the list
page judge the same data the same way. Every refusal names its field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.core.errors import ServiceError
from app.reduction.domain import uscc as uscc_mod
from app.reduction.excel import template as t
from app.reduction.excel.lookups import industries, places_of
from app.reduction.excel.main_sheet import MainParser
from app.reduction.excel.optional_sheets import parse_facilities, parse_meters
from app.reduction.excel.reader import Issue, Sheet
from app.reduction.excel.records import Bundle
from app.reduction.models import Enterprise, ReductionList
from app.reduction.services import policies

# The enterprise's facts the form shows (template columns' keys); the rest (machinery, trucks' and
# machinery's emissions) are kept as stored.
ENT_KEYS = (
    "uscc", "name", "county", "address", "longitude", "latitude", "industry_code", "industry", "category",
    "grade", "graded_on", "output_basis", "so2", "nox", "pm", "vocs", "uses_coal", "uses_oil", "toxic",
    "ultra_low", "operating_days", "truck_visits_per_day", "contact_name", "contact_phone", "notes",
)  # fmt: skip
UNIT_KEYS = tuple(c.key for c in t.UNIT_COLUMNS)
FACILITY_KEYS = ("code", "name", "kind", "pollutants", "unit")
METER_KEYS = ("number", "kind", "unit", "facility")
BOOLS = frozenset({"uses_coal", "uses_oil", "toxic", "ultra_low", "outdoor", "under_rectification"})
KEPT = ("machinery", "truck_emissions", "machinery_emissions")
MAX_ROWS = 50  # units, facilities or meters of one enterprise on the form

_ENT_COLUMNS = {c.key: c for c in t.ENTERPRISE_COLUMNS}
_UNIT_COLUMNS = {c.key: c for c in t.UNIT_COLUMNS}
_FACILITY_COLUMNS = {c.key: c for c in t.FACILITY_COLUMNS}
_METER_COLUMNS = {c.key: c for c in t.METER_COLUMNS}


def label(group: str, key: str) -> str:
    """The field's name as the template's column header names it."""
    columns = {"e": _ENT_COLUMNS, "u": _UNIT_COLUMNS, "f": _FACILITY_COLUMNS, "m": _METER_COLUMNS}[group]
    return _(columns[key].header) if key in columns else key  # the English where the catalogue has it


# --- the form's values ----------------------------------------------------------------------------------


@dataclass
class Draft:
    """What the form holds, as typed: the enterprise's cells and its rows (each a dict of key → text)."""

    ent: dict[str, str] = field(default_factory=dict)
    units: list[dict[str, str]] = field(default_factory=list)
    facilities: list[dict[str, str]] = field(default_factory=list)
    meters: list[dict[str, str]] = field(default_factory=list)


def _rows(form: Mapping[str, Any], prefix: str, keys: Sequence[str]) -> list[dict[str, str]]:
    indexes: set[int] = set()
    for k in form:
        parts = k.split("-", 2)
        if len(parts) == 3 and parts[0] == prefix and parts[1].isdigit() and len(parts[1]) <= 4:
            indexes.add(int(parts[1]))
    out = []
    for i in sorted(indexes):
        row = {key: str(form.get(f"{prefix}-{i}-{key}", "") or "").strip() for key in keys}
        if form.get(f"{prefix}-{i}-remove") or not any(v for k, v in row.items() if k not in BOOLS):
            continue  # a blank row, or one ticked for removal
        out.append(row)
    return out


def draft_of_form(form: Mapping[str, Any]) -> Draft:
    d = Draft(
        ent={key: str(form.get(f"e-{key}", "") or "").strip() for key in ENT_KEYS},
        units=_rows(form, "u", UNIT_KEYS),
        facilities=_rows(form, "f", FACILITY_KEYS),
        meters=_rows(form, "m", METER_KEYS),
    )
    for rows in (d.units, d.facilities, d.meters):
        if len(rows) > MAX_ROWS:
            raise ServiceError(_("一家企业最多填写 %(n)d 行工序、设施或电表。", n=MAX_ROWS))
    return d


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else ""
    if isinstance(v, float):
        return format(v, ".15g")  # what was stored, without float noise
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(getattr(v, "value", v))


def draft_of(e: Enterprise) -> Draft:
    """The stored enterprise as the form shows it."""
    ent = {key: _cell(getattr(e, key, None)) for key in ENT_KEYS if key != "county"}
    ent["county"] = e.jurisdiction.code if e.jurisdiction is not None else ""
    codes = {u.id: u.code for u in e.units}
    facility_codes = {f.id: f.code for f in e.facilities}
    return Draft(
        ent=ent,
        units=[{key: _cell(getattr(u, key)) for key in UNIT_KEYS} for u in e.units],
        facilities=[
            {
                "code": f.code,
                "name": f.name,
                "kind": f.kind or "",
                "pollutants": f.pollutants or "",
                "unit": codes.get(f.process_unit_id, "") if f.process_unit_id else "",
            }
            for f in e.facilities
        ],
        meters=[
            {
                "number": m.number,
                "kind": _cell(m.kind),
                "unit": codes.get(m.process_unit_id, "") if m.process_unit_id else "",
                "facility": facility_codes.get(m.control_facility_id, "") if m.control_facility_id else "",
            }
            for m in e.meters
        ],
    )


def fingerprint(e: Enterprise) -> str:
    """A digest of the stored enterprise as the form shows it: a save over someone else's newer change is
    refused instead of overwriting it."""
    d = draft_of(e)
    text = json.dumps([d.ent, d.units, d.facilities, d.meters], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- judging, by the import's parser -------------------------------------------------------------------


@dataclass
class Refusal:
    field: str  # the form's input name: e-uscc, u-0-code, f-1-unit, m-0-kind
    message: str


class Refused(ServiceError):
    """The form's values are refused: every problem with its field."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__("；".join(r.message for r in refusals), field=refusals[0].field if refusals else None)
        self.refusals = refusals

    @property
    def by_field(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.refusals:
            out.setdefault(r.field, r.message)
        return out


def _sheet(name: str, keys: Sequence[str], rows: list[list[Any]]) -> Sheet:
    return Sheet(name, rows, 1, {k: i for i, k in enumerate(keys)}, {k: k for k in keys})


def _bool(v: str) -> str:
    return t.YES if v else ""


def _refusal(issue: Issue) -> Refusal:
    key = issue.header or ""
    n = (issue.row or 1) - 1
    if issue.sheet == t.FACILITY_SHEET:
        return Refusal(f"f-{n}-{key}", _("第 %(n)d 个治污设施的“%(field)s”：%(why)s", n=n + 1,
                                         field=label("f", key), why=issue.message))  # fmt: skip
    if issue.sheet == t.METER_SHEET:
        return Refusal(f"m-{n}-{key}", _("第 %(n)d 个电表的“%(field)s”：%(why)s", n=n + 1,
                                         field=label("m", key), why=issue.message))  # fmt: skip
    group, _dot, name = key.partition(".")
    if group == "u":
        return Refusal(f"u-{n}-{name}", _("第 %(n)d 个工序的“%(field)s”：%(why)s", n=n + 1,
                                          field=label("u", name), why=issue.message))  # fmt: skip
    if group == "e":
        return Refusal(f"e-{name}", _("“%(field)s”：%(why)s", field=label("e", name), why=issue.message))
    return Refusal("measures", issue.message)


def judge(session: Session, lst: ReductionList, d: Draft, existing: Enterprise | None = None) -> Bundle:
    """The draft as the import would read it, or Refused with every problem by field."""
    ent_keys = [f"e.{k}" for k in ENT_KEYS]
    unit_keys = [f"u.{k}" for k in UNIT_KEYS]
    ent_cells = [_bool(d.ent.get(k, "")) if k in BOOLS else d.ent.get(k, "") for k in ENT_KEYS]
    main_rows = []
    for n in range(max(1, len(d.units))):
        unit = d.units[n] if n < len(d.units) else {}
        cells = [_bool(unit.get(k, "")) if k in BOOLS else unit.get(k, "") for k in UNIT_KEYS]
        main_rows.append([*(ent_cells if n == 0 else [""] * len(ent_cells)), *cells])
    code = uscc_mod.normalise(d.ent.get("uscc", ""))
    issues: list[Issue] = []
    parser = MainParser(
        _sheet(t.MAIN_SHEET, [*ent_keys, *unit_keys], main_rows), places_of(session, lst.jurisdiction),
        industries(), issues,
    )  # fmt: skip
    parser.run()
    bundle = parser.by_uscc.get(code)
    refusals = [_refusal(i) for i in issues if i.error]
    if bundle is not None and existing is not None:
        kept = {u[0] for u in bundle.units}
        unit_codes = {u.id: u.code for u in existing.units}
        lost = sorted({unit_codes[m.process_unit_id] for m in existing.measures if m.process_unit_id} - kept)
        if lost:
            why = _("工序“%(codes)s”有减排措施，不能删除或改编码；请先在一厂一策中删除其措施。", codes="、".join(lost))
            refusals.append(Refusal("units", why))
        bundle.measures.extend(
            (m[0], m[1], m[2], m[3], m[4], m[5], m[6], "") for m in policies.stored_measures(existing)
        )
    if bundle is not None:
        facilities = [[code, *(r.get(k, "") for k in FACILITY_KEYS)] for r in d.facilities]
        meters = [[code, r.get("number", ""), r.get("kind", ""), r.get("unit", ""), r.get("facility", "")]
                  for r in d.meters]  # fmt: skip
        sheet_issues: list[Issue] = []
        parse_facilities(_sheet(t.FACILITY_SHEET, ["uscc", *FACILITY_KEYS], facilities), parser.by_uscc,
                            sheet_issues)  # fmt: skip
        parse_meters(_sheet(t.METER_SHEET, ["uscc", *METER_KEYS], meters), parser.by_uscc, sheet_issues)
        refusals += [_refusal(i) for i in sheet_issues if i.error]
        if not refusals:
            parser.judge()  # the rule engine's refusals (bulk.REFUSED), as the import refuses them
            refusals += [_refusal(i) for i in issues if i.error]
            if code not in parser.by_uscc:
                refusals = refusals or [Refusal("measures", _("本企业的措施不符合要求。"))]
    if bundle is None and not refusals:  # nothing typed in the enterprise's facts
        refusals = [
            Refusal("e-uscc", _("“%(field)s”：%(why)s", field=label("e", "uscc"), why=_("请填写统一社会信用代码。")))
        ]
    if refusals or bundle is None:
        raise Refused(refusals)
    return bundle
