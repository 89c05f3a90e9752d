"""Cross-check screens: campaigns, the reviewer's sampled enterprises, findings and answers, the report (screen,
Excel, PDF) and the consistency page. Views translate requests; the scope decides what is found."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.models import Bureau
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import ServiceError
from app.core.scoping import unscoped
from app.crosscheck import consistency, reports, services
from app.crosscheck.models import Campaign, CampaignSample, ChecklistItem, FindingResult, FindingState
from app.crosscheck.vocabulary import FINDING_STATE_LABELS, ITEM_LABELS, RESULT_LABELS, STATE_LABELS
from app.extensions import db
from app.places.models import Jurisdiction
from app.reduction.models import Enterprise

bp = Blueprint("crosscheck", __name__, url_prefix="/crosscheck")


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {
        "campaign_state_label": lambda v: _(STATE_LABELS[v]),
        "item_label": lambda v: _(ITEM_LABELS[v]),
        "result_label": lambda v: _(RESULT_LABELS[v]),
        "finding_state_label": lambda v: _(FINDING_STATE_LABELS[v]),
    }


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)  # scoped: another area's campaign is not found
    if campaign is None:
        abort(404)
    return campaign


@bp.get("/", endpoint="index")
@require(Permission.view_cross_checks)
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    return render_template("crosscheck/index.html", campaigns=services.campaigns(s),
                           samples=services.samples_for_reviewer(s, g.user.bureau_id))  # fmt: skip


@bp.post("/", endpoint="create")
@require(Permission.work_cross_checks)
def create():  # type: ignore[no-untyped-def]
    campaign = services.create_campaign(db.session(), g.user, request.form)
    flash(_("已创建抽核活动。"))
    return redirect(url_for("crosscheck.detail", campaign_id=campaign.id))


@bp.get("/<id:campaign_id>", endpoint="detail")
@require(Permission.view_cross_checks)
def detail(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    s = db.session()
    with unscoped(s):  # bureaus and places are named on the page
        bureaus = list(s.scalars(select(Bureau).where(Bureau.active.is_(True)).order_by(Bureau.name)))
        places = {j.id: j for j in s.scalars(select(Jurisdiction).where(
            Jurisdiction.id.in_({p.jurisdiction_id for p in campaign.pairs})))}  # fmt: skip
    return render_template("crosscheck/detail.html", campaign=campaign, report=services.report(s, campaign),
                           bureaus=bureaus if campaign.can_add_pair(g.user) else [], places=places)  # fmt: skip


@bp.post("/<id:campaign_id>/pairs", endpoint="add_pair")
@require(Permission.work_cross_checks)
def add_pair(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    pair = services.add_pair(db.session(), g.user, campaign, request.form)
    flash(_("已抽取 %(n)d 家企业（随机种子 %(seed)d）。", n=len(pair.samples), seed=pair.seed))
    return redirect(url_for("crosscheck.detail", campaign_id=campaign.id))


@bp.post("/<id:campaign_id>/transition", endpoint="transition")
@require(Permission.work_cross_checks)
def transition(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    action = request.form.get("action", "")
    services.transition(db.session(), g.user, campaign, action)
    flash(_("抽核活动已开始。") if action == "open" else _("抽核活动已结束，授权已收回。"))
    return redirect(url_for("crosscheck.detail", campaign_id=campaign.id))


def _sample_or_404(sample_id: int) -> CampaignSample:
    sample = db.session.get(CampaignSample, sample_id)
    if sample is None:
        abort(404)
    return sample


@bp.get("/samples/<id:sample_id>", endpoint="sample")
@require(Permission.view_cross_checks)
def sample(sample_id: int):  # type: ignore[no-untyped-def]
    smp = _sample_or_404(sample_id)
    s = db.session()
    # The enterprise itself through the scope: the reviewer reads it only while the grant runs.
    enterprise = s.get(Enterprise, smp.enterprise_id)
    campaign = s.get(Campaign, smp.campaign_id)
    return render_template(
        "crosscheck/sample.html", sample=smp, campaign=campaign, enterprise=enterprise,
        findings={f.item: f for f in smp.findings}, items=list(ChecklistItem), can_review=campaign.can_review(
            g.user, smp.pair), FindingResult=FindingResult, FindingState=FindingState,
    )  # fmt: skip


@bp.get("/enterprises/<bigid:enterprise_id>", endpoint="enterprise")
@require(Permission.view_cross_checks)
def enterprise(enterprise_id: int):  # type: ignore[no-untyped-def]
    """A granted (or own) enterprise with its units and measures, read through the scope."""
    e = db.session.get(Enterprise, enterprise_id)
    if e is None:
        abort(404)
    return render_template("crosscheck/enterprise.html", enterprise=e)


@bp.post("/samples/<id:sample_id>/findings", endpoint="record_findings")
@require(Permission.work_cross_checks)
def record_findings(sample_id: int):  # type: ignore[no-untyped-def]
    smp = _sample_or_404(sample_id)
    findings = services.record_findings(db.session(), g.user, smp, request.form)
    flash(_("已记录 %(n)d 项抽核意见。", n=len(findings)))
    return redirect(url_for("crosscheck.sample", sample_id=smp.id))


def _finding_or_404(finding_id: int):  # type: ignore[no-untyped-def]
    from app.crosscheck.models import Finding

    finding = db.session.get(Finding, finding_id)
    if finding is None:
        abort(404)
    return finding


@bp.post("/findings/<id:finding_id>/answer", endpoint="answer")
@require(Permission.work_cross_checks)
def answer(finding_id: int):  # type: ignore[no-untyped-def]
    finding = _finding_or_404(finding_id)
    services.answer(db.session(), g.user, finding, request.form.get("answer", ""))
    flash(_("已答复。"))
    return redirect(url_for("crosscheck.sample", sample_id=finding.sample_id))


@bp.post("/findings/<id:finding_id>/decide", endpoint="decide")
@require(Permission.work_cross_checks)
def decide(finding_id: int):  # type: ignore[no-untyped-def]
    """The reviewer accepts the answer, or turns the unresolved finding into a case in one step."""
    finding = _finding_or_404(finding_id)
    action = request.form.get("action", "")
    if action == "accept":
        services.accept(db.session(), g.user, finding)
        flash(_("已认可答复。"))
    elif action == "case":
        case = services.make_case(db.session(), g.user, finding)
        flash(_("已转为问题线索 %(n)s。", n=case.number))
    else:
        raise ServiceError(_("不支持的操作。"), field="action")
    return redirect(url_for("crosscheck.sample", sample_id=finding.sample_id))


@bp.get("/<id:campaign_id>/report", endpoint="report")
@require(Permission.view_cross_checks)
def report(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    return render_template("crosscheck/report.html", report=services.report(db.session(), campaign),
                           items=list(ChecklistItem))  # fmt: skip


@bp.get("/<id:campaign_id>/report.xlsx", endpoint="report_xlsx")
@require(Permission.view_cross_checks)
def report_xlsx(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    data = reports.xlsx(db.session(), campaign)
    return Response(io.BytesIO(data).getvalue(), mimetype=reports.XLSX_MIME,
                    headers={"Content-Disposition": f"attachment; filename=crosscheck-{campaign.id}.xlsx"})  # fmt: skip


@bp.get("/<id:campaign_id>/report.pdf", endpoint="report_pdf")
@require(Permission.view_cross_checks)
def report_pdf(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(campaign_id)
    data = reports.pdf(db.session(), campaign)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=crosscheck-{campaign.id}.pdf"})  # fmt: skip


@bp.get("/consistency", endpoint="consistency")
@require(Permission.view_cross_checks)
def consistency_page():  # type: ignore[no-untyped-def]
    view = consistency.for_reader(db.session(), g.user)
    return render_template("crosscheck/consistency.html", view=view)
