"""Alert screens: the situation page (map of member units by level, active episodes, what waits for the
reader), forecast upload with its preview and evaluation, proposal, approval and confirmation screens, the
provinces' letters as PDF. Views translate requests; the services decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts import services as alerts
from app.alerts import workflow
from app.alerts.domain import readings
from app.alerts.models import Episode, EpisodeUnit, ForecastIssue, ForecastValue, Proposal, ReadingKind
from app.alerts.services import drafts, forecasts, letters, observed, proposals
from app.alerts.services import episodes as episode_services
from app.alerts.services.drafts import Draft
from app.alerts.vocabulary import EpisodeState, ProposalKind, ProposalState, label
from app.alerts.workflow import Action
from app.audit.services import record
from app.auth.roles import Permission
from app.auth.services import bureau_names
from app.core.access import require
from app.core.errors import ServiceError
from app.core.localtime import LOCAL_TZ
from app.core.scoping import get_scope
from app.db import utcnow
from app.extensions import db
from app.places.models import Jurisdiction
from app.plans import services as plans
from app.plans.models import Plan
from app.reduction.domain.vocabulary import AlertLevel

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"alert_label": label}


def _alert_plans(s: Session) -> list[Plan]:
    """The plans with alert rules whose member units the reader's scope holds (every plan for the operator)."""
    scope = get_scope(s)
    found = []
    for plan in plans.all_plans(s):
        if plans.rules_of(plan).alert is None:
            continue
        ids = {m.jurisdiction_id for z in plan.zones for m in z.members}
        if scope is None or scope.unrestricted or ids & set(scope.readable):
            found.append(plan)
    return found


