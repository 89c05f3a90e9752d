"""Case screens: lists (inbox, to verify, overdue, all), the board, figures, the phone form, the case page
with its timeline, evidence and actions, transfers and their PDF forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Response, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import Bureau
from app.auth.roles import Permission
from app.auth.services import bureau_names
from app.cases.models import Case, CaseTransfer, Evidence, Inspection
from app.cases.pages import Refusal, bp, case_or_404
from app.cases.places import place_groups
from app.cases.services import queries, records, workflow
from app.cases.services.evidence import download_name, path_of
from app.cases.services.queries import can_see_complainant, mask_name
from app.cases.vocabulary import LABELS, TOPICS, CaseState, Escalation, EvidenceKind, Origin, SourceType, label
from app.core.access import require
from app.core.errors import ServiceError
from app.core.inputs import page_arg
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.core.templating import local_time
from app.extensions import db
from app.places.models import Jurisdiction


def detail_extras(s: Session, case: Case) -> dict[str, object]:
    """The case page's choosing forms: the bureaus below to pass the case on to (转办), the officers to assign
    it to, and who holds it now. `forms` names the forms shown (a refusal of a form not shown goes on top)."""
    from app.auth.models import User
    from app.cases.services.choices import assignees, pass_on_targets

    user = g.user
    targets = pass_on_targets(s, case, user) if workflow.can(case, workflow.Action.pass_on, user) else []
    people = assignees(s, case) if workflow.can(case, workflow.Action.assign, user) else []
    holder = None
    if case.assignee_id is not None:
        with unscoped(s):
            holder = s.scalar(select(User.display_name).where(User.id == case.assignee_id))
    return {
        "pass_on_targets": targets, "assignees": people, "assignee_name": holder,
        "forms": (("pass_on", bool(targets)), ("assign", bool(people))),
    }  # fmt: skip


VIEWS = {
    "inbox": _l("待我单位办理"),
    "verify": _l("待我单位核查"),
    "overdue": _l("超期"),
    "all": _l("全部"),
}


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"case_label": label, "case_labels": LABELS}


@bp.get("/")
@require(Permission.view_cases)
def index():  # type: ignore[no-untyped-def]
    return _list("inbox" if request.args.get("view") is None else request.args.get("view", "all"))


def _list(view: str):  # type: ignore[no-untyped-def]
    view = view if view in VIEWS else "all"
    s = db.session()
    f = queries.Filters.from_args(request.args, me=g.user.id)
    now = datetime.now(UTC)
    stmt, order = queries.for_view(view, f, g.user.bureau_id, now)
    page_no = page_arg()
    rows, last = queries.list_page(s, stmt, page_no, order)
    names = bureau_names(db.session(), {c.responsible_bureau_id for c in rows})
    picker = g.user.bureau_id if g.user.can(Permission.handle_cases) else None
    picking = picker is not None and any(r.state in TRANSFERABLE and r.discovered_bureau_id == picker for r in rows)
    return render_template(
        "cases/list.html", rows=rows, table=rows_html(rows, names, now, picker if picking else None), view=view,
        picking=picking, views=VIEWS, filters=f,
        page=page_no, has_next=last > page_no, states=list(CaseState), source_types=list(SourceType),
        origins=list(Origin), escalations=list(Escalation), bureaus=_bureau_choices(),
    )  # fmt: skip


TRANSFERABLE = (CaseState.discovered, CaseState.returned)
_PICK = Markup('<td><input type="checkbox" name="case_id" value="{}" form="transfer-selected" aria-label="{}"></td>')

_ROW = (
    '<tr>{pick}<td><a href="{url}{id}">{number}</a></td><td>{source}</td><td>{source_type} · {topic}</td>'
    '<td><span class="badge">{state}</span>{escalation}</td><td>{bureau}</td><td>{due}</td></tr>\n'
)


def rows_html(
    rows: list[queries.ListRow], names: dict[int, str], now: datetime, picker_of: int | None = None
) -> Markup:
    """A list screen's rows, every text escaped: one format per row instead of a template loop of six cells
    with their labels, links and times (a third of the page's rendering). With `picker_of` (a bureau), a first
    column to choose the cases that bureau may put on a transfer form."""
    url = escape(url_for("cases.detail", case_id=0)[:-1])
    overdue = Markup('<span class="badge bad">{}</span> ').format(_("超期"))
    out = []
    for c in rows:
        escalation = Markup(' <span class="badge bad">{}</span>').format(label(c.escalation)) if c.escalation else ""
        due = ((overdue if c.overdue(now) else "") + escape(local_time(c.due_at))) if c.due_at else ""
        bureau = names.get(c.responsible_bureau_id, "—") if c.responsible_bureau_id else "—"
        pick = ""
        if picker_of is not None:
            pick = (
                _PICK.format(c.id, c.number)
                if c.state in TRANSFERABLE and c.discovered_bureau_id == picker_of
                else Markup("<td></td>")
            )
        out.append(
            _ROW.format(
                pick=pick, url=url, id=c.id, number=escape(c.number), source=escape(c.source_name),
                source_type=escape(label(c.source_type)), topic=escape(c.topic), state=escape(label(c.state)),
                escalation=escalation, bureau=escape(bureau), due=due,
            )
        )  # fmt: skip
    return Markup("".join(out))  # noqa: S704 - every text above is escaped


@bp.get("/inbox")
@require(Permission.view_cases)
def inbox():  # type: ignore[no-untyped-def]
    return _list("inbox")


@bp.get("/overdue")
@require(Permission.view_cases)
def overdue():  # type: ignore[no-untyped-def]
    return _list("overdue")


def _bureau_choices() -> list[tuple[int, str]]:
    s = db.session()
    rows = s.execute(select(Bureau.id, Bureau.name).where(Bureau.active).order_by(Bureau.name))
    return [(i, name) for i, name in rows]


@bp.get("/board")
@require(Permission.view_cases)
def board():  # type: ignore[no-untyped-def]
    f = queries.Filters.from_args(request.args, me=g.user.id)
    columns = queries.board(db.session(), f)
    return render_template("cases/board.html", columns=columns, filters=f, now=datetime.now(UTC))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/figures")
@require(Permission.view_cases)
def figures():  # type: ignore[no-untyped-def]
    """Joint-enforcement figures of a period or a season preset, per bureau and in total; `?format=xlsx`."""
    from app.cases.services import figures as fig
    from app.core.exports import xlsx_bytes

    today = datetime.now(LOCAL_TZ).date()
    presets = fig.seasons(today)
    season = next((p for p in presets if p.key == request.args.get("season")), None)
    try:
        start = (
            season.start
            if season
            else date.fromisoformat(request.args.get("start") or (today - timedelta(days=30)).isoformat())
        )
        end = season.end if season else date.fromisoformat(request.args.get("end") or today.isoformat())
    except ValueError:
        raise ServiceError(_("日期格式应为 年-月-日。")) from None
    if end < start:
        raise ServiceError(_("结束日期不能早于开始日期。"))
    s = db.session()
    rows, total = fig.figures(
        s, datetime.combine(start, time.min, LOCAL_TZ).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ).astimezone(UTC),
    )  # fmt: skip
    columns = [_(c) for c in fig.COLUMNS]
    if request.args.get("format") == "xlsx":
        data = xlsx_bytes(
            _("联合执法统计"), [_("单位"), *columns],
            [[f.bureau, *f.counts()] for f in rows] + [[_("合计"), *total.counts()]],
        )  # fmt: skip
        record(
            s, "cases.figures_export", detail={"start": start.isoformat(), "end": end.isoformat(), "rows": len(rows)}
        )
        name = f"figures-{start.isoformat()}-{end.isoformat()}.xlsx"
        headers = {"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"}
        return Response(data, mimetype=XLSX, headers=headers)
    return render_template(
        "cases/figures.html", rows=rows, total=total, columns=columns, start=start, end=end, presets=presets,
        season=season,
    )  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.handle_cases)
def new():  # type: ignore[no-untyped-def]
    s = db.session()
    form = request.form
    error = field = None
    if request.method == "POST":
        try:  # a refused upload has removed its own files (records.store_all)
            case = records.create_case(s, g.user, form)
            files = request.files.getlist("photos")
            if files:
                records.add_evidence(s, case, g.user, files, EvidenceKind.discovery)
            s.flush()
        except ServiceError as e:
            s.rollback()
            error, field = e.message, e.field
        else:
            flash(_("线索 %(n)s 已登记。", n=case.number))
            return redirect(url_for("cases.detail", case_id=case.id))
    return _case_form(form, error, field)


@bp.route("/<bigid:case_id>/edit", methods=["GET", "POST"])
@require(Permission.handle_cases)
def edit(case_id: int):  # type: ignore[no-untyped-def]
    """Correct a case before its transfer or after a return (the discovering bureau)."""
    from app.cases.services import editing

    s = db.session()
    case = case_or_404(case_id)
    if not editing.can_edit(case, g.user):
        raise ServiceError(_("线索已移交，不能再修改；被退回后可修改。"), field="state")
    error = field = None
    if request.method == "POST":
        try:
            changed = editing.update_case(
                s, case, g.user, request.form, expected_version=request.form.get("version", type=int)
            )
        except ServiceError as e:
            s.rollback()
            if e.status == 403:
                raise
            error, field = e.message, e.field
            case = case_or_404(case_id)
        else:
            flash(_("已修改线索。") if changed else _("未作修改。"))
            return redirect(url_for("cases.detail", case_id=case.id))
    values = request.form if request.method == "POST" else _values_of(s, case)
    return _case_form(values, error, field, case=case)


def _values_of(s: Session, case: Case) -> dict[str, str]:
    with unscoped(s):
        code = s.get(Jurisdiction, case.jurisdiction_id).code
    values = {k: ("" if getattr(case, k) is None else str(getattr(case, k))) for k in (
        "topic", "source_name", "enterprise_uscc", "source_address", "problem", "latitude", "longitude",
        "complainant_name", "complainant_phone")}  # fmt: skip
    values.update(source_type=case.source_type.value, origin=case.origin.value, place=code,
                  inspected_at=case.inspected_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"))  # fmt: skip
    return values


def _case_form(values, error, field, case: Case | None = None):  # type: ignore[no-untyped-def]
    s = db.session()
    with unscoped(s):
        places = s.scalars(select(Jurisdiction).order_by(Jurisdiction.code)).all()
    groups = place_groups(places, g.user.jurisdiction.code, "（" + _("市级") + "）")
    return render_template(
        "cases/new.html", topics=TOPICS, source_types=list(SourceType), origins=list(Origin), place_groups=groups,
        values=values, error=error, field=field, home=g.user.jurisdiction.code, case=case,
        now_local=datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"),
    ), (400 if error else 200)  # fmt: skip


@bp.get("/<bigid:case_id>")
@require(Permission.view_cases)
def detail(case_id: int):  # type: ignore[no-untyped-def]
    return render_detail(case_or_404(case_id))


def render_detail(case: Case, refusal: Refusal | None = None):  # type: ignore[no-untyped-def]
    """The case page; a refused action is shown next to its own form, with what was typed (status 400)."""
    from app.cases.services import editing

    s = db.session()
    actions = workflow.available(case, g.user)
    transfer_targets = []
    if case.state in (CaseState.discovered, CaseState.returned) and case.discovered_bureau_id == g.user.bureau_id:
        transfer_targets = [b for b in records.bureaus_for(s, case) if b.id != g.user.bureau_id]
    evidence = list(s.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)))
    with unscoped(s):
        place = s.get(Jurisdiction, case.jurisdiction_id)
    limits = workflow.limits_for(s, case)
    can_upload = (
        g.user.bureau_id in (case.discovered_bureau_id, case.responsible_bureau_id)
        and case.state is not CaseState.closed and g.user.can(Permission.handle_cases)
    )  # fmt: skip
    can_escalate = (
        g.user.can(Permission.supervise_cases) and case.next_step_due(datetime.now(UTC))
        and g.user.bureau_id != case.responsible_bureau_id
    )  # fmt: skip
    extras = detail_extras(s, case)
    shown = {a.value for a in actions} | {f for f, on in (("upload", can_upload), ("escalate", can_escalate),
             ("transfer", bool(transfer_targets)), *extras.pop("forms", ())) if on}  # fmt: skip
    page = render_template(
        "cases/detail.html", case=case, events=queries.timeline(s, case), evidence=evidence, actions=actions,
        limit_rows=[(state, limits.get(state)) for state in CaseState if state is not CaseState.closed],
        action_labels=workflow.ACTION_LABELS, transfer_targets=transfer_targets, place=place,
        names=bureau_names(db.session(), {case.responsible_bureau_id, case.discovered_bureau_id}),
        show_complainant=can_see_complainant(case, g.user), mask=mask_name, now=datetime.now(UTC),
        can_upload=can_upload, can_escalate=can_escalate, evidence_kinds=list(EvidenceKind),
        transfers=_transfers_of(case), refusal=refusal or Refusal(), file_actions=FILE_ACTIONS,
        can_edit=editing.can_edit(case, g.user),
        refusal_elsewhere=refusal.message if refusal and refusal.form not in shown else "", **extras,
        next_step=_next_step(case),
    )  # fmt: skip
    return page, (refusal.status if refusal else 200)


def _next_step(case: Case) -> str:
    try:
        return label(workflow.next_escalation(case, datetime.now(UTC)))
    except ServiceError:
        return ""


def _transfers_of(case: Case) -> list[CaseTransfer]:
    from app.cases.models import TransferItem

    s = db.session()
    return list(s.scalars(
        select(CaseTransfer).join(TransferItem, TransferItem.transfer_id == CaseTransfer.id)
        .where(TransferItem.case_id == case.id).order_by(CaseTransfer.id)
    ))  # fmt: skip


# The forms that take their own files: reporting the rectification and verifying it.
FILE_ACTIONS = {workflow.Action.report: EvidenceKind.rectification, workflow.Action.verify: EvidenceKind.verification}


@bp.post("/<bigid:case_id>/transition")
@require(Permission.handle_cases)
def transition(case_id: int):  # type: ignore[no-untyped-def]
    case = case_or_404(case_id)
    try:
        action = workflow.Action(request.form.get("action", ""))
    except ValueError:
        raise ServiceError(_("未知操作。")) from None
    version = request.form.get("version", type=int)
    s = db.session()
    stored: list[Evidence] = []
    try:
        files = [f for f in request.files.getlist("files") if f.filename]
        if action in FILE_ACTIONS and files:
            stored = records.add_evidence(s, case, g.user, files, FILE_ACTIONS[action])
        workflow.transition(s, case, action, g.user, request.form, expected_version=version)
        s.flush()
    except ServiceError as e:
        return _refused(case_id, e, action.value, stored)
    flash(_("已%(a)s。", a=_(workflow.ACTION_LABELS[action])))
    return redirect(url_for("cases.detail", case_id=case.id))


def _refused(case_id: int, e: ServiceError, form: str, stored: list[Evidence] | None = None):  # type: ignore[no-untyped-def]
    """Nothing is kept of a refused action (files already stored are removed); the case page shows why next to
    the form, with what was typed. A refusal of who may act is the access page, as everywhere."""
    from app.cases.services.evidence import discard_files

    db.session.rollback()
    if stored:
        discard_files(stored)
    if e.status == 403:
        raise e
    return render_detail(case_or_404(case_id), Refusal(form, e.message, e.field, request.form, e.status))


@bp.post("/<bigid:case_id>/evidence")
@require(Permission.handle_cases)
def upload(case_id: int):  # type: ignore[no-untyped-def]
    case = case_or_404(case_id)
    try:
        try:
            kind = EvidenceKind(request.form.get("kind", ""))
        except ValueError:
            raise ServiceError(_("请选择材料类别。"), field="kind") from None
        if kind is EvidenceKind.transfer_scan:
            raise ServiceError(_("移交单扫描件请在移交单页面上传。"), field="kind")
        stored = records.add_evidence(db.session(), case, g.user, request.files.getlist("files"), kind)
        if not stored:
            raise ServiceError(_("请选择要上传的文件。"), field="files")
    except ServiceError as e:
        return _refused(case_id, e, "upload")
    flash(_("已上传 %(n)d 个文件。", n=len(stored)))
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.get("/evidence/<bigid:evidence_id>")
@require(Permission.view_cases)
def evidence_file(evidence_id: int):  # type: ignore[no-untyped-def]
    e = db.session.get(Evidence, evidence_id)  # scoped: only who may see the case or transfer
    if e is None or not path_of(e).exists():
        abort(404)
    inline = e.is_image and request.args.get("download") is None
    response = send_file(
        path_of(e), mimetype=e.content_type, as_attachment=not inline, download_name=download_name(e), max_age=0
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@bp.post("/<bigid:case_id>/escalate")
@require(Permission.supervise_cases)
def escalate(case_id: int):  # type: ignore[no-untyped-def]
    """Step up an overdue case with the supervision opinion and its reason, after a confirmation: the first
    post shows what the step will be, the second (confirm=1) takes it."""
    case = case_or_404(case_id)
    form = request.form
    try:
        if g.user.bureau_id == case.responsible_bureau_id:
            raise ServiceError(_("不能对本单位的线索升级督办。"))
        step = workflow.next_escalation(case, datetime.now(UTC))
        opinion, reason = (form.get("opinion") or "").strip(), (form.get("reason") or "").strip()
        if not opinion:
            raise ServiceError(_("请填写%(what)s。", what=_("督办意见")), field="opinion")
        if not reason:
            raise ServiceError(_("请填写%(what)s。", what=_("督办理由")), field="reason")
        if form.get("confirm") != "1":
            return render_detail(case, Refusal("escalate", "", None, form, 200, confirm=label(step)))
        step = workflow.escalate(db.session(), case, g.user, opinion=opinion, reason=reason)
    except ServiceError as e:
        return _refused(case_id, e, "escalate")
    flash(_("已升级为“%(s)s”。", s=label(step)))
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.get("/inspections")
@require(Permission.view_cases)
def inspections():  # type: ignore[no-untyped-def]
    return _inspections_page()


@bp.post("/inspections")
@require(Permission.handle_cases)
def record_inspection():  # type: ignore[no-untyped-def]
    """An inspection that found no problem; a refusal is shown on its form with what was typed."""
    from app.cases.services.inspections import record_inspection as record_one

    s = db.session()
    try:
        record_one(s, g.user, request.form)
    except ServiceError as e:
        s.rollback()
        if e.status == 403:
            raise
        return _inspections_page(e.message, e.field)
    flash(_("检查记录已保存（未发现问题）。"))
    return redirect(url_for("cases.inspections"))


def _inspections_page(error: str | None = None, field: str | None = None):  # type: ignore[no-untyped-def]
    """The inspection records, and the form of one that found no problem."""
    s = db.session()
    rows = s.scalars(select(Inspection).order_by(Inspection.inspected_at.desc()).limit(200)).all()
    with unscoped(s):
        places = s.scalars(select(Jurisdiction).order_by(Jurisdiction.code)).all()
    groups = place_groups(places, g.user.jurisdiction.code, "（" + _("市级") + "）")
    labels = {o.code: o.label for grp in groups for o in grp.options}
    names = {p.id: labels.get(p.code, p.name) for p in places}
    return render_template(
        "cases/inspections.html", rows=rows, home=g.user.jurisdiction.code, place_groups=groups, place_names=names,
        values=request.form, error=error, field=field,
    ), (400 if error else 200)  # fmt: skip


from app.cases import transfer_views  # noqa: E402, F401 - registers the transfer routes on bp
