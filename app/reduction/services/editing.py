"""One enterprise added to, edited on, or taken off an editable list in the web, with its process units,
control facilities and meters.

The form's values are judged by the import's own parser (excel/parsing.py): they are laid out as the rows
of a one-enterprise workbook (the main sheet, the facilities and the meters sheets) and read by the same
converters and checks, so that the editor, the import and the list page judge the same data the same way.
Every refusal names its field; nothing is written until everything is accepted. Written through the ORM:
the registry's flush hook (app/registry/services.py) registers new entries and records `delisted` when
an enterprise is taken off.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Conflict, ServiceError
from app.places.models import Jurisdiction, JurisdictionLevel
from app.reduction.domain import uscc as uscc_mod
from app.reduction.excel import parsing as ps
from app.reduction.excel import template as t
from app.reduction.excel.reader import Issue, Sheet
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    Measure,
    Meter,
    MeterKind,
    ProcessUnit,
    ReductionList,
    StaggeredPeriod,
)
from app.reduction.services import assessments, policies, rule_library
from app.reduction.services import lists as list_service
from app.response.models import ResponseTask

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


def places_of(session: Session, root: Jurisdiction) -> ps.Places:
    """The list's jurisdiction subtree by code, name and short name (as the import resolves a county)."""
    rows = session.execute(
        select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.short_name).where(
            Jurisdiction.path.startswith(root.path)
        )
    ).all()
    by_key: dict[str, int] = {}
    names: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        by_key[r.code] = r.id
        for n in (r.name, r.short_name):
            if n:
                names[n].add(r.id)
                names[t.norm(n)].add(r.id)
    for n, ids in names.items():
        if n not in by_key:
            by_key[n] = next(iter(ids)) if len(ids) == 1 else -1
    return ps.Places(root.id, root.level is JurisdictionLevel.county, by_key)


def industries() -> ps.Industries:
    library = rule_library.current()
    by_key: dict[str, str] = {}
    names = []
    for code, industry in library.industries.items():
        if code == "*":
            continue
        by_key[code] = by_key[t.norm(code)] = code
        by_key[industry.name] = by_key[t.norm(industry.name)] = code
        names.append(industry.name)
    return ps.Industries(by_key, library.industry_of, "、".join(names))


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


