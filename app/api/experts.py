"""The expert pool and grading reviews over JSON (issue 15 points 4, 5): the pool, reviews within reach, the
candidates with their conflicts, invitations, opinions and the conclusion. Scoped like the screens; documented in
app/api/openapi.yaml."""

from __future__ import annotations

from typing import Any

from flask import g

from app.api.blueprint import bp
from app.api.common import iso
from app.auth.roles import Permission
from app.core.access import require
from app.core.inputs import json_or_form
from app.experts import services
from app.experts.models import Expert, GradeReview, ReviewInvitation
from app.extensions import db


def _g(value: Any) -> str | None:
    return value.value if value is not None else None


def expert_json(x: Expert) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "employer": x.employer, "employer_uscc": x.employer_uscc,
            "jurisdiction_id": x.jurisdiction_id, "specialties": list(x.specialties), "active": x.active}  # fmt: skip


def invitation_json(i: ReviewInvitation) -> dict[str, Any]:
    return {"id": i.id, "expert_id": i.expert_id, "invited_at": iso(i.invited_at),
            "proposed_grade": _g(i.proposed_grade), "opinion": i.opinion, "opinion_at": iso(i.opinion_at)}  # fmt: skip


def review_json(r: GradeReview, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "registry_enterprise_id": r.registry_enterprise_id, "enterprise_id": r.enterprise_id,
        "uscc": r.uscc, "name": r.name, "industry": r.industry, "grade_before": _g(r.grade_before),
        "state": r.state.value, "resulting_grade": _g(r.resulting_grade), "conclusion": r.conclusion,
        "result_enterprise_id": r.result_enterprise_id, "bureau_id": r.bureau_id,
        "requested_at": iso(r.requested_at), "concluded_at": iso(r.concluded_at),
    }  # fmt: skip
    if full:
        out["invitations"] = [invitation_json(i) for i in r.invitations]
        out["candidates"] = [
            {"expert_id": c.expert.id, "name": c.expert.name, "reasons": c.reasons, "invited": c.invited}
            for c in (services.candidates(db.session(), r) if r.can_invite(g.user) else [])
        ]
    return out


@bp.get("/experts")
@require(Permission.view_cross_checks)
def experts_pool():  # type: ignore[no-untyped-def]
    return {"experts": [expert_json(x) for x in services.pool(db.session())]}


@bp.post("/experts")
@require(Permission.work_cross_checks)
def experts_add():  # type: ignore[no-untyped-def]
    return expert_json(services.add_expert(db.session(), g.user, json_or_form())), 201


@bp.get("/experts/reviews")
@require(Permission.view_cross_checks)
def grade_reviews():  # type: ignore[no-untyped-def]
    return {"reviews": [review_json(r) for r in services.reviews(db.session())]}


@bp.post("/experts/reviews")
@require(Permission.work_cross_checks)
def grade_review_request():  # type: ignore[no-untyped-def]
    return review_json(services.request_review(db.session(), g.user, json_or_form()), full=True), 201


@bp.get("/experts/reviews/<id:review_id>")
@require(Permission.view_cross_checks)
def grade_review(review_id: int):  # type: ignore[no-untyped-def]
    return review_json(services.get_review(db.session(), review_id), full=True)


@bp.post("/experts/reviews/<id:review_id>/invitations")
@require(Permission.work_cross_checks)
def grade_review_invite(review_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    review = services.get_review(s, review_id)
    try:
        expert_id = int(str(json_or_form().get("expert_id") or "0"))
    except ValueError:
        expert_id = 0
    return invitation_json(services.invite(s, g.user, review, expert_id)), 201


@bp.post("/experts/invitations/<id:invitation_id>/opinion")
@require(Permission.work_cross_checks)
def grade_review_opinion(invitation_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    return invitation_json(
        services.record_opinion(s, g.user, services.get_invitation(s, invitation_id), json_or_form())
    )


@bp.post("/experts/reviews/<id:review_id>/transitions")
@require(Permission.work_cross_checks)
def grade_review_transition(review_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    r = services.get_review(s, review_id)
    body = json_or_form()
    services.transition(s, g.user, r, str(body.get("action") or ""), body)
    return review_json(r, full=True)
