"""Expert pool and grading-review screens. Views translate requests; services decide; the scope finds."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import ServiceError
from app.core.i18n import N_
from app.core.scoping import unscoped
from app.experts import services
from app.experts.models import ReviewAction, ReviewState
from app.extensions import db
from app.places.models import JurisdictionLevel
from app.reduction.domain.vocabulary import Grade
from app.reduction.models import ListState
from app.reduction.services import rule_library
from app.reduction.services.lists import STATE_LABELS as LIST_STATE_LABELS

bp = Blueprint("experts", __name__, url_prefix="/experts")

STATE_LABELS = {
    ReviewState.open: N_("进行中"),
    ReviewState.concluded: N_("已完成"),
    ReviewState.cancelled: N_("已取消"),
}


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"review_state_label": lambda v: _(STATE_LABELS[v])}


def _industry_names() -> dict[str, str]:
    return {code: ind.name for code, ind in rule_library.current().industries.items()}


@bp.get("/", endpoint="index")
@require(Permission.view_cross_checks)
def index():  # type: ignore[no-untyped-def]
    s = db.session()
    with unscoped(s):
        keeper = g.user.bureau is not None and g.user.bureau.jurisdiction.level is JurisdictionLevel.province
        places = {x.jurisdiction_id: x.jurisdiction.name for x in services.pool(s)}
    view = request.args.get("view", "")
    if view not in ("", "to_conclude"):
        raise ServiceError(_("“%(what)s”的取值“%(v)s”无效，应为：%(choices)s。", what="view", v=view[:20],
                             choices="to_conclude"), field="view")  # fmt: skip
    found = services.reviews(s, to_conclude_by=g.user if view else None)
    return render_template("experts/index.html", experts=services.pool(s), places=places, reviews=found,
                           industries=_industry_names(), view=view,
                           keeper=keeper and g.user.can(Permission.work_cross_checks))  # fmt: skip


@bp.post("/", endpoint="add")
@require(Permission.work_cross_checks)
def add():  # type: ignore[no-untyped-def]
    expert = services.add_expert(db.session(), g.user, request.form)
    flash(_("已将 %(name)s 加入专家库。", name=expert.name))
    return redirect(url_for("experts.index"))


@bp.post("/<id:expert_id>/active", endpoint="set_active")
@require(Permission.work_cross_checks)
def set_active(expert_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    expert = services.set_active(s, g.user, services.get_expert(s, expert_id), request.form.get("active"))
    flash(_("已启用该专家。") if expert.active else _("已停用该专家。"))
    return redirect(url_for("experts.index"))


@bp.post("/reviews", endpoint="request_review")
@require(Permission.work_cross_checks)
def request_review():  # type: ignore[no-untyped-def]
    review = services.request_review(db.session(), g.user, request.form)
    flash(_("已发起绩效评级复核，请邀请另一省（市）的专家。"))
    return redirect(url_for("experts.review", review_id=review.id))


@bp.get("/reviews/<id:review_id>", endpoint="review")
@require(Permission.view_cross_checks)
def review(review_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    r = services.get_review(s, review_id)
    rows = services.candidates(s, r) if r.can_invite(g.user) else []
    # The requesting bureau that does not keep the list is told who concludes.
    keeper_note = (services.conclude_refusal(s, r) if r.state is ReviewState.open and not r.owned_by(g.user)
                   else None)  # fmt: skip
    return render_template("experts/review.html", review=r, candidates=rows, grades=list(Grade),
                           industries=_industry_names(), conflict_labels=services.CONFLICT_LABELS,
                           actions=[a for a in ReviewAction if r.can(a, g.user)], keeper_note=keeper_note,
                           list_state_labels=LIST_STATE_LABELS)  # fmt: skip


@bp.post("/reviews/<id:review_id>/invitations", endpoint="invite")
@require(Permission.work_cross_checks)
def invite(review_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    review = services.get_review(s, review_id)
    try:
        expert_id = int(request.form.get("expert_id") or "")
    except ValueError:
        raise ServiceError(_("请选择专家。"), field="expert_id") from None
    inv = services.invite(s, g.user, review, expert_id)
    flash(_("已邀请 %(name)s。", name=inv.expert.name))
    return redirect(url_for("experts.review", review_id=review_id))


@bp.post("/invitations/<id:invitation_id>/opinion", endpoint="opinion")
@require(Permission.work_cross_checks)
def opinion(invitation_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    inv = services.record_opinion(s, g.user, services.get_invitation(s, invitation_id), request.form)
    flash(_("已录入专家意见。"))
    return redirect(url_for("experts.review", review_id=inv.review_id))


@bp.post("/reviews/<id:review_id>/transition", endpoint="transition")
@require(Permission.work_cross_checks)
def transition(review_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    r = services.get_review(s, review_id)
    services.transition(s, g.user, r, request.form.get("action") or "", request.form)
    if r.resulting_grade is None:
        flash(_("复核已取消。"))
    elif r.result_list is not None and r.result_list.state is not ListState.published:
        flash(_("复核已完成：等级已写入%(year)d年第%(version)d版清单，该版本审核发布后成为执行中的清单。",
                year=r.result_list.year, version=r.result_list.version))  # fmt: skip
    else:
        flash(_("复核已完成，企业绩效等级已更新。"))
    return redirect(url_for("experts.review", review_id=review_id))