def judge(session: Session, lst: ReductionList, d: Draft, existing: Enterprise | None = None) -> ps.Bundle:
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
    parser = ps.MainParser(
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
        ps.parse_facilities(_sheet(t.FACILITY_SHEET, ["uscc", *FACILITY_KEYS], facilities), parser.by_uscc,
                            sheet_issues)  # fmt: skip
        ps.parse_meters(_sheet(t.METER_SHEET, ["uscc", *METER_KEYS], meters), parser.by_uscc, sheet_issues)
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


# --- writing -------------------------------------------------------------------------------------------


def _ent_values(bundle: ps.Bundle) -> dict[str, Any]:
    values = dict(zip(ps.ENT_FIELDS, bundle.ent, strict=True))
    if values.get("graded_on"):
        from datetime import date

        values["graded_on"] = date.fromisoformat(values["graded_on"])
    return values


_UNIT_ATTRS = ps.UNIT_FIELDS[1:]


def _write_children(session: Session, e: Enterprise, bundle: ps.Bundle) -> None:
    """Units, facilities and meters as the bundle has them: matched by code (number), updated in place, new
    ones added, the others removed (their registry entries stay)."""
    units = {u.code: u for u in e.units}
    facilities = {f.code: f for f in e.facilities}
    meters = {m.number: m for m in e.meters}
    wanted = {u[0]: u for u in bundle.units}
    wanted_f = {f[0]: f for f in bundle.facilities}
    wanted_m = {m[0]: m for m in bundle.meters}
    # the ones to go first, meters before what they measure (the database drops a unit's meters with it)
    for number, m in list(meters.items()):
        if number not in wanted_m:
            e.meters.remove(m)
    session.flush()
    for code, f in list(facilities.items()):
        if code not in wanted_f:
            e.facilities.remove(f)
    for code, u in list(units.items()):
        if code not in wanted:
            e.units.remove(u)
    session.flush()
    for code, row in wanted.items():
        unit = units.get(code)
        if unit is None:
            unit = ProcessUnit(code=code, jurisdiction_id=e.jurisdiction_id)
            e.units.append(unit)
        unit.jurisdiction_id = e.jurisdiction_id
        for attr, value in zip(_UNIT_ATTRS, row[1:], strict=True):
            setattr(unit, attr, value)
    session.flush()
    unit_ids = {u.code: u.id for u in e.units}
    for code, (_c, name, kind, pollutants, unit_code) in wanted_f.items():
        f = facilities.get(code)
        if f is None:
            f = ControlFacility(code=code, enterprise_id=e.id, jurisdiction_id=e.jurisdiction_id)
            e.facilities.append(f)
        f.jurisdiction_id = e.jurisdiction_id
        f.name, f.kind, f.pollutants = name, kind or "", pollutants or ""
        f.process_unit_id = unit_ids.get(unit_code) if unit_code else None
    session.flush()
    facility_ids = {f.code: f.id for f in e.facilities}
    for number, (_n, kind, unit_code, facility_code) in wanted_m.items():
        m = meters.get(number)
        if m is None:
            m = Meter(number=number, enterprise_id=e.id, jurisdiction_id=e.jurisdiction_id, kind=MeterKind(kind))
            e.meters.append(m)
        m.jurisdiction_id = e.jurisdiction_id
        m.kind = MeterKind(kind)
        m.process_unit_id = unit_ids.get(unit_code) if unit_code else None
        m.control_facility_id = facility_ids.get(facility_code) if facility_code else None
    session.flush()


def _clear_for_move(session: Session, e: Enterprise) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Before the enterprise moves to another county: the rows below it carry its jurisdiction (composite
    key), so they are taken off and written again under the new one (their registry entries stay: the new
    rows find them by code). Returns the measures (by unit code) and staggered periods to write again."""
    codes = {u.id: u.code for u in e.units}
    measures = [(m.level, codes.get(m.process_unit_id) if m.process_unit_id else None, m.kind, m.percent,
                 m.verification, m.max_stage, m.basis, m.note) for m in e.measures]  # fmt: skip
    periods = [(p.starts_on, p.ends_on, p.reason) for p in e.staggered_periods]
    for coll in ("measures", "staggered_periods", "meters", "facilities", "units"):
        getattr(e, coll).clear()
        session.flush()
    return measures, periods


def _restore(session: Session, e: Enterprise, measures: list[tuple[Any, ...]], periods: list[tuple[Any, ...]]) -> None:
    unit_ids = {u.code: u.id for u in e.units}
    for level, code, kind, percent, verification, stage, basis, note in measures:
        e.measures.append(Measure(enterprise_id=e.id, jurisdiction_id=e.jurisdiction_id, level=level,
                                  process_unit_id=unit_ids.get(code) if code else None, kind=kind, percent=percent,
                                  verification=verification, max_stage=stage, basis=basis, note=note))  # fmt: skip
    for starts, ends, reason in periods:
        e.staggered_periods.append(StaggeredPeriod(enterprise_id=e.id, jurisdiction_id=e.jurisdiction_id,
                                                   starts_on=starts, ends_on=ends, reason=reason))  # fmt: skip
    session.flush()


def _summary(e: Enterprise) -> dict[str, Any]:
    d = draft_of(e)
    return {"enterprise": d.ent, "units": [u["code"] for u in d.units],
            "facilities": [f["code"] for f in d.facilities], "meters": [m["number"] for m in d.meters]}  # fmt: skip


def _refresh(session: Session, lst: ReductionList, e: Enterprise) -> None:
    list_service.touch(session, lst)  # first: it queues concurrent saves of the list behind this one
    session.expire(e, ["measures"])
    assessments.refresh(session, Enterprise.id == e.id)


def add(session: Session, lst: ReductionList, d: Draft, user: Any) -> Enterprise:
    """A new enterprise on the list, with its units, facilities and meters."""
    list_service.require_editable(lst, user)
    bundle = judge(session, lst, d)
    values = _ent_values(bundle)
    taken = session.scalar(
        select(exists().where(Enterprise.list_id == lst.id, Enterprise.uscc == values["uscc"]))
        .execution_options(include_all_jurisdictions=True)
    )  # fmt: skip
    if taken:
        raise Refused([Refusal("e-uscc", _("本清单已有统一社会信用代码为 %(code)s 的企业。", code=values["uscc"]))])
    e = Enterprise(list_id=lst.id, reduction_list=lst, **values)
    session.add(e)
    session.flush()
    _write_children(session, e, bundle)
    _refresh(session, lst, e)
    record(session, "enterprise.create", obj=e, after=_summary(e), detail={"list_id": lst.id, "uscc": e.uscc})
    return e


def update(session: Session, e: Enterprise, d: Draft, user: Any, *, expected_fingerprint: str | None) -> Enterprise:
    """The enterprise's facts, units, facilities and meters replaced by the form's; its measures stay."""
    lst = e.reduction_list
    list_service.require_editable(lst, user)
    if expected_fingerprint is not None and expected_fingerprint != fingerprint(e):
        raise Conflict(_("该企业已被他人修改，请刷新页面查看最新内容后再修改。"))
    d.ent["uscc"] = e.uscc  # the credit code is the enterprise's identity across versions: not edited
    bundle = judge(session, lst, d, existing=e)
    before = _summary(e)
    values = _ent_values(bundle)
    for key in KEPT:
        values.pop(key, None)  # not on the form: kept as stored
    kept_rows = None
    if values["jurisdiction_id"] != e.jurisdiction_id:
        kept_rows = _clear_for_move(session, e)
    for key, value in values.items():
        if key != "uscc":
            setattr(e, key, value)
    session.flush()
    if kept_rows is not None:
        session.expire(e, ["jurisdiction"])
    _write_children(session, e, bundle)
    if kept_rows is not None:
        _restore(session, e, *kept_rows)
    _refresh(session, lst, e)
    record(session, "enterprise.update", obj=e, before=before, after=_summary(e),
           detail={"list_id": lst.id, "uscc": e.uscc})  # fmt: skip
    return e


def remove(session: Session, e: Enterprise, user: Any) -> None:
    """Take the enterprise off the list: its version rows go, its registry entry stays (`delisted`)."""
    lst = e.reduction_list
    list_service.require_editable(lst, user)
    tasked = session.scalar(
        select(exists().where(ResponseTask.enterprise_id == e.id)).execution_options(include_all_jurisdictions=True)
    )
    if tasked:
        raise Conflict(_("该企业已有应急响应任务，不能从清单中删除。"))
    record(session, "enterprise.delete", obj=e, before=_summary(e), detail={"list_id": lst.id, "uscc": e.uscc})
    e.meters.clear()  # first: the database drops a unit's or facility's meters with it, behind the ORM's back
    session.flush()
    session.delete(e)
    session.flush()
    assessments.recount(session, [lst.id])  # its assessment went with it; the list's version moves on
