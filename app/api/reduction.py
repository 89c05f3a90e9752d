"""/api/v1/reduction: reduction lists, their enterprises and one plant one policy, scoped like the screens.

Every error is JSON naming the field: {"error": {"status": 400, "code": "invalid", "message": "…",
"field": "measures[2].percent"}}. Documented in app/api/openapi.yaml and docs/api.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.common import iso
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import Forbidden, ServiceError
from app.core.inputs import json_object
from app.core.localtime import LOCAL_TZ
from app.extensions import db
from app.reduction import forms
from app.reduction.domain import policy as dp
from app.reduction.domain.vocabulary import LEVELS, POLLUTANTS
from app.reduction.models import Enterprise, ListState, ReductionList
from app.reduction.services import enterprises as enterprise_service
from app.reduction.services import lists as list_service
from app.reduction.services import policies, rule_library, staggered
from app.reduction.services.lists import ListAction


def list_json(lst: ReductionList, count: int | None = None) -> dict[str, Any]:
    deadline = list_service.deadline_for(db.session(), lst, datetime.now(LOCAL_TZ).date())
    return {
        **list_service.list_summary(lst),
        "jurisdiction_name": lst.jurisdiction.name,
        "based_on": lst.based_on_id,
        "lock_version": lst.lock_version,
        "deadline": None if deadline is None else {"due": deadline.due.isoformat(), "late": deadline.late},
        "actions": [a.value for a in list_service.available_actions(lst, g.user)],
        **({"enterprises": count} if count is not None else {}),
    }


@bp.get("/reduction/lists")
@require(Permission.view_lists)
def reduction_lists():  # type: ignore[no-untyped-def]
    s = db.session()
    raw_year = request.args.get("year", "")
    year = forms.year(raw_year) if raw_year else None
    state = request.args.get("state", "")
    if state and state not in {st.value for st in ListState}:
        raise ServiceError(_("state 应为 draft、submitted、returned、approved 或 published。"), field="state")
    found = list_service.visible_lists(s, g.user, year)
    rows = [lst for lst in found["own"] + found["below"] if not state or lst.state.value == state]
    counts = list_service.enterprise_counts(s, [lst.id for lst in rows])
    return {"count": len(rows), "lists": [list_json(lst, counts.get(lst.id, 0)) for lst in rows]}


@bp.get("/reduction/lists/<id:list_id>")
@require(Permission.view_lists)
def reduction_list(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    out = list_json(lst, list_service.enterprise_counts(s, [lst.id]).get(lst.id, 0))
    out["versions"] = [
        {"id": v.id, "year": v.year, "version": v.version, "state": v.state.value}
        for v in list_service.versions_of(s, lst)
    ]
    out["flagged"] = enterprise_service.flagged_count(s, lst)
    return out


@bp.get("/reduction/lists/<id:list_id>/enterprises")
@require(Permission.view_lists)
def reduction_list_enterprises(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    f = enterprise_service.parse_filters(request.args)
    page = enterprise_service.search(s, lst, f)
    return {
        "list_id": lst.id,
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "per_page": page.per_page,
        "flagged_total": page.flagged_total,
        "enterprises": [
            {
                "id": r.id,
                "uscc": r.uscc,
                "name": r.name,
                "county": r.county,
                "industry": r.industry,
                "category": r.category,
                "grade": r.grade,
                "emissions": {"so2": r.so2, "nox": r.nox, "pm": r.pm, "vocs": r.vocs},
                "problems": r.problems,
                "problem_codes": list(r.codes),
            }
            for r in page.rows
        ],
    }


@bp.get("/reduction/lists/<id:list_id>/actions")
@require(Permission.view_lists)
def reduction_list_actions(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    return {
        "list_id": lst.id,
        "state": lst.state.value,
        "lock_version": lst.lock_version,
        "available": [a.value for a in list_service.available_actions(lst, g.user)],
        "history": [step.as_json() for step in list_service.history(s, lst)],
    }


def _transition(list_id: int, action: ListAction, reason: str = "") -> dict[str, Any]:
    s = db.session()
    lst = list_service.get_list(s, list_id)
    body = json_object(optional=True)
    version = body.get("lock_version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ServiceError(_("lock_version 应为整数。"), field="lock_version")
    if action is ListAction.new_version:
        lst = list_service.new_version(s, lst, g.user)
    else:
        list_service.transition(s, lst, action, g.user, reason=reason, expected_version=version)
    return list_json(lst)


@bp.post("/reduction/lists/<id:list_id>/submit")
@require(Permission.edit_lists)
def reduction_list_submit(list_id: int):  # type: ignore[no-untyped-def]
    return _transition(list_id, ListAction.submit)


@bp.post("/reduction/lists/<id:list_id>/decide")
@require(Permission.decide_lists)
def reduction_list_decide(list_id: int):  # type: ignore[no-untyped-def]
    lst = list_service.get_list(db.session(), list_id)
    if not lst.may(ListAction.approve, g.user):
        raise Forbidden(_("只有上一级生态环境部门可以审核该清单。"))
    body = json_object(optional=True)
    decision = body.get("decision")
    if decision not in ("approve", "return"):
        raise ServiceError(_("decision 应为 approve 或 return。"), field="decision")
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise ServiceError(_("reason 应为字符串。"), field="reason")
    return _transition(list_id, ListAction.approve if decision == "approve" else ListAction.return_, reason)


@bp.post("/reduction/lists/<id:list_id>/publish")
@require(Permission.edit_lists)
def reduction_list_publish(list_id: int):  # type: ignore[no-untyped-def]
    return _transition(list_id, ListAction.publish)


@bp.post("/reduction/lists/<id:list_id>/new-version")
@require(Permission.edit_lists)
def reduction_list_new_version(list_id: int):  # type: ignore[no-untyped-def]
    return _transition(list_id, ListAction.new_version), 201


def _problem(p: dp.Problem) -> dict[str, Any]:
    return {
        "code": p.code,
        "message": p.message,
        "level": p.level.value if p.level else None,
        "unit": p.unit_id,
        "rule": p.rule,
    }


def enterprise_json(e: Enterprise) -> dict[str, Any]:
    assessment = policies.assess(e)
    match = rule_library.match_of(e)
    status = staggered.status(e)
    units = {u.id: u.code for u in e.units}
    facilities = {f.id: f.code for f in e.facilities}
    policy: dict[str, Any] = {}
    for level in LEVELS:
        rows = policies.level_rows(e, level)
        policy[level.value] = {
            "measures": [
                {
                    "unit": r.unit_code,
                    "kind": r.kind,
                    "percent": r.percent,
                    "verification": r.verification,
                    "max_stage": r.max_stage,
                    "basis": r.basis,
                    "note": r.note,
                }
                for r in rows
            ],
            "fingerprint": policies.fingerprint(rows),
            "expected_reduction_t_per_day": {p.value: assessment.reductions[level][p] for p in POLLUTANTS},
            "production_cut": assessment.production_cuts.get(level),
            "required": [
                {
                    "measure": q.requirement.describe(),
                    "rule": q.rule.ref,
                    "clause": q.rule.clause,
                    "verified": q.rule.verified,
                }
                for q in match.at(level)
            ],
        }
    return {
        "id": e.id,
        "list_id": e.list_id,
        "uscc": e.uscc,
        "name": e.name,
        "address": e.address,
        "latitude": e.latitude,
        "longitude": e.longitude,
        "jurisdiction": e.jurisdiction.code,
        "industry": e.industry,
        "industry_code": e.industry_code,
        "category": e.category.value,
        "grade": e.grade.value if e.grade else None,
        "graded_on": iso(e.graded_on),
        "emissions_t_per_year": {"so2": e.so2, "nox": e.nox, "pm": e.pm, "vocs": e.vocs},
        "uses_coal": e.uses_coal,
        "uses_oil": e.uses_oil,
        "toxic": e.toxic,
        "ultra_low": e.ultra_low,
        "output_basis": e.output_basis.value if e.output_basis else None,
        "truck_visits_per_day": e.truck_visits_per_day,
        "machinery": e.machinery or {},
        "truck_emissions": e.truck_emissions or {},
        "machinery_emissions": e.machinery_emissions or {},
        "operating_days": e.operating_days,
        "contact_name": e.contact_name,
        "contact_phone": enterprise_service.contact_phone(g.user, e),
        "contact_phone_masked": not enterprise_service.sees_contact(g.user, e),
        "notes": e.notes,
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "shares": {"so2": u.share_so2, "nox": u.share_nox, "pm": u.share_pm, "vocs": u.share_vocs},
                "eia_capacity": u.eia_capacity,
                "permit_capacity": u.permit_capacity,
                "last_year_output": u.last_year_output,
                "reduction_base": u.reduction_base,
                "capacity_unit": u.capacity_unit,
                "outdoor": u.outdoor,
                "under_rectification": u.under_rectification,
            }
            for u in e.units
        ],
        "facilities": [
            {
                "code": f.code,
                "name": f.name,
                "kind": f.kind,
                "pollutants": f.pollutants,
                "unit": units.get(f.process_unit_id) if f.process_unit_id else None,
            }
            for f in e.facilities
        ],
        "meters": [
            {
                "number": m.number,
                "kind": m.kind.value,
                "unit": units.get(m.process_unit_id) if m.process_unit_id else None,
                "facility": facilities.get(m.control_facility_id) if m.control_facility_id else None,
            }
            for m in e.meters
        ],
        "staggered_production": {
            "applies": status.applies,
            "required_days": status.required,
            "schedule": None
            if status.schedule is None
            else {
                "ref": status.schedule.ref,
                "source": status.schedule.source,
                "verified": status.schedule.verified,
                "note": status.schedule.note,
            },
            "planned_days": status.planned,
            "campaign": [status.campaign[0].isoformat(), status.campaign[1].isoformat()],
            "base_counted": status.base.counted,
            "base_excluded": status.base.excluded,
            "excluded_units": status.base.excluded_units,
            "problems": status.problems,
            "periods": [
                {
                    "id": p.id,
                    "starts_on": p.starts_on.isoformat(),
                    "ends_on": p.ends_on.isoformat(),
                    "reason": p.reason,
                }
                for p in e.staggered_periods
            ],
        },
        "policy": policy,
        "full_stop_t_per_day": {p.value: assessment.full_stop.get(p, 0.0) for p in POLLUTANTS},
        "flags": [_problem(p) for p in assessment.problems],
        "editable": e.reduction_list.can_edit(g.user) and g.user.can(Permission.edit_lists),
    }


@bp.get("/reduction/enterprises/<bigid:enterprise_id>")
@require(Permission.view_lists)
def reduction_enterprise(enterprise_id: int):  # type: ignore[no-untyped-def]
    return enterprise_json(enterprise_service.get_enterprise(db.session(), enterprise_id))


@bp.put("/reduction/enterprises/<bigid:enterprise_id>/policy/<level>")
@require(Permission.edit_lists)
def reduction_enterprise_policy(enterprise_id: int, level: str):  # type: ignore[no-untyped-def]
    s = db.session()
    e = enterprise_service.get_enterprise(s, enterprise_id)
    list_service.require_editable(e.reduction_list, g.user)  # who and state, before reading the body
    lv = forms.level(level)
    body = json_object(optional=True)
    rows = forms.json_rows(body)
    fingerprint = body.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise ServiceError(_("fingerprint 应为字符串。"), field="fingerprint")
    policies.save_level(s, e, lv, rows, g.user, expected_fingerprint=fingerprint)
    return enterprise_json(enterprise_service.get_enterprise(s, enterprise_id))
