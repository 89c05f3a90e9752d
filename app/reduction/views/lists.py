"""Routes: the lists of a bureau, one list's page (lifecycle, deadline, enterprises table) and the diff."""

from __future__ import annotations

from datetime import datetime

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select

from app.auth.models import Bureau
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import Forbidden, NotFound, ServiceError
from app.core.inputs import parse_id
from app.core.localtime import LOCAL_TZ
from app.extensions import db
from app.reduction import forms
from app.reduction.domain.vocabulary import Category, Grade
from app.reduction.models import ReductionList
from app.reduction.services import diff as diff_service
from app.reduction.services import enterprises as enterprise_service
from app.reduction.services import imports as import_service
from app.reduction.services import lists as list_service
from app.reduction.services.in_force import list_in_force
from app.reduction.services.lists import STATE_LABELS, ListAction
from app.reduction.views.blueprint import bp


def today():  # type: ignore[no-untyped-def]
    return datetime.now(LOCAL_TZ).date()


@bp.get("/")
@require(Permission.view_lists)
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    found = list_service.visible_lists(s, g.user)
    deadlines = {lst.id: list_service.deadline_for(s, lst, today()) for lst in found["own"] + found["below"]}
    return render_template(
        "reduction/index.html",
        own=found["own"],
        below=found["below"],
        deadlines=deadlines,
        counts=list_service.enterprise_counts(s, [lst.id for lst in found["own"] + found["below"]]),
        state_labels=STATE_LABELS,
        may_open=g.user.can(Permission.edit_lists) and list_service.may_open(g.user),
        this_year=today().year,
        in_force=list_in_force(s, g.user.jurisdiction_id, today()),
    )


@bp.post("/open")
@require(Permission.edit_lists)
def open_list():  # type: ignore[no-untyped-def]
    s = db.session()
    year = forms.year(request.form.get("year"))
    bureau = s.get(Bureau, g.user.bureau_id)
    if bureau is None:
        raise NotFound(_("单位不存在。"))
    lst = list_service.open_list(s, bureau, year, g.user)
    return redirect(url_for("reduction.show", list_id=lst.id))


_ROW = (
    '<tr data-enterprise="{id}"><td><a href="{url}{id}">{name}</a></td><td class="code">{uscc}</td>'
    "<td>{county}</td><td>{industry}</td><td>{category}</td><td>{grade}</td>"
    '<td class="num">{so2:.2f}</td><td class="num">{nox:.2f}</td><td class="num">{pm:.2f}</td>'
    '<td class="num">{vocs:.2f}</td><td>{flags}</td></tr>\n'
)


def rows_html(rows: list[enterprise_service.Row], industries: dict[str, str]) -> Markup:
    """The enterprise table's rows, every text escaped: one format per row instead of a template loop of
    eleven cells (the page shows 50 to 200 rows, and this was a third of its rendering)."""
    url = escape(url_for("reduction.enterprise", enterprise_id=0)[:-1])
    categories = {c.value: escape(c.label) for c in Category}
    grades = {gr.value: escape(gr.label) for gr in Grade}
    out = []
    for r in rows:
        if r.problems is None:
            flags = "—"
        elif r.problems:
            title = escape(", ".join(r.codes))
            flags = f'<span class="badge bad" title="{title}" data-testid="flag-count">{r.problems}</span>'
        else:
            flags = '<span class="badge ok">0</span>'
        out.append(
            _ROW.format(
                id=r.id, url=url, name=escape(r.name), uscc=escape(r.uscc), county=escape(r.county),
                industry=escape(industries.get(r.industry, r.industry)), category=categories.get(r.category, ""),
                grade=grades.get(r.grade or "", "—"), so2=r.so2, nox=r.nox, pm=r.pm, vocs=r.vocs, flags=flags,
            )
        )  # fmt: skip
    return Markup("".join(out))  # noqa: S704 - every text above is escaped, the rest are numbers


