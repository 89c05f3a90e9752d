"""Cases over JSON: list and read (scoped, complainants masked), create, and transitions.

Documented in app/api/openapi.yaml (tests/test_openapi.py keeps the two in step) and docs/api.md. Bad input
answers 400 naming the field; a query parameter outside its vocabulary is refused rather than ignored, so a
client never mistakes an unfiltered list for a filtered one."""

from __future__ import annotations

import enum
from typing import Any

from flask import g, request
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.auth.roles import Permission
from app.auth.services import bureau_names
from app.cases.models import Case
from app.cases.services import queries, records, workflow
from app.cases.services.queries import can_see_complainant, mask_name
from app.cases.vocabulary import CaseState, Origin, SourceType, label
from app.core.access import require
from app.core.errors import Conflict, NotFound, ServiceError
from app.core.inputs import INT32_MAX, MAX_PAGE, bounded_int, json_object
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
        show = can_see_complainant(case, g.user)
        out.update({
            "problem": case.problem, "latitude": case.latitude, "longitude": case.longitude,
            "complainant_name": case.complainant_name if show else mask_name(case.complainant_name) or None,
            "complainant_phone": case.complainant_phone if show else None,
            "enforcement_action": case.enforcement_action, "decision_number": case.decision_number,
            "penalty_amount": case.penalty_amount,
            "rectify_deadline": case.rectify_deadline.isoformat() if case.rectify_deadline else None,
            "rectify_plan": case.rectify_plan, "verification_note": case.verification_note,
            "actions": [a.value for a in workflow.available(case, g.user)],
            "transfer_to": _transfer_targets(case),
            "timeline": [
                {"at": e.at.isoformat(), "action": e.action, "by": e.actor_name, "bureau": e.bureau_name,
                 "from": e.from_state.value if e.from_state else None, "to": e.to_state.value if e.to_state else None,
                 "note": e.note} for e in queries.timeline(db.session(), case)
            ],
        })  # fmt: skip
    return out


VIEWS = ("all", "inbox", "verify", "overdue")
MAX_INT32 = INT32_MAX  # bureau ids are 32-bit on PostgreSQL
TRUE, FALSE = ("1", "true", "on"), ("", "0", "false", "off")


def _choice(name: str, choices: list[str]) -> str | None:
    raw = request.args.get(name, "")
    if raw and raw not in choices:
        raise ServiceError(
            _("“%(what)s”的取值“%(v)s”无效，应为：%(choices)s。", what=name, v=raw[:20], choices=", ".join(choices)),
            field=name,
        )
    return raw or None


def _int_arg(name: str, default: int | None, high: int) -> int | None:
    raw = request.args.get(name, "").strip()
    return bounded_int(raw, 1, high, label=name, field=name) if raw else default


def _filters() -> queries.Filters:
    def vocab(e: type[enum.StrEnum]) -> list[str]:
        return [v.value for v in e]

    _choice("state", vocab(CaseState))
    _choice("source_type", vocab(SourceType))
    _choice("origin", vocab(Origin))
    _choice("overdue", [*TRUE, *FALSE[1:]])
    _choice("mine", [*TRUE, *FALSE[1:]])
    _int_arg("bureau_id", None, MAX_INT32)
    return queries.Filters.from_args(request.args, me=g.user.id)  # mine: assigned to the caller, as on the screens


def _transfer_targets(case: Case) -> list[dict[str, Any]]:
    """The bureaus the user may transfer the case to (its place's bureaus, nearest first), as on the case page:
    the ids a client sends as to_bureau_id."""
    if not workflow.can(case, workflow.Action.transfer, g.user):
        return []
    bureaus = records.bureaus_for(db.session(), case)
    return [{"id": b.id, "name": b.name} for b in bureaus if b.id != g.user.bureau_id]


@bp.get("/cases")
@require(Permission.view_cases)
def cases_list():  # type: ignore[no-untyped-def]
    f = _filters()
    view = _choice("view", list(VIEWS)) or "all"
    page = _int_arg("page", 1, MAX_PAGE) or 1
    # The same selections as the screens (app/cases/views.py): most urgent first in the inbox and overdue list.
    stmt, order = queries.for_view(view, f, g.user.bureau_id)
    if view in ("inbox", "overdue"):
        stmt = stmt.order_by(order)
    rows, last = queries.page(db.session(), stmt, page)  # ties (and the other views) newest first
    names = bureau_names(db.session(), {c.discovered_bureau_id for c in rows} | {c.responsible_bureau_id for c in rows})
    return {"page": page, "has_next": last > page, "cases": [case_json(c, names) for c in rows]}


def _case(case_id: int) -> Case:
    case = db.session.get(Case, case_id)  # the route's int converter stops ids past 64 bits
    if case is None:
        raise NotFound(_("该线索不存在，或您无权查看。"))
    return case


def _detail(case: Case) -> dict[str, Any]:
    return case_json(
        case, bureau_names(db.session(), {case.discovered_bureau_id, case.responsible_bureau_id}), full=True
    )


@bp.get("/cases/<bigid:case_id>")
@require(Permission.view_cases)
def case_detail(case_id: int):  # type: ignore[no-untyped-def]
    return _detail(_case(case_id))


@bp.post("/cases")
@require(Permission.handle_cases)
def case_create():  # type: ignore[no-untyped-def]
    case = records.create_case(db.session(), g.user, json_object())
    return _detail(case), 201


@bp.post("/cases/<bigid:case_id>/transitions")
@require(Permission.handle_cases)
def case_transition(case_id: int):  # type: ignore[no-untyped-def]
    case = _case(case_id)  # a case out of reach is not found, whatever the body says
    data = json_object()
    try:
        action = workflow.Action(str(data.get("action", "")))
    except ValueError:
        raise ServiceError(
            _("action 应为以下之一：%(choices)s。", choices=", ".join(a.value for a in workflow.Action)), field="action"
        ) from None
    version = data.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ServiceError(_("version 应为整数（读取线索时得到的 version）。"), field="version")
    if action is workflow.Action.transfer:
        if version is not None and version != case.lock_version:
            raise Conflict(_("该线索已被他人处理（当前状态：%(state)s），请刷新后再试。", state=label(case.state)))
        to_bureau = data.get("to_bureau_id")
        if isinstance(to_bureau, bool) or not isinstance(to_bureau, int) or not 1 <= to_bureau <= MAX_INT32:
            raise ServiceError(_("to_bureau_id 应为接收单位的编号（整数）。"), field="to_bureau_id")
        try:
            transfer = records.create_transfer(db.session(), g.user, [case.id], to_bureau)
        except ServiceError as e:
            if e.field == "to_bureau":  # the screens' field; the API names its own
                e.field = "to_bureau_id"
            raise
        db.session.refresh(case)
        return {**_detail(case), "transfer": {"id": transfer.id, "number": transfer.number}}
    workflow.transition(db.session(), case, action, g.user, data, expected_version=version)
    return _detail(case)
