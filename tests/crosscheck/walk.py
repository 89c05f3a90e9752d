"""Cross-check objects for the route walk: in each jurisdiction an open campaign of its own bureau reviewing its
own list (a pair, the walk's enterprise sampled, one finding). And grants the actor's bureau (at OWN) holds that
must not open anything the walk expects denied: an expired grant on SIBLING's enterprise, a closed campaign's
on PARENT's, a valid one on a second enterprise of OTHER (so OTHER's walked enterprise is outside the sample),
while every other jurisdiction's campaign grants its own bureau only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.crosscheck.models import Campaign, CampaignPair, CampaignSample, Finding
from app.db import utcnow
from app.experts.models import Expert, GradeReview, ReviewInvitation

CROSSCHECK_PARAMS = {
    frozenset({"campaign_id"}): lambda o: {"campaign_id": o["campaign"].id},
    frozenset({"sample_id"}): lambda o: {"sample_id": o["sample"].id},
    frozenset({"finding_id"}): lambda o: {"finding_id": o["finding"].id},
    frozenset({"review_id"}): lambda o: {"review_id": o["grade_review"].id},
    frozenset({"invitation_id"}): lambda o: {"invitation_id": o["invitation"].id},
}


def _campaign(session: Any, bureau: Any, user: Any, state: str = "open") -> Campaign:
    now = utcnow()
    c = Campaign(name=f"走查抽核{bureau.id}", jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id,
                 state=state, opens_on=date(2026, 12, 1), closes_on=date(2027, 1, 31), created_by_id=user.id,
                 opened_at=now, closed_at=now if state == "closed" else None)  # fmt: skip
    session.add(c)
    session.flush()
    return c


def _pair(session: Any, c: Campaign, reviewer_id: int, lst: Any) -> CampaignPair:
    p = CampaignPair(campaign_id=c.id, reviewer_bureau_id=reviewer_id, jurisdiction_id=lst.jurisdiction_id,
                     organiser_jurisdiction_id=c.jurisdiction_id, list_id=lst.id, list_year=lst.year,
                     list_version=lst.version, share=0.1, seed=1, population=1, strata={})  # fmt: skip
    session.add(p)
    session.flush()
    return p


def _sample(session: Any, p: CampaignPair, e: Any, until: Any) -> CampaignSample:
    s = CampaignSample(campaign_id=p.campaign_id, pair_id=p.id, enterprise_id=e.id, uscc=e.uscc, name=e.name,
                       industry=e.industry, grade="B", jurisdiction_id=e.jurisdiction_id,
                       organiser_jurisdiction_id=p.organiser_jurisdiction_id, reviewer_bureau_id=p.reviewer_bureau_id,
                       grant_until=until)  # fmt: skip
    session.add(s)
    session.flush()
    return s


def add_crosscheck_objects(session: Any, objects: dict[str, dict[str, Any]], own: str, others: dict[str, str]) -> None:
    from app.reduction.demo import add_enterprise
    from app.reduction.domain.uscc import generate

    later = utcnow() + timedelta(days=30)
    for o in objects.values():
        c = _campaign(session, o["bureau"], o["user"])
        p = _pair(session, c, o["bureau"].id, o["list"])
        s = _sample(session, p, o["enterprise"], later)
        f = Finding(campaign_id=c.id, sample_id=s.id, enterprise_id=s.enterprise_id, item="stop_times",
                    result="problem", note="走查", jurisdiction_id=s.jurisdiction_id,
                    organiser_jurisdiction_id=s.organiser_jurisdiction_id, reviewer_bureau_id=s.reviewer_bureau_id,
                    recorded_by_id=o["user"].id)  # fmt: skip
        session.add(f)
        session.flush()
        o["campaign"], o["sample"], o["finding"] = c, s, f
    add_expert_objects(session, objects, others["outside"])
    actor_bureau, actor_user = objects[own]["bureau"], objects[own]["user"]
    # Expired: the campaign is open but the grant's day has passed.
    c = _campaign(session, actor_bureau, actor_user)
    _sample(session, _pair(session, c, actor_bureau.id, objects[others["expired"]]["list"]),
            objects[others["expired"]]["enterprise"], utcnow() - timedelta(minutes=1))  # fmt: skip
    # Closed: revoked.
    c = _campaign(session, actor_bureau, actor_user, state="closed")
    _sample(session, _pair(session, c, actor_bureau.id, objects[others["closed"]]["list"]),
            objects[others["closed"]]["enterprise"], None)  # fmt: skip
    # Outside the sample: a valid grant on another enterprise of the same list.
    target = objects[others["outside"]]
    extra = add_enterprise(session, target["list"], uscc=generate(990, region=others["outside"]), name="走查样本外企业",
                           category="key", grade="B", industry="cement_clinker")  # fmt: skip
    c = _campaign(session, actor_bureau, actor_user)
    _sample(session, _pair(session, c, actor_bureau.id, target["list"]), extra, later)
    session.commit()


def add_expert_objects(session: Any, objects: dict[str, dict[str, Any]], expert_at: str) -> None:
    """One expert of the shared pool (reference data: every reader sees it) and, in each jurisdiction, an open
    grading review of its enterprise by its own bureau with that expert invited."""
    expert = Expert(name="走查专家", employer="走查单位", jurisdiction_id=objects[expert_at]["bureau"].jurisdiction_id,
                    specialties=["cement_clinker"])  # fmt: skip
    session.add(expert)
    session.flush()
    for o in objects.values():
        e = o["enterprise"]
        r = GradeReview(registry_enterprise_id=e.registry_id, enterprise_id=e.id, list_id=e.list_id, uscc=e.uscc,
                        name=e.name, industry=e.industry, bureau_id=o["bureau"].id, requested_by_id=o["user"].id,
                        jurisdiction_id=e.jurisdiction_id)  # fmt: skip
        session.add(r)
        session.flush()
        inv = ReviewInvitation(review_id=r.id, expert_id=expert.id, registry_enterprise_id=e.registry_id,
                               invited_by_id=o["user"].id, jurisdiction_id=e.jurisdiction_id)  # fmt: skip
        session.add(inv)
        session.flush()
        o["grade_review"], o["invitation"], o["expert"] = r, inv, expert