def render_list(
    lst: ReductionList,
    filters: enterprise_service.Filters | None = None,
    *,
    error: ServiceError | None = None,
    status: int = 200,
    versions: list[ReductionList] | None = None,
):  # type: ignore[no-untyped-def]
    s = db.session()
    f = filters or enterprise_service.Filters()
    page = None
    filter_error = None
    try:
        page = enterprise_service.search(s, lst, f)
    except ServiceError as e:
        filter_error, status = e, max(status, e.status)
        f = enterprise_service.Filters()
        page = enterprise_service.search(s, lst, f)
    actions = list_service.available_actions(lst, g.user)
    industries = enterprise_service.industries()
    import_into = None  # which list an import from this page goes into, when the user may import one
    if lst.jurisdiction_id == g.user.bureau.jurisdiction_id and g.user.can(Permission.edit_lists):
        current = import_service.current_list(s, g.user, lst.year)
        if import_service.blocked(current, g.user) is None:
            import_into = import_service.target_words(current, lst.year)
    return (
        render_template(
            "reduction/list.html",
            lst=lst,
            f=f,
            page=page,
            rows=rows_html(page.rows, industries),
            error=error or filter_error,
            actions=actions,
            ListAction=ListAction,
            state_labels=STATE_LABELS,
            events=list_service.history(s, lst),
            action_labels=list_service.ACTION_LABELS,
            deadline=list_service.deadline_for(s, lst, today()),
            versions=versions if versions is not None else list_service.versions_of(s, lst),
            counties=enterprise_service.counties(s, lst),
            industries=industries,
            categories=list(Category),
            grades=list(Grade),
            sorts=enterprise_service.SORT_LABELS,
            can_edit=lst.can_edit(g.user) and g.user.can(Permission.edit_lists),
            import_into=import_into,
        ),
        status,
    )


@bp.get("/<id:list_id>")
@require(Permission.view_lists)
def show(list_id: int):  # type: ignore[no-untyped-def]
    lst, versions = list_service.get_list_and_versions(db.session(), list_id)
    try:
        f = enterprise_service.parse_filters(request.args)
    except ServiceError as e:
        return render_list(lst, error=e, status=400, versions=versions)
    return render_list(lst, f, versions=versions)


def _act(list_id: int, action: ListAction, reason: str = ""):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    version = request.form.get("version", "")
    try:
        expected = int(version) if version.isascii() and version.isdigit() else None
        if action is ListAction.new_version:
            new = list_service.new_version(s, lst, g.user)
            return redirect(url_for("reduction.show", list_id=new.id))
        list_service.transition(s, lst, action, g.user, reason=reason, expected_version=expected)
    except Forbidden:
        raise
    except ServiceError as e:
        s.rollback()
        return render_list(list_service.get_list(s, list_id), error=e, status=e.status)
    return redirect(url_for("reduction.show", list_id=lst.id))


@bp.post("/<id:list_id>/submit")
@require(Permission.edit_lists)
def submit(list_id: int):  # type: ignore[no-untyped-def]
    return _act(list_id, ListAction.submit)


@bp.post("/<id:list_id>/decide")
@require(Permission.decide_lists)
def decide(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    if not lst.may(ListAction.approve, g.user):
        raise Forbidden(_("只有上一级生态环境部门可以审核该清单。"))
    decision = request.form.get("decision", "")
    if decision not in ("approve", "return"):
        return render_list(lst, error=ServiceError(_("请选择“审核通过”或“退回”。"), field="decision"), status=400)
    action = ListAction.approve if decision == "approve" else ListAction.return_
    return _act(list_id, action, reason=request.form.get("reason", "")[:2000])


@bp.post("/<id:list_id>/publish")
@require(Permission.edit_lists)
def publish(list_id: int):  # type: ignore[no-untyped-def]
    return _act(list_id, ListAction.publish)


@bp.post("/<id:list_id>/new-version")
@require(Permission.edit_lists)
def new_version(list_id: int):  # type: ignore[no-untyped-def]
    return _act(list_id, ListAction.new_version)


@bp.get("/<id:list_id>/diff")
@require(Permission.view_lists)
def diff(list_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    lst = list_service.get_list(s, list_id)
    versions = [v for v in list_service.versions_of(s, lst) if v.id != lst.id]
    against_id = request.args.get("against", "")
    error = None
    other = None
    if against_id:
        other_id = parse_id(against_id)
        other = s.scalar(select(ReductionList).where(ReductionList.id == other_id)) if other_id else None
        if other is None or other.jurisdiction_id != lst.jurisdiction_id:
            error = ServiceError(_("请选择同一行政区的另一版本清单。"), field="against")
            other = None
    else:
        other = list_service.default_comparison(s, lst)
    result = None
    if other is not None:
        older, newer = (other, lst) if (other.year, other.version) < (lst.year, lst.version) else (lst, other)
        result = diff_service.diff_lists(s, older, newer)
    return (
        render_template(
            "reduction/diff.html",
            lst=lst,
            other=other,
            versions=versions,
            result=result,
            error=error,
            state_labels=STATE_LABELS,
        ),
        400 if error else 200,
    )
