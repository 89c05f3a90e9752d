"""Cases over JSON: list and read (scoped, complainants masked), create, and transitions."""

from __future__ import annotations

from typing import Any

from flask import g, request

from app.api import bp
from app.auth.roles import Permission
from app.cases.models import Case
from app.cases.services import queries, records, workflow
from app.cases.views import bureau_names, can_see_complainant, mask
from app.core.access import require
from app.core.errors import NotFound, ServiceError
from app.extensions import db


def case_json(case: Case, names: dict[int, str], *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": case.id, "number": case.number, "state": case.state.value, "source_type": case.source_type.value,
        "topic": case.topic, "origin": case.origin.value, "inspected_at": case.inspected_at.isoformat(),
        "source_name": case.source_name, "source_address": case.source_address,
        "enterprise_uscc": case.enterprise_uscc,
        "discovered_bureau": names.get(case.discovered_bureau_id),
        "responsible_bureau": names.get(case.responsible_bureau_id) if case.responsible_bureau_id else None,
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "escalation": case.escalation.value if case.escalation else None, "version": case.lock_version,
    }  # fmt: skip
    if full:
        show = can_see_complainant(case)
        out.update({
            "problem": case.problem, "latitude": case.latitude, "longitude": case.longitude,
            "complainant_name": case.complainant_name if show else mask(case.complainant_name) or None,
            "complainant_phone": case.complainant_phone if show else None,
            "enforcement_action": case.enforcement_action, "decision_number": case.decision_number,
            "penalty_amount": case.penalty_amount,
            "rectify_deadline": case.rectify_deadline.isoformat() if case.rectify_deadline else None,
            "rectify_plan": case.rectify_plan, "verification_note": case.verification_note,
            "actions": [a.value for a in workflow.available(case, g.user)],
            "timeline": [
                {"at": e.at.isoformat(), "action": e.action, "by": e.actor_name, "bureau": e.bureau_name,
                 "from": e.from_state.value if e.from_state else None, "to": e.to_state.value if e.to_state else None,
                 "note": e.note} for e in queries.timeline(db.session(), case)
            ],
        })  # fmt: skip
    return out


@bp.get("/cases")
@require(Permission.view_cases)
def cases_list():  # type: ignore[no-untyped-def]
    f = queries.Filters.from_args(request.args)
    view = request.args.get("view", "all")
    if view not in ("all", "inbox", "overdue"):
        raise ServiceError("view must be all, inbox or overdue", field="view")
    stmt, _order = queries.for_view(view, f, g.user.bureau_id)
    page = max(request.args.get("page", 1, type=int), 1)
    rows, last = queries.page(db.session(), stmt, page)  # newest first, as before
    names = bureau_names({c.discovered_bureau_id for c in rows} | {c.responsible_bureau_id for c in rows})
    return {"page": page, "has_next": last > page, "cases": [case_json(c, names) for c in rows]}


def _case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("no such case, or not visible to you")
    return case


@bp.get("/cases/<int:case_id>")
@require(Permission.view_cases)
def case_detail(case_id: int):  # type: ignore[no-untyped-def]
    case = _case(case_id)
    return case_json(case, bureau_names({case.discovered_bureau_id, case.responsible_bureau_id}), full=True)


@bp.post("/cases")
@require(Permission.handle_cases)
def case_create():  # type: ignore[no-untyped-def]
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("send a JSON object", field="body")
    case = records.create_case(db.session(), g.user, data)
    body = case_json(case, bureau_names({case.discovered_bureau_id}), full=True)
    return body, 201


@bp.post("/cases/<int:case_id>/transitions")
@require(Permission.handle_cases)
def case_transition(case_id: int):  # type: ignore[no-untyped-def]
    case = _case(case_id)  # a case out of reach is not found, whatever the body says
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError("send a JSON object", field="body")
    try:
        action = workflow.Action(str(data.get("action", "")))
    except ValueError:
        raise ServiceError(
            f"action must be one of {', '.join(a.value for a in workflow.Action)}", field="action"
        ) from None
    if action is workflow.Action.transfer:
        transfer = records.create_transfer(db.session(), g.user, [case.id], int(data.get("to_bureau_id") or 0))
        db.session.refresh(case)
        body = case_json(case, bureau_names({case.discovered_bureau_id, case.responsible_bureau_id}), full=True)
        return {**body, "transfer": {"id": transfer.id, "number": transfer.number}}
    version = data.get("version")
    workflow.transition(db.session(), case, action, g.user, data,
                        expected_version=int(version) if isinstance(version, int) else None)  # fmt: skip
    return case_json(case, bureau_names({case.discovered_bureau_id, case.responsible_bureau_id}), full=True)
