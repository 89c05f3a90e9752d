"""Routes: one enterprise added to an editable list, its facts, units, facilities and meters edited, or the
enterprise taken off the list (after a confirmation). Refusals are shown beside the form with what was typed."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.extensions import db
from app.reduction.domain.vocabulary import Category, Grade, OutputBasis
from app.reduction.models import Enterprise, MeterKind, ReductionList
from app.reduction.services import editing
from app.reduction.services import enterprises as enterprise_service
from app.reduction.services import lists as list_service
from app.reduction.services.lists import STATE_LABELS
from app.reduction.views.blueprint import bp

METER_KIND_LABELS = {
    MeterKind.production.value: _l("生产用电"),
    MeterKind.control.value: _l("治污用电"),
    MeterKind.total.value: _l("总用电"),
}
BLANK_ROWS = 2


def _form_page(
    lst: ReductionList, draft: editing.Draft, *, e: Enterprise | None = None, error: ServiceError | None = None,
    fingerprint: str = "", status: int = 200,
):  # type: ignore[no-untyped-def]  # fmt: skip
    s = db.session()
    errors = error.by_field if isinstance(error, editing.Refused) else {}
    if error is not None and not isinstance(error, editing.Refused) and error.field:
        errors = {error.field: error.message}
    own = enterprise_service.places(s).by_id.get(lst.jurisdiction_id)
    counties = enterprise_service.counties(s, lst) or ([own] if own else [])
    return (
        render_template(
            "reduction/enterprise_form.html",
            lst=lst,
            e=e,
            d=draft,
            error=error,
            errors=errors,
            fingerprint=fingerprint,
            counties=counties,
            industries=enterprise_service.industries(),
            categories=list(Category),
            grades=list(Grade),
            bases=list(OutputBasis),
            meter_kinds=METER_KIND_LABELS,
            blank=BLANK_ROWS,
            label=editing.label,
            state_labels=STATE_LABELS,
        ),
        status,
    )


def _editable_list(list_id: int) -> ReductionList:
    lst = list_service.get_list(db.session(), list_id)
    list_service.require_editable(lst, g.user)
    return lst


def _editable(enterprise_id: int) -> Enterprise:
    e = enterprise_service.get_enterprise(db.session(), enterprise_id)
    list_service.require_editable(e.reduction_list, g.user)
    return e


@bp.get("/<id:list_id>/enterprises/new")
@require(Permission.edit_lists)
def enterprise_new(list_id: int):  # type: ignore[no-untyped-def]
    return _form_page(_editable_list(list_id), editing.Draft())


@bp.post("/<id:list_id>/enterprises")
@require(Permission.edit_lists)
def enterprise_create(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = _editable_list(list_id)
    draft = editing.Draft()
    try:
        draft = editing.draft_of_form(request.form)
        try:
            e = editing.add(s, lst, draft, g.user)
        except IntegrityError:  # the same credit code added at the same moment by a colleague
            raise Conflict(_("本清单已有该统一社会信用代码的企业，请刷新后查看。"), field="e-uscc") from None
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        s.rollback()
        return _form_page(list_service.get_list(s, list_id), draft, error=err, status=err.status)
    return redirect(url_for("reduction.enterprise", enterprise_id=e.id, saved_enterprise=1))


@bp.get("/enterprises/<bigid:enterprise_id>/edit")
@require(Permission.edit_lists)
def enterprise_edit(enterprise_id: int):  # type: ignore[no-untyped-def]
    e = _editable(enterprise_id)
    return _form_page(e.reduction_list, editing.draft_of(e), e=e, fingerprint=editing.fingerprint(e))


@bp.post("/enterprises/<bigid:enterprise_id>/update")
@require(Permission.edit_lists)
def enterprise_update(enterprise_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    e = _editable(enterprise_id)
    draft = editing.Draft()
    sent = request.form.get("fingerprint", "")
    try:
        draft = editing.draft_of_form(request.form)
        editing.update(s, e, draft, g.user, expected_fingerprint=sent or None)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        s.rollback()
        again = enterprise_service.get_enterprise(s, enterprise_id)
        draft.ent["uscc"] = again.uscc
        return _form_page(again.reduction_list, draft, e=again, error=err, fingerprint=sent, status=err.status)
    return redirect(url_for("reduction.enterprise", enterprise_id=enterprise_id, saved_enterprise=1))


@bp.get("/enterprises/<bigid:enterprise_id>/remove")
@require(Permission.edit_lists)
def enterprise_remove_confirm(enterprise_id: int):  # type: ignore[no-untyped-def]
    e = _editable(enterprise_id)
    return render_template("reduction/enterprise_remove.html", e=e, lst=e.reduction_list, error=None)


@bp.post("/enterprises/<bigid:enterprise_id>/delete")
@require(Permission.edit_lists)
def enterprise_remove(enterprise_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    e = _editable(enterprise_id)
    list_id = e.list_id
    name = e.name
    try:
        if request.form.get("confirm") != "1":
            raise ServiceError(_("请勾选确认后再删除。"), field="confirm")
        editing.remove(s, e, g.user)
    except (Forbidden, NotFound):
        raise
    except ServiceError as err:
        s.rollback()
        again = enterprise_service.get_enterprise(s, enterprise_id)
        return render_template("reduction/enterprise_remove.html", e=again, lst=again.reduction_list,
                               error=err), err.status  # fmt: skip
    flash(_("已从清单删除“%(name)s”。", name=name), "ok")
    return redirect(url_for("reduction.show", list_id=list_id))
