"""One enterprise added to, edited on, or taken off an editable list in the web, with its process units,
control facilities and meters.

The form's values are judged by the import's own parser (excel/main_sheet.py, optional_sheets.py): they are
laid out as the rows of a one-enterprise workbook (the main sheet, the facilities and the meters sheets) and
read by the same converters and checks, so that the editor, the import and the list page judge the same data
the same way. Every refusal names its field; nothing is written until everything is accepted. Written through the ORM:
the registry's flush hook (app/registry/services.py) registers new entries and records `delisted` when
an enterprise is taken off.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.core.errors import Conflict
from app.reduction.excel.records import ENT_FIELDS, UNIT_FIELDS, Bundle
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
from app.reduction.services import assessments
from app.reduction.services import lists as list_service
from app.reduction.services.enterprise_draft import (
    KEPT,
    Draft,
    Refusal,
    Refused,
    draft_of,
    draft_of_form,
    fingerprint,
    judge,
    label,
)
from app.response.models import ResponseTask

__all__ = ["Draft", "Refused", "add", "draft_of", "draft_of_form", "fingerprint", "label", "remove", "update"]


# --- writing -------------------------------------------------------------------------------------------


def _ent_values(bundle: Bundle) -> dict[str, Any]:
    values = dict(zip(ENT_FIELDS, bundle.ent, strict=True))
    if values.get("graded_on"):
        values["graded_on"] = date.fromisoformat(values["graded_on"])
    return values


_UNIT_ATTRS = UNIT_FIELDS[1:]


def _write_children(session: Session, e: Enterprise, bundle: Bundle) -> None:
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
