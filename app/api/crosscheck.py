"""Cross-check campaigns over JSON (issue 15 points 1, 2, 5): campaigns within reach, set-up, the draw, open and
close, the reviewer's samples (the enterprise only while the grant runs), findings, answers, a finding into a case,
and the consistency aggregates. Scoped like the screens; documented in app/api/openapi.yaml."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import gettext as _

from app.api.blueprint import bp
from app.api.common import iso
from app.auth.roles import Permission
from app.core.access import require
from app.core.errors import ServiceError
from app.core.inputs import json_or_form
from app.crosscheck import consistency, services
from app.crosscheck.models import Campaign, CampaignPair, CampaignSample, Finding
from app.extensions import db
from app.reduction.models import Enterprise


def campaign_json(c: Campaign, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id, "name": c.name, "state": c.state.value, "opens_on": c.opens_on.isoformat(),
        "closes_on": c.closes_on.isoformat(), "bureau_id": c.bureau_id, "opened_at": iso(c.opened_at),
        "closed_at": iso(c.closed_at),
    }  # fmt: skip
    if full:
        out["pairs"] = [pair_json(p) for p in c.pairs]
    return out


def pair_json(p: CampaignPair) -> dict[str, Any]:
    return {
        "id": p.id, "reviewer_bureau_id": p.reviewer_bureau_id, "jurisdiction_id": p.jurisdiction_id,
        "list_id": p.list_id, "list_year": p.list_year, "list_version": p.list_version, "share": p.share,
        "seed": p.seed, "population": p.population, "samples": [sample_json(s) for s in p.samples],
    }  # fmt: skip


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id, "item": f.item.value, "result": f.result.value, "note": f.note, "state": f.state.value,
        "answer": f.answer, "answered_at": iso(f.answered_at), "case_id": f.case_id,
    }  # fmt: skip


def sample_json(s: CampaignSample) -> dict[str, Any]:
    return {
        "id": s.id, "campaign_id": s.campaign_id, "enterprise_id": s.enterprise_id, "uscc": s.uscc, "name": s.name,
        "industry": s.industry, "grade": s.grade, "grant_until": iso(s.grant_until),
        "findings": [finding_json(f) for f in s.findings],
    }  # fmt: skip


@bp.get("/crosscheck/campaigns")
@require(Permission.view_cross_checks)
def crosscheck_campaigns():  # type: ignore[no-untyped-def]
    return {"campaigns": [campaign_json(c) for c in services.campaigns(db.session())]}


@bp.post("/crosscheck/campaigns")
@require(Permission.work_cross_checks)
def crosscheck_campaign_create():  # type: ignore[no-untyped-def]
    return campaign_json(services.create_campaign(db.session(), g.user, json_or_form()), full=True), 201


@bp.get("/crosscheck/campaigns/<id:campaign_id>")
@require(Permission.view_cross_checks)
def crosscheck_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    return campaign_json(services.get_campaign(db.session(), campaign_id), full=True)


@bp.post("/crosscheck/campaigns/<id:campaign_id>/pairs")
@require(Permission.work_cross_checks)
def crosscheck_pair_add(campaign_id: int):  # type: ignore[no-untyped-def]
    pair = services.add_pair(db.session(), g.user, services.get_campaign(db.session(), campaign_id), json_or_form())
    return pair_json(pair), 201


@bp.post("/crosscheck/campaigns/<id:campaign_id>/transitions")
@require(Permission.work_cross_checks)
def crosscheck_transition(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = services.get_campaign(db.session(), campaign_id)
    services.transition(db.session(), g.user, campaign, str(json_or_form().get("action") or ""))
    return campaign_json(campaign, full=True)


@bp.get("/crosscheck/samples")
@require(Permission.view_cross_checks)
def crosscheck_samples():  # type: ignore[no-untyped-def]
    return {"samples": [sample_json(s) for s in services.samples_for_reviewer(db.session(), g.user.bureau_id)]}


@bp.get("/crosscheck/samples/<id:sample_id>")
@require(Permission.view_cross_checks)
def crosscheck_sample(sample_id: int):  # type: ignore[no-untyped-def]
    s = services.get_sample(db.session(), sample_id)
    e = db.session.get(Enterprise, s.enterprise_id)  # through the scope: only while the grant runs
    out = sample_json(s)
    out["enterprise"] = None if e is None else {
        "id": e.id, "name": e.name, "uscc": e.uscc, "industry": e.industry, "grade": e.grade.value if e.grade else None,
        "units": [{"code": u.code, "name": u.name, "reduction_base": u.reduction_base} for u in e.units],
        "measures": [{"level": m.level.value, "kind": m.kind.value, "percent": m.percent,
                      "verification": m.verification.value} for m in e.measures],
    }  # fmt: skip
    return out


@bp.post("/crosscheck/samples/<id:sample_id>/findings")
@require(Permission.work_cross_checks)
def crosscheck_findings(sample_id: int):  # type: ignore[no-untyped-def]
    s = services.get_sample(db.session(), sample_id)
    return {"findings": [finding_json(f) for f in services.record_findings(db.session(), g.user, s, json_or_form())]}


@bp.post("/crosscheck/findings/<id:finding_id>/answer")
@require(Permission.work_cross_checks)
def crosscheck_answer(finding_id: int):  # type: ignore[no-untyped-def]
    f = services.answer(
        db.session(), g.user, services.get_finding(db.session(), finding_id), str(json_or_form().get("answer") or "")
    )
    return finding_json(f)


@bp.post("/crosscheck/findings/<id:finding_id>/decide")
@require(Permission.work_cross_checks)
def crosscheck_decide(finding_id: int):  # type: ignore[no-untyped-def]
    f = services.get_finding(db.session(), finding_id)
    action = str(json_or_form().get("action") or "")
    if action == "accept":
        services.accept(db.session(), g.user, f)
        return {"finding": finding_json(f), "case": None}
    if action == "case":
        case = services.make_case(db.session(), g.user, f)
        return {"finding": finding_json(f), "case": {"id": case.id, "number": case.number}}
    raise ServiceError(_("不支持的操作。"), field="action")


@bp.get("/crosscheck/consistency")
@require(Permission.view_cross_checks)
def crosscheck_consistency():  # type: ignore[no-untyped-def]
    view = consistency.for_reader(db.session(), g.user)

    def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (float(v) if isinstance(v, float) else int(v) if k in ("bureau", "n") else v)
                 for k, v in r.items()} for r in rows]  # fmt: skip

    return {"regional": clean(view.regional), "own": clean(view.own), "outliers": clean(view.outliers),
            "names": {str(k): v for k, v in view.names.items()}}  # fmt: skip