def _names(s: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(s.execute(select(Jurisdiction.id, Jurisdiction.short_name).where(Jurisdiction.id.in_(ids))).all())


@bp.get("/")
@require(Permission.view_alerts)
def index():  # type: ignore[no-untyped-def]
    s, user, now = db.session(), g.user, utcnow()
    in_force = episode_services.levels_issued(s, now)
    maps = []
    for plan in _alert_plans(s):
        members = {m.jurisdiction.code: in_force.get(m.jurisdiction_id) for z in plan.zones for m in z.members}
        labels = {m.jurisdiction.code: m.jurisdiction.short_name + (
            f"（{label(lv.value)}）" if (lv := in_force.get(m.jurisdiction_id)) else "")
            for z in plan.zones for m in z.members}  # fmt: skip
        maps.append({"plan": plan, "levels": members, "labels": labels,
                     "alerting": sum(1 for v in members.values() if v)})  # fmt: skip
    active = episode_services.active(s)
    flags = {e.id: len(proposals.unconfirmed(e, now)) for e in active}
    issued_late = {e.id for e in active if any(p.issued_late for p in e.proposals)}
    waiting = s.scalars(select(Proposal).where(Proposal.state == ProposalState.under_approval)
                        .order_by(Proposal.id)).all()  # fmt: skip
    mine = [p for p in waiting if workflow.steps_for(p, user)]
    to_issue = [p for p in s.scalars(select(Proposal).where(Proposal.state == ProposalState.approved)
                                     .order_by(Proposal.id)) if p.can_issue(user)]  # fmt: skip
    confirm = [u for u in s.scalars(select(EpisodeUnit).where(
        EpisodeUnit.jurisdiction_id == user.jurisdiction_id, EpisodeUnit.ends_at.is_(None),
        EpisodeUnit.confirmed_at.is_(None)).order_by(EpisodeUnit.id)) if u.can_confirm(user)]  # fmt: skip
    return render_template(
        "alerts/index.html", maps=maps, active=active, flags=flags, waiting=waiting, mine=mine, to_issue=to_issue,
        issued_late=issued_late, now=now,
        confirm=confirm, bureaus=bureau_names(s, {e.bureau_id for e in active}),
        names=_names(s, {u.jurisdiction_id for u in confirm}),
    )  # fmt: skip


# --- forecasts ----------------------------------------------------------------------------------------------


@bp.route("/forecasts/upload", methods=["GET", "POST"])
@require(Permission.submit_forecasts)
def upload():  # type: ignore[no-untyped-def]
    s = db.session()
    choices = _alert_plans(s)
    problems: list[str] = []
    if request.method == "POST":
        file = request.files.get("file")
        plan = request.form.get("plan", "")
        observed = request.form.get("kind") == "observation"
        if file is None or not file.filename:
            problems = [_("请选择预报文件（CSV 或 Excel）。")]
        else:
            try:
                parsed = readings.parse(file.filename, file.read(), alerts.member_codes(s))
            except readings.ReadingsError as e:
                problems = list(e.problems)
            else:
                kind = ReadingKind.observation if observed else ReadingKind.forecast
                issue, created = alerts.store(s, parsed, kind, file.filename, g.user)
                if created:
                    flash(_("已保存 %(n)d 条数据。", n=issue.row_count))
                else:
                    flash(_("这份数据此前已上传过（第 %(id)d 号），未重复保存。", id=issue.id))
                for note in parsed.notes:
                    flash(note)
                return redirect(url_for("alerts.forecast", issue_id=issue.id, plan=plan or None))
    status = 400 if problems else 200
    return render_template("alerts/upload.html", plans=choices, problems=problems), status


@bp.get("/forecasts/<id:issue_id>")
@require(Permission.view_alerts)
def forecast(issue_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    issue = s.get(ForecastIssue, issue_id)
    if issue is None:
        abort(404)
    choices = _alert_plans(s)
    code = request.args.get("plan") or (choices[0].code if choices else "")
    plan = next((p for p in choices if p.code == code), None)
    summary = s.execute(
        select(Jurisdiction.code, Jurisdiction.short_name, func.count(), func.max(ForecastValue.aqi),
               func.max(ForecastValue.aqi_max), func.max(ForecastValue.aqi_pm25))
        .join(Jurisdiction, Jurisdiction.id == ForecastValue.jurisdiction_id)
        .where(ForecastValue.issue_id == issue.id).group_by(Jurisdiction.code, Jurisdiction.short_name)
        .order_by(Jurisdiction.code)
    ).all()  # fmt: skip
    preview = s.execute(
        select(Jurisdiction.short_name, ForecastValue)
        .join(Jurisdiction, Jurisdiction.id == ForecastValue.jurisdiction_id)
        .where(ForecastValue.issue_id == issue.id).order_by(ForecastValue.id).limit(12)
    ).all()  # fmt: skip
    result = None
    if plan is not None and issue.kind is ReadingKind.forecast:
        frame = alerts.frame_of(s, issue)
        if plan.code in {p.code for p in choices}:
            codes = {m.jurisdiction.code for z in plan.zones for m in z.members}
            frame = frame[frame["unit"].isin(codes)]
            if len(frame):
                result = alerts.evaluate(s, plan.code, frame)
    open_episodes = [e for e in episode_services.active(s) if plan is not None and e.plan_code == plan.code
                     and e.state is EpisodeState.issued]  # fmt: skip
    upgrade = None
    if plan is not None and issue.kind is ReadingKind.observation and open_episodes:
        upgrade = observed.upgrade(s, plan.code, issue, forecasts.latest_forecast(s))
    return render_template(
        "alerts/forecast.html", issue=issue, plans=choices, plan=plan, summary=summary, preview=preview,
        result=result, episodes=open_episodes, can_propose=g.user.can(Permission.propose_alerts),
        unit_names={c: n for c, n, *_rest in summary}, upgrade=upgrade,
    )  # fmt: skip


@bp.post("/forecasts/<id:issue_id>/propose-upgrade")
@require(Permission.propose_alerts)
def propose_observed_upgrade(issue_id: int):  # type: ignore[no-untyped-def]
    """The observed upgrade (seed 002 §3.7.1) drafted for the plan's episode in force."""
    s = db.session()
    issue = s.get(ForecastIssue, issue_id)
    if issue is None:
        abort(404)
    if not request.form.get("plan"):
        raise ServiceError(_("请选择预案。"), field="plan")
    episode = _episode_arg(s, request.form.get("episode"))
    plan, _rules = proposals.plan_of(s, request.form["plan"])
    found = observed.upgrade(s, plan.code, issue, forecasts.latest_forecast(s))
    if found is None:
        raise ServiceError(_("实测数据未达到高于现行预警的级别，或预报将明显改善，无需升级。"))
    assert episode is not None
    under_way = [p for p in proposals.pending(episode, ProposalKind.upgrade)
                 if p.level is not None and p.level.order >= AlertLevel(found["level"]).order]  # fmt: skip
    if under_way:
        flash(_("这次预警过程已有升级建议在办理中，无需重复拟定。"))
        return redirect(url_for("alerts.proposal", proposal_id=under_way[0].id))
    proposal = proposals.create(s, g.user, plan.code, observed.draft(found), episode=episode, forecast_issue=issue)
    flash(_("已拟定预警建议，请核对后提交审批。"))
    return redirect(url_for("alerts.proposal", proposal_id=proposal.id))


# --- proposals ----------------------------------------------------------------------------------------------


@bp.post("/forecasts/<id:issue_id>/propose")
@require(Permission.propose_alerts)
def propose_from_forecast(issue_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    issue = s.get(ForecastIssue, issue_id)
    if issue is None:
        abort(404)
    plan_code = request.form.get("plan", "")
    if not plan_code or request.form.get("index", type=int) is None:
        raise ServiceError(_("请从评估结果中选择一条建议。"), field="index")
    plan, _rules = proposals.plan_of(s, plan_code)
    codes = {m.jurisdiction.code for z in plan.zones for m in z.members}
    frame = alerts.frame_of(s, issue)
    result = alerts.evaluate(s, plan.code, frame[frame["unit"].isin(codes)])
    index = request.form.get("index", type=int)
    draft = drafts.draft_from_evaluation(result, index if index is not None else -1,
                                            pollution=request.form.get("pollution", ""),
                                            weather=request.form.get("weather", ""))  # fmt: skip
    episode = _episode_arg(s, request.form.get("episode")) if draft.kind is not ProposalKind.issue else None
    proposal = proposals.create(s, g.user, plan.code, draft, episode=episode, forecast_issue=issue)
    flash(_("已拟定预警建议，请核对后提交审批。"))
    return redirect(url_for("alerts.proposal", proposal_id=proposal.id))


def _episode_arg(s: Session, value: Any) -> Episode | None:
    if value in (None, ""):
        raise ServiceError(_("请选择要调整的预警过程。"), field="episode")
    try:
        episode_id = int(value)
    except (TypeError, ValueError):
        raise ServiceError(_("预警过程编号无效。"), field="episode") from None
    if not 0 < episode_id < 2**31:
        raise ServiceError(_("预警过程编号无效。"), field="episode")
    return proposals.get_episode(s, episode_id)


@bp.route("/proposals/new", methods=["GET", "POST"])
@require(Permission.propose_alerts)
def new_proposal():  # type: ignore[no-untyped-def]
    s = db.session()
    source = request.form if request.method == "POST" else request.args
    episode = _episode_arg(s, source.get("episode")) if source.get("episode") else None
    choices = _alert_plans(s)
    code = episode.plan_code if episode is not None else (source.get("plan") or (choices[0].code if choices else ""))
    plan = next((p for p in choices if p.code == code), None)
    if plan is None:
        abort(404)
    error = None
    if request.method == "POST":
        try:
            kind = ProposalKind(request.form.get("kind", ""))
        except ValueError:
            kind = None
        try:
            if kind is None:
                raise ServiceError(_("请选择建议类别。"), field="kind")
            level = request.form.get("level") or None
            draft = Draft(
                kind=kind, level=drafts.parse_level(level) if level else None, units=request.form.getlist("units"),
                starts_at=drafts.parse_when(request.form.get("starts_at", "")),
                pollution=request.form.get("pollution", ""), weather=request.form.get("weather", ""),
                reason=request.form.get("reason", ""), on_schedule=request.form.get("on_schedule") == "1",
            )  # fmt: skip
            proposal = proposals.create(s, g.user, plan.code, draft, episode=episode)
        except ServiceError as e:
            s.rollback()
            error = e
        else:
            flash(_("已拟定预警建议，请核对后提交审批。"))
            return redirect(url_for("alerts.proposal", proposal_id=proposal.id))
    zones = [(z.name, [(m.jurisdiction.code, m.jurisdiction.short_name) for m in
                       sorted(z.members, key=lambda m: m.jurisdiction.code)]) for z in plan.zones]  # fmt: skip
    kinds = [ProposalKind.issue] if episode is None else [ProposalKind.upgrade, ProposalKind.downgrade,
                                                          ProposalKind.lift]  # fmt: skip
    return render_template(
        "alerts/proposal_form.html", plan=plan, plans=choices, episode=episode, zones=zones, kinds=kinds,
        levels=list(AlertLevel.ascending()), error=error, form=request.form,
    ), (400 if error else 200)  # fmt: skip


def _proposal_or_404(s: Session, proposal_id: int) -> Proposal:
    p = s.get(Proposal, proposal_id)
    if p is None:
        abort(404)
    return p


@bp.get("/proposals/<id:proposal_id>")
@require(Permission.view_alerts)
def proposal(proposal_id: int):  # type: ignore[no-untyped-def]
    s, user = db.session(), g.user
    p = _proposal_or_404(s, proposal_id)
    plan = plans.by_code(s, p.episode.plan_code)
    members = proposals.member_units(s, plan) if plan is not None else {}
    decided = {d.step: d for d in p.decisions}
    chain = [{"index": i, "words": proposals.step_words(step), "action": step["action"], "decision": decided.get(i),
              "open": i in workflow.open_steps(p) and p.state is ProposalState.under_approval}
             for i, step in enumerate(p.chain or [])]  # fmt: skip
    return render_template(
        "alerts/proposal.html", p=p, plan=plan, chain=chain, members=members, my_steps=workflow.steps_for(p, user),
        can_submit=p.can_submit(user), can_withdraw=p.can_withdraw(user), can_issue=p.can_issue(user),
        letters=letters.letters(s, p) if p.state in (ProposalState.approved, ProposalState.issued) else [],
    )  # fmt: skip


@bp.post("/proposals/<id:proposal_id>/transition")
@require(Permission.view_alerts)
def act(proposal_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    p = _proposal_or_404(s, proposal_id)
    try:
        what = Action(request.form.get("action", ""))
    except ValueError:
        raise ServiceError(_("未知操作。"), field="action") from None
    proposals.transition(s, p, what, g.user, request.form)
    submitted = _("已提交审批。") if p.state is ProposalState.under_approval else _("已提交；按预案无需另行审批。")
    flash({
        Action.submit: submitted,
        Action.withdraw: _("已撤回。"),
        Action.decide: _("审批意见已提交。"),
        Action.issue: _("已发布，已通知各成员单位。"),
    }[what])  # fmt: skip
    return redirect(url_for("alerts.proposal", proposal_id=p.id))


@bp.get("/proposals/<id:proposal_id>/letters/<province>.pdf")
@require(Permission.view_alerts)
def letter(proposal_id: int, province: str):  # type: ignore[no-untyped-def]
    s = db.session()
    p = _proposal_or_404(s, proposal_id)
    if not (province.isdigit() and len(province) == 6):
        abort(404)
    name, pdf = letters.pdf(s, p, province)
    record(s, "alert_proposal.print_letter", obj=p, detail={"province": province, "bytes": len(pdf)})
    headers = {"Content-Disposition": f"inline; filename={name}", "Cache-Control": "no-store"}
    return Response(pdf, mimetype="application/pdf", headers=headers)


# --- episodes and confirmations -----------------------------------------------------------------------------


@bp.get("/episodes/<id:episode_id>")
@require(Permission.view_alerts)
def episode(episode_id: int):  # type: ignore[no-untyped-def]
    s, user, now = db.session(), g.user, utcnow()
    e = s.get(Episode, episode_id)
    if e is None:
        abort(404)
    late = {u.id for u in proposals.unconfirmed(e, now)}
    plan = plans.by_code(s, e.plan_code)
    runs = user.bureau_id == e.bureau_id and user.can(Permission.propose_alerts) and e.state is EpisodeState.issued
    return render_template(
        "alerts/episode.html", e=e, plan=plan, late=late, names=_names(s, {u.jurisdiction_id for u in e.units}),
        bureau=bureau_names(s, {e.bureau_id}).get(e.bureau_id, ""), can_adjust=runs,
        mine=[u for u in e.units if u.can_confirm(user)],
    )  # fmt: skip


@bp.post("/units/<id:unit_id>/confirm")
@require(Permission.confirm_alerts)
def confirm(unit_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    unit = s.get(EpisodeUnit, unit_id)
    if unit is None:
        abort(404)
    if request.form.get("started") != "1":
        raise ServiceError(_("请勾选“本单位已启动预警”后再确认。"), field="started")
    proposals.confirm(s, unit, g.user, request.form.get("note", ""))
    flash(_("已确认本单位启动预警。"))
    return redirect(url_for("alerts.episode", episode_id=unit.episode_id))


def local_input(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M") if value else ""
