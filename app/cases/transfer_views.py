"""Transfer screens: the confirmation, the form (问题线索移交单) with its PDF and signed scans, the forms copied
to the reader's bureau."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.audit.services import record
from app.auth.roles import Permission
from app.auth.services import bureau_names
from app.cases.models import Evidence
from app.cases.pages import bp, transfer_or_404
from app.cases.services import queries, records
from app.cases.vocabulary import EvidenceKind
from app.core.access import require
from app.core.errors import ServiceError
from app.core.inputs import parse_id
from app.core.scoping import unscoped
from app.extensions import db

# --- transfers -------------------------------------------------------------------------------------------


@bp.post("/transfers")
@require(Permission.handle_cases)
def create_transfer():  # type: ignore[no-untyped-def]
    """Cases chosen on the list or the case page → a confirmation page naming them and the receiving bureau →
    one transfer form (several forms, made in the background, for more than a form holds)."""
    # ids beyond their columns' range (case: 64-bit, bureau: 32-bit) name nothing: refused like unknown ones
    ids = [i for i in (parse_id(raw, big=True) for raw in request.form.getlist("case_id")) if i is not None]
    ids = list(dict.fromkeys(ids))
    to_id = parse_id(request.form.get("to_bureau")) or 0
    if request.form.get("confirm") != "1":
        return _confirm(ids, to_id)
    if len(ids) > records.MAX_CASES_PER_FORM:  # several forms, made in the background
        from app.jobs import services as jobs
        from app.jobs.views import started

        params = {"case_ids": ids, "to_bureau_id": to_id}
        return started(jobs.submit(db.session(), g.user, "cases.transfer_batch", params, total=len(ids)))
    try:
        transfer = records.create_transfer(db.session(), g.user, ids, to_id)
    except ServiceError as e:
        db.session.rollback()
        if e.status == 403:
            raise
        return _confirm(ids, to_id, e)
    flash(_("已生成移交单 %(n)s，请打印、签章后移送。", n=transfer.number))
    return redirect(url_for("cases.transfer", transfer_id=transfer.id))


def _confirm(ids: list[int], to_id: int, refusal: ServiceError | None = None):  # type: ignore[no-untyped-def]
    """The cases about to be transferred, the bureaus that can take all of them, and why any cannot go."""
    if not ids:
        raise ServiceError(_("请选择要移交的线索。"), field="cases")
    s = db.session()
    cases, problems = records.transfer_candidates(s, g.user, ids)
    targets = records.common_targets(s, g.user, cases) if not problems else []
    if cases and not problems and not targets:
        problems.append(_("所选线索不在同一单位辖区，没有能接收全部线索的单位，请分开移交。"))
    with unscoped(s):
        places = {c.id: c.jurisdiction.name for c in cases}
    return render_template(
        "cases/transfer_confirm.html", cases=cases, places=places, targets=targets, to_id=to_id,
        problems=problems, refusal=refusal.message if refusal else "", big=len(ids) > records.MAX_CASES_PER_FORM,
    ), (refusal.status if refusal else (409 if problems else 200))  # fmt: skip


@bp.get("/copied")
@require(Permission.view_cases)
def copied():  # type: ignore[no-untyped-def]
    """The transfer forms copied to the reader's bureau (the provincial bureaus, for cross-province forms)."""
    s = db.session()
    transfers = queries.copied_to(s, g.user.bureau_id)
    names = bureau_names(s, {b for t in transfers for b in (t.from_bureau_id, t.to_bureau_id)})
    return render_template("cases/copied.html", transfers=transfers, names=names)


@bp.get("/transfers/<id:transfer_id>")
@require(Permission.view_cases)
def transfer(transfer_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    t = transfer_or_404(s, transfer_id)
    scans = list(s.scalars(select(Evidence).where(Evidence.transfer_id == t.id).order_by(Evidence.id)))
    with unscoped(s):
        items = [(i.ordinal, i.case) for i in t.items]
    copies = queries.copies_of(s, t)
    return render_template(
        "cases/transfer.html", transfer=t, items=items, scans=scans, copies=copies,
        names=bureau_names(db.session(), {t.from_bureau_id, t.to_bureau_id, *copies}),
        can_upload=g.user.bureau_id in (t.from_bureau_id, t.to_bureau_id) and g.user.can(Permission.handle_cases),
    )  # fmt: skip


@bp.get("/transfers/<id:transfer_id>.pdf")
@require(Permission.view_cases)
def transfer_pdf(transfer_id: int):  # type: ignore[no-untyped-def]
    from app.printing import PrintError, render_pdf

    s = db.session()
    t = transfer_or_404(s, transfer_id)
    with unscoped(s):
        big = len(t.items) > records.MAX_CASES_PER_FORM
    if big:  # a form made before the bound: printed by a job
        return render_template(
            "jobs/start.html", title=_("打印移交单"), action=url_for("cases.transfers_print"),
            fields={"transfer_id": t.id}, message=_("该移交单线索较多，将在后台生成 PDF；完成后可下载。"),
        )  # fmt: skip
    context, images = records.transfer_context(s, t)
    try:
        pdf = render_pdf("transfer_form", context, allowed_files=images)
    except PrintError as e:
        raise ServiceError(_("移交单生成失败：%(e)s", e=str(e))) from e
    record(s, "case_transfer.print", obj=t, detail={"pages_bytes": len(pdf)})
    return Response(
        pdf, mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename={t.number}.pdf", "Cache-Control": "no-store"},
    )  # fmt: skip


@bp.post("/transfers/print")
@require(Permission.view_cases)
def transfers_print():  # type: ignore[no-untyped-def]
    """The PDFs of several transfer forms (a batch), rendered by a job."""
    from app.jobs import services as jobs
    from app.jobs.views import started

    ids = [i for i in (parse_id(raw) for raw in request.form.getlist("transfer_id")) if i is not None]
    s = db.session()
    for tid in ids:
        transfer_or_404(s, tid)
    if not ids or len(ids) > 200:
        raise ServiceError(_("请选择要打印的移交单（一次最多 200 张）。"))
    return started(jobs.submit(s, g.user, "cases.transfer_pdf", {"transfer_ids": ids}, total=len(ids)))


@bp.post("/transfers/<id:transfer_id>/scan")
@require(Permission.handle_cases)
def transfer_scan(transfer_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    t = transfer_or_404(s, transfer_id)
    if g.user.bureau_id not in (t.from_bureau_id, t.to_bureau_id):
        raise ServiceError(_("只有移交单位和接收单位可以上传签章扫描件。"))
    files = [f for f in request.files.getlist("files") if f.filename]
    if not files:
        raise ServiceError(_("请选择签章后的移交单扫描件。"), field="files")
    stored = records.store_all(s, files, EvidenceKind.transfer_scan, g.user, transfer=t)
    record(s, "case_transfer.scan", obj=t, after={"files": [{"name": e.filename, "sha256": e.sha256} for e in stored]})
    flash(_("签章扫描件已上传。"))
    return redirect(url_for("cases.transfer", transfer_id=t.id))
