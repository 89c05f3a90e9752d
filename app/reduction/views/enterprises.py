"""Routes: an enterprise's page (facts, units, flags, expected reductions, staggered production) with the
policy editor per alert level."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import Forbidden, ServiceError
from app.core.inputs import parse_id
from app.extensions import db
from app.reduction import forms
from app.reduction.domain import policy as dp
from app.reduction.domain.vocabulary import (
    LEVELS,
    POLLUTANTS,
    SUITABLE_VERIFICATION,
    MachineryStage,
    MeasureKind,
    OutputBasis,
    Verification,
)
from app.reduction.models import Enterprise
from app.reduction.services import enterprises as enterprise_service
from app.reduction.services import lists as list_service
from app.reduction.services import policies, rule_library, staggered
from app.reduction.services.lists import STATE_LABELS
from app.reduction.views.blueprint import bp

METER_LABELS = {"production": _l("生产设施电表"), "control": _l("治污设施电表"), "total": _l("总电表")}


def describe(row: dict[str, str]) -> str:
    """A stored measure in words, for the read-only table."""
    try:
        percent = float(row["percent"]) if row.get("percent") else None
        return policies.interned_measure(
            row["kind"],
            row["verification"],
            row.get("unit") or None,
            percent,
            row.get("max_stage") or None,
            row.get("basis") or None,
        ).describe()
    except (dp.MeasureError, ValueError, KeyError):
        return row.get("kind", "")


def render_enterprise(
    e: Enterprise,
    *,
    level_error: tuple[str, ServiceError, list[dict[str, str]]] | None = None,
    period_error: ServiceError | None = None,
    status: int = 200,
):  # type: ignore[no-untyped-def]
    lst = e.reduction_list
    assessment = policies.assess(e)
    match = rule_library.match_of(e)
    editors: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        stored = policies.level_rows(e, level)
        editor = {
            "rows": forms.editor_raw(stored),
            "fingerprint": policies.fingerprint(stored),
            "error": None,
        }
        if level_error is not None and level_error[0] == level.value:
            editor["rows"], editor["error"] = level_error[2], level_error[1]
        editor["required"] = [(q.requirement.describe(), q.rule.ref) for q in match.at(level)]
        editors[level.value] = editor
    return (
        render_template(
            "reduction/enterprise.html",
            e=e,
            lst=lst,
            assessment=assessment,
            phone=enterprise_service.contact_phone(g.user, e),
            phone_masked=not enterprise_service.sees_contact(g.user, e),
            units=enterprise_service.unit_views(e),
            staggered=staggered.status(e),
            proposal=staggered.propose(e) if staggered.applies(e) else [],
            period_error=period_error,
            editors=editors,
            levels=LEVELS,
            pollutants=POLLUTANTS,
            kinds=list(MeasureKind),
            verifications=list(Verification),
            suitable={k.value: sorted(v.value for v in vs) for k, vs in SUITABLE_VERIFICATION.items()},
            stages=[s for s in MachineryStage if s is not MachineryStage.electric],
            bases=list(OutputBasis),
            voluntary=match.voluntary,
            can_edit=lst.can_edit(g.user) and g.user.can(Permission.edit_lists),
            state_labels=STATE_LABELS,
            industry_name=enterprise_service.industries().get(e.industry or "", e.industry),
            stage_labels={st.value: st.label for st in MachineryStage},
            verification_labels={v.value: v.label for v in Verification},
            meter_labels=METER_LABELS,
            unit_names={u.code: f"{u.code} {u.name}" for u in e.units},
            describe=describe,
            saved=request.args.get("saved") if level_error is None else None,
            saved_enterprise=bool(request.args.get("saved_enterprise")),
        ),
        status,
    )


@bp.get("/enterprises/<bigid:enterprise_id>")
@require(Permission.view_lists)
def enterprise(enterprise_id: int):  # type: ignore[no-untyped-def]
    return render_enterprise(enterprise_service.get_enterprise(db.session(), enterprise_id))


def _editable(enterprise_id: int) -> Enterprise:
    """The enterprise, once the user's bureau may change its list (403 / 409 before reading any input)."""
    e = enterprise_service.get_enterprise(db.session(), enterprise_id)
    list_service.require_editable(e.reduction_list, g.user)
    return e


def _again(enterprise_id: int, **kw: Any):  # type: ignore[no-untyped-def]
    """After a refusal: nothing is kept, and the page is shown again with the reason."""
    s = db.session()
    s.rollback()
    error = kw.get("level_error", (None, kw.get("period_error")))[1]
    return render_enterprise(enterprise_service.get_enterprise(s, enterprise_id), status=error.status, **kw)


@bp.post("/enterprises/<bigid:enterprise_id>/policy")
@require(Permission.edit_lists)
def save_policy(enterprise_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    e = _editable(enterprise_id)
    raw: list[dict[str, str]] = []
    level_value = request.form.get("level", "")
    try:
        level = forms.level(level_value)
        rows, raw = forms.policy_rows(request.form)
        policies.save_level(s, e, level, rows, g.user, expected_fingerprint=request.form.get("fingerprint") or None)
    except Forbidden:
        raise
    except ServiceError as err:
        if level_value not in {lv.value for lv in LEVELS}:
            return _again(enterprise_id, level_error=("yellow", err, []))
        return _again(enterprise_id, level_error=(level_value, err, raw))
    return redirect(url_for("reduction.enterprise", enterprise_id=e.id, saved=level.value,
                            _anchor=f"level-{level.value}"))  # fmt: skip


@bp.post("/enterprises/<bigid:enterprise_id>/staggered")
@require(Permission.edit_lists)
def staggered_add(enterprise_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    e = _editable(enterprise_id)
    try:
        if request.form.get("action") == "propose":
            staggered.apply_proposal(s, e, g.user)
        else:
            starts = forms.day(request.form.get("starts_on"), _("开始日期"), "starts_on")
            ends = forms.day(request.form.get("ends_on"), _("结束日期"), "ends_on")
            reason = forms.text(request.form.get("reason"), _("说明"), "reason", 300)
            staggered.add_period(s, e, starts, ends, reason, g.user)
    except Forbidden:
        raise
    except ServiceError as err:
        return _again(enterprise_id, period_error=err)
    return redirect(url_for("reduction.enterprise", enterprise_id=e.id, _anchor="staggered"))


@bp.post("/enterprises/<bigid:enterprise_id>/staggered/remove")
@require(Permission.edit_lists)
def staggered_remove(enterprise_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    e = _editable(enterprise_id)
    raw = request.form.get("period_id", "")
    try:
        period_id = parse_id(raw, big=True)
        if period_id is None:
            raise ServiceError(_("请选择要删除的错峰时段。"), field="period_id")
        staggered.remove_period(s, e, period_id, g.user)
    except Forbidden:
        raise
    except ServiceError as err:
        return _again(enterprise_id, period_error=err)
    return redirect(url_for("reduction.enterprise", enterprise_id=e.id, _anchor="staggered"))
