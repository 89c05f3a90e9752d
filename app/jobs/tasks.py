"""The kinds of job: each adapts a feature's service to a job (its parameters, progress and result).

The work itself stays in the features' services; a handler only flushes, the runner commits
(app/jobs/services.py). Labels are msgids, translated where they are shown."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import NotFound, ServiceError
from app.jobs.services import Context, Done, handler

# --- reduction lists -------------------------------------------------------------------------------------


@handler("reduction.export", _l("导出清单"), read_only=True)
def export_list(ctx: Context) -> Done:
    from app.reduction.excel import exporter
    from app.reduction.models import ReductionList

    lst = ctx.session.get(ReductionList, int(ctx.params["list_id"]))  # scoped: the requester's lists only
    if lst is None:
        raise NotFound(_("清单不存在，或您无权查看。"))
    path = ctx.result_path(".xlsx")
    counts = exporter.export_list(ctx.session, lst, ctx.user, str(path), progress=ctx.progress)
    name = f"应急减排清单_{lst.jurisdiction.name}_{lst.year}_v{lst.version}.xlsx"
    return Done({"enterprises": counts.get("enterprises", ctx.total), "rows": counts.get("rows", 0)}, path, name)


@handler("reduction.export_region", _l("导出辖区全部清单"), read_only=True)
def export_region(ctx: Context) -> Done:
    from app.places.models import Jurisdiction
    from app.reduction.excel import exporter

    assert ctx.user is not None
    root = ctx.session.get(Jurisdiction, ctx.user.jurisdiction_id)
    year = int(ctx.params["year"])
    path = ctx.result_path(".xlsx")
    counts = exporter.export_region(ctx.session, root, year, ctx.user, str(path), progress=ctx.progress)
    if not counts["lists"]:
        raise ServiceError(_("%(year)d 年没有可导出的清单。", year=year))
    summary = {"lists": counts["lists"], "enterprises": counts["enterprises"], "rows": counts["rows"]}
    return Done(summary, path, f"应急减排清单_{root.name}_{year}_全部.xlsx")


def _upload(ctx: Context) -> Any:
    from app.reduction.excel import uploads

    assert ctx.user is not None
    return uploads.load_upload(ctx.config["UPLOAD_DIR"], ctx.params["token"], ctx.user.id)


@handler("reduction.import_preview", _l("检查导入文件"), read_only=True)
def import_preview(ctx: Context) -> Done:
    """The import's preview, run in the background: it keeps its signed snapshot beside the upload, so the
    preview page then shows it at once (imports.preview reads the snapshot)."""
    from app.reduction.excel import safety, uploads
    from app.reduction.services import imports

    upload = _upload(ctx)
    ctx.progress(0, 1)
    try:
        p = imports.preview(ctx.session, ctx.user, upload, ctx.config)
    except safety.ExcelRefused as e:
        uploads.discard(upload)
        raise ServiceError(e.message) from e
    ctx.progress(1, 1)
    return Done({"token": upload.token, "year": upload.year, "errors": len(p.errors), "counts": dict(p.counts)})


@handler("reduction.import_commit", _l("导入清单"))
def import_commit(ctx: Context) -> Done:
    from app.reduction.excel import uploads
    from app.reduction.services import imports

    upload = _upload(ctx)
    ctx.progress(0, 1)
    result = imports.commit(ctx.session, ctx.user, upload, ctx.config)
    ctx.progress(1, 1)
    return Done(
        {"year": upload.year, "counts": dict(result.counts)},
        after_commit=lambda: uploads.discard(upload),  # a retry after a killed worker still finds the file
    )


@handler("reduction.recompute", _l("重新计算清单评估"))
def recompute(ctx: Context) -> Done:
    """Recompute the stored assessments, list by list (`only_outdated`: those of an older rules version)."""
    from app.reduction.models import Enterprise, ReductionList
    from app.reduction.services import assessments

    wanted = select(ReductionList.id).order_by(ReductionList.id)
    if ctx.params.get("list_id"):
        wanted = wanted.where(ReductionList.id == int(ctx.params["list_id"]))
    ids = list(ctx.session.scalars(wanted))
    ctx.progress(0, len(ids))
    enterprises = 0
    for i, list_id in enumerate(ids, start=1):
        enterprises += assessments.refresh(
            ctx.session, Enterprise.list_id == list_id, only_outdated=bool(ctx.params.get("only_outdated"))
        )
        ctx.progress(i)
    if ids:
        assessments.recount(ctx.session, ids)
    return Done({"lists": len(ids), "enterprises": enterprises})


# --- response --------------------------------------------------------------------------------------------


@handler("response.apply", _l("生成应急响应任务"))
def response_apply(ctx: Context) -> Done:
    """A large activation (issue, upgrade, downgrade, lift) of an episode: the tasks of every activated place,
    written whatever the requester's reach (the episode's, as in the request)."""
    from app.core.scoping import unscoped
    from app.response.services import activation

    args = activation.from_params(ctx.params)
    with unscoped(ctx.session):
        done = activation.apply(ctx.session, **args, user=ctx.user, progress=ctx.progress)
    return Done(done.as_dict())


# --- cases -----------------------------------------------------------------------------------------------


def escalate_overdue(session: Any, on_case: Callable[[Any, Any], None] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> int:  # fmt: skip
    """Step every overdue case up one level (warning → exposure → supervised → summons); the job and
    `flask cases escalate` both run this."""
    from app.cases.services import queries, workflow
    from app.cases.vocabulary import Escalation

    cases = [c for c in session.scalars(queries.next_step_due()) if c.escalation is not Escalation.summons]
    if progress:
        progress(0, len(cases))
    for i, case in enumerate(cases, start=1):
        step = workflow.escalate(session, case, None)
        if on_case:
            on_case(case, step)
        if progress:
            progress(i, len(cases))
    return len(cases)


@handler("cases.escalate", _l("逾期线索升级督办"))
def escalate(ctx: Context) -> Done:
    return Done({"escalated": escalate_overdue(ctx.session, progress=ctx.progress)})


@handler("cases.transfer_batch", _l("批量生成移交单"))
def transfer_batch(ctx: Context) -> Done:
    """A selection bigger than one form carries: split into forms of at most MAX_CASES_PER_FORM cases."""
    from app.cases.services import records

    assert ctx.user is not None
    ids = [int(i) for i in ctx.params["case_ids"]]
    size = records.MAX_CASES_PER_FORM
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    ctx.progress(0, len(ids))
    made = []
    for chunk in chunks:
        t = records.create_transfer(ctx.session, ctx.user, chunk, int(ctx.params["to_bureau_id"]))
        made.append({"id": t.id, "number": t.number, "cases": len(chunk)})
        ctx.progress(ctx.done + len(chunk))
    return Done({"transfers": made, "cases": len(ids)})


@handler("cases.transfer_pdf", _l("生成移交单 PDF"), read_only=True)
def transfer_pdf(ctx: Context) -> Done:
    """The PDFs of several transfer forms (a batch): one PDF, or a zip with one PDF a form."""
    from app.cases.models import CaseTransfer
    from app.cases.services import records
    from app.printing import PrintError, render_pdf

    ids = [int(i) for i in ctx.params["transfer_ids"]]
    ctx.progress(0, len(ids))
    pdfs: list[tuple[str, bytes]] = []
    for i, tid in enumerate(ids, start=1):
        t = ctx.session.get(CaseTransfer, tid)  # scoped as the form's page
        if t is None:
            raise NotFound(_("移交单不存在，或您无权查看。"))
        context, images = records.transfer_context(ctx.session, t)
        try:
            pdf = render_pdf("transfer_form", context, allowed_files=images)
        except PrintError as e:
            raise ServiceError(_("移交单 %(n)s 生成失败：%(e)s", n=t.number, e=str(e))) from e
        pdfs.append((t.number, pdf))
        from app.audit.services import record

        record(ctx.session, "case_transfer.print", obj=t, detail={"pages_bytes": len(pdf), "job": ctx.job_id})
        ctx.progress(i)
    if len(pdfs) == 1:
        path = ctx.result_path(".pdf")
        path.write_bytes(pdfs[0][1])
        return Done({"forms": 1}, path, f"{pdfs[0][0]}.pdf")
    path = ctx.result_path(".zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for number, pdf in pdfs:
            z.writestr(f"{number}.pdf", pdf)
    return Done({"forms": len(pdfs)}, path, "移交单.zip")


# --- power -----------------------------------------------------------------------------------------------


@handler("power.ingest", _l("导入用电数据"))
def power_ingest(ctx: Context) -> Done:
    """A large batch of readings (upload or API): checked whole, then stored meter group by meter group, the
    progress counting rows. A bad row refuses the batch and nothing is kept."""
    from app.power import ingest
    from app.power.domain.rows import Batch, RowsError
    from app.power.store import store

    path = ingest.kept_file(ctx.config["UPLOAD_DIR"], ctx.params["token"])
    try:
        batch = ingest.parse(ctx.session, ctx.params["name"], path.read_bytes())
    except RowsError as e:
        raise ServiceError("；".join(e.problems[:10])) from e
    frame = batch.frame
    ctx.progress(0, len(frame))
    meters = frame["meter_id"].drop_duplicates().to_numpy()
    totals = {"rows": 0, "new": 0, "corrected": 0, "unchanged": 0}
    step = max(1, len(meters) // 20)
    for start in range(0, len(meters), step):
        part = frame[frame["meter_id"].isin(meters[start : start + step])]
        stored = store(ctx.session, Batch(part.reset_index(drop=True), batch.digest), ctx.params["source"])
        for key in totals:
            totals[key] += getattr(stored, key)
        ctx.progress(totals["rows"])
    return Done(totals, after_commit=lambda: path.unlink(missing_ok=True))
