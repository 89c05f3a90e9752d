"""Cross-check campaigns: set up, draw, open (grant), review, answer, turn into a case, close (revoke).

Services flush and record audit entries; the request commits. The reviewer's reads go through the central
scoping (the grant in models.py), never through filters here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import Bureau, User
from app.cases.models import Case
from app.cases.services.records import create_case
from app.cases.vocabulary import Origin, SourceType
from app.core.errors import Forbidden, NotFound, ServiceError
from app.core.localtime import LOCAL_TZ
from app.core.scoping import unscoped
from app.crosscheck.domain.sampling import Candidate, SampleError, draw
from app.crosscheck.models import (
    ORGANISER_ROLES,
    Campaign,
    CampaignPair,
    CampaignSample,
    CampaignState,
    ChecklistItem,
    Finding,
    FindingResult,
    FindingState,
)
from app.db import utcnow
from app.places.models import Jurisdiction, JurisdictionLevel
from app.reduction.models import Enterprise
from app.reduction.services.in_force import end_of_day, list_in_force

ACTIONS = ("open", "close")


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("没有找到该抽核活动。"))
    return campaign


def get_sample(session: Session, sample_id: int) -> CampaignSample:
    sample = session.get(CampaignSample, sample_id)
    if sample is None:
        raise NotFound(_("没有找到该抽核企业。"))
    return sample


def get_finding(session: Session, finding_id: int) -> Finding:
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise NotFound(_("没有找到该抽核意见。"))
    return finding


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        raise ServiceError(_("日期格式不正确。"), field=field) from None


def create_campaign(session: Session, user: User, data: Mapping[str, Any]) -> Campaign:
    """A provincial or city bureau sets up a campaign (state draft)."""
    name = str(data.get("name") or "").strip()[:200]
    if not name:
        raise ServiceError(_("请填写抽核活动名称。"), field="name")
    opens_on, closes_on = _date(data.get("opens_on"), "opens_on"), _date(data.get("closes_on"), "closes_on")
    if closes_on < opens_on:
        raise ServiceError(_("结束日期不能早于开始日期。"), field="closes_on")
    with unscoped(session):
        level = user.bureau.jurisdiction.level
    if not (user.roles & ORGANISER_ROLES) or level not in (JurisdictionLevel.province, JurisdictionLevel.city):
        raise Forbidden(_("只有省级或市级生态环境部门可以组织交叉抽核。"))
    campaign = Campaign(
        name=name, jurisdiction_id=user.bureau.jurisdiction_id, bureau_id=user.bureau_id, opens_on=opens_on,
        closes_on=closes_on, created_by_id=user.id,
    )  # fmt: skip
    session.add(campaign)
    session.flush()
    record(session, "crosscheck.create", obj=campaign, after={"name": name, "opens_on": str(opens_on),
                                                               "closes_on": str(closes_on)})  # fmt: skip
    return campaign


def add_pair(session: Session, user: User, campaign: Campaign, data: Mapping[str, Any]) -> CampaignPair:
    """Which bureau reviews which jurisdiction's list in force, and the sample drawn with the recorded seed."""
    try:
        share = float(str(data.get("share") or "").strip().rstrip("%"))
    except ValueError:
        raise ServiceError(_("抽核比例不正确。"), field="share") from None
    if share > 1:
        share = share / 100  # given as a percentage
    raw_seed = str(data.get("seed") or "").strip()
    try:
        seed = int(raw_seed) if raw_seed else secrets.randbelow(2**31)
    except ValueError:
        raise ServiceError(_("随机种子须为非负整数。"), field="seed") from None
    if not campaign.can_add_pair(user):
        raise Forbidden(_("只有组织单位可以在活动开始前安排抽核。"))
    with unscoped(session):  # places and bureaus are reference data; the draw reads the whole list in force
        reviewer = session.get(Bureau, int(data.get("reviewer_bureau_id") or 0))
        place = session.scalars(
            select(Jurisdiction).where(Jurisdiction.code == str(data.get("reviewed") or ""))
        ).first()
        if reviewer is None:
            raise ServiceError(_("请选择抽核单位。"), field="reviewer_bureau_id")
        if place is None:
            raise ServiceError(_("请选择被抽核的行政区。"), field="reviewed")
        if place.id == reviewer.jurisdiction_id:
            raise ServiceError(_("抽核单位不能抽核本辖区的清单。"), field="reviewer_bureau_id")
        lst = list_in_force(session, place.id, local_today())
        if lst is None:
            raise ServiceError(_("被抽核的行政区没有现行的应急减排清单。"), field="reviewed")
        rows = session.execute(
            select(Enterprise.id, Enterprise.industry, Enterprise.grade, Enterprise.uscc, Enterprise.name,
                   Enterprise.jurisdiction_id).where(Enterprise.list_id == lst.id)
        ).all()  # fmt: skip
        try:
            sample = draw(
                [Candidate(r.id, r.industry, r.grade.value if r.grade else None) for r in rows], share, seed
            )  # fmt: skip
        except SampleError as e:
            field = str(e)
            message = _("抽核比例须大于0且不超过100%。") if field == "share" else _("随机种子须为非负整数。")
            raise ServiceError(message, field=field) from None
        list_year, list_version, list_id = lst.year, lst.version, lst.id
    exists = session.scalar(
        select(func.count()).select_from(CampaignPair).where(
            CampaignPair.campaign_id == campaign.id, CampaignPair.reviewer_bureau_id == reviewer.id,
            CampaignPair.jurisdiction_id == place.id,
        )
    )  # fmt: skip
    if exists:
        raise ServiceError(_("该抽核安排已存在。"), field="reviewed")
    pair = CampaignPair(
        campaign_id=campaign.id, reviewer_bureau_id=reviewer.id, jurisdiction_id=place.id,
        organiser_jurisdiction_id=campaign.jurisdiction_id, list_id=list_id, list_year=list_year,
        list_version=list_version, share=share, seed=seed, population=sample.population,
        strata={f"{s.industry}:{s.grade}": {"size": s.size, "drawn": list(s.drawn)} for s in sample.strata},
    )  # fmt: skip
    session.add(pair)
    session.flush()
    by_id = {r.id: r for r in rows}
    for eid in sample.enterprise_ids:
        r = by_id[eid]
        session.add(CampaignSample(
            campaign_id=campaign.id, pair_id=pair.id, enterprise_id=eid, uscc=r.uscc, name=r.name,
            industry=r.industry, grade=r.grade.value if r.grade else "-", jurisdiction_id=r.jurisdiction_id,
            organiser_jurisdiction_id=campaign.jurisdiction_id, reviewer_bureau_id=reviewer.id,
        ))  # fmt: skip
    session.flush()
    record(
        session, "crosscheck.pair", obj=pair,
        after={"campaign": campaign.id, "reviewer": reviewer.id, "reviewed": place.code, "list": list_id,
               "version": list_version, "share": share, "seed": seed, "population": sample.population,
               "sampled": list(sample.enterprise_ids)},
    )  # fmt: skip
    return pair


def transition(session: Session, user: User, campaign: Campaign, action: str) -> Campaign:
    """The one state change of a campaign: open (the grants start) or close (they are revoked)."""
    if action not in ACTIONS:
        raise ServiceError(_("不支持的操作。"))
    if not getattr(campaign, f"can_{action}")(user):
        raise Forbidden(_("当前状态下不能进行此操作。"))
    before = campaign.state
    samples = session.scalars(select(CampaignSample).where(CampaignSample.campaign_id == campaign.id)).all()
    now = utcnow()
    if action == "open":
        campaign.state, campaign.opened_at = CampaignState.open, now
        until = end_of_day(campaign.closes_on)
        for s in samples:
            s.grant_until = until
    else:
        campaign.state, campaign.closed_at = CampaignState.closed, now
        for s in samples:
            s.grant_until = None
    session.flush()
    record(
        session, f"crosscheck.{action}", obj=campaign, before={"state": before.value},
        after={"state": campaign.state.value, "samples": len(samples)},
    )  # fmt: skip
    return campaign


def parse_items(data: Mapping[str, Any]) -> dict[ChecklistItem, tuple[FindingResult, str]]:
    items: dict[ChecklistItem, tuple[FindingResult, str]] = {}
    for item in ChecklistItem:
        raw = str(data.get(f"{item.value}") or "").strip()
        if not raw:
            continue
        try:
            result = FindingResult(raw)
        except ValueError:
            raise ServiceError(_("抽核结论不正确。"), field=item.value) from None
        note = str(data.get(f"{item.value}_note") or "").strip()[:2000]
        if result is FindingResult.problem and not note:
            raise ServiceError(_("发现问题时请说明问题。"), field=f"{item.value}_note")
        items[item] = (result, note)
    if not items:
        raise ServiceError(_("请至少填写一项抽核结论。"))
    return items


def record_findings(session: Session, user: User, sample: CampaignSample, data: Mapping[str, Any]) -> list[Finding]:
    """The reviewer's findings on a sampled enterprise, one per checklist item (a recorded item is replaced
    while it waits for no answer yet)."""
    campaign = session.get(Campaign, sample.campaign_id)
    assert campaign is not None
    items = parse_items(data)
    if not campaign.can_review(user, sample.pair):
        raise Forbidden(_("只有抽核单位可以在活动期间填写抽核意见。"))
    existing = {f.item: f for f in sample.findings}
    out = []
    for item, (result, note) in items.items():
        finding = existing.get(item)
        if finding is not None and finding.state is not FindingState.recorded:
            raise ServiceError(_("已答复的抽核意见不能修改。"), field=item.value)
        before = {"result": finding.result.value, "note": finding.note} if finding else None
        if finding is None:
            finding = Finding(
                campaign_id=campaign.id, sample_id=sample.id, enterprise_id=sample.enterprise_id, item=item,
                jurisdiction_id=sample.jurisdiction_id, organiser_jurisdiction_id=sample.organiser_jurisdiction_id,
                reviewer_bureau_id=sample.reviewer_bureau_id, recorded_by_id=user.id, result=result, note=note,
            )  # fmt: skip
            session.add(finding)
        else:
            finding.result, finding.note, finding.recorded_by_id, finding.recorded_at = result, note, user.id, utcnow()
        session.flush()
        record(session, "crosscheck.finding", obj=finding, before=before,
               after={"item": item.value, "result": result.value, "note": note})  # fmt: skip
        out.append(finding)
    session.expire(sample, ["findings"])
    return out


def answer(session: Session, user: User, finding: Finding, text: str) -> Finding:
    text = (text or "").strip()[:4000]
    if not text:
        raise ServiceError(_("请填写答复。"), field="answer")
    campaign = get_campaign(session, finding.campaign_id)
    if not finding.can_answer(user, campaign):
        raise Forbidden(_("只有被抽核单位可以在活动期间答复抽核意见。"))
    before = {"state": finding.state.value, "answer": finding.answer}
    finding.answer, finding.state = text, FindingState.answered
    finding.answered_by_id, finding.answered_at = user.id, utcnow()
    session.flush()
    record(session, "crosscheck.answer", obj=finding, before=before, after={"state": "answered", "answer": text})
    return finding


def accept(session: Session, user: User, finding: Finding) -> Finding:
    campaign = get_campaign(session, finding.campaign_id)
    if not finding.can_accept(user, campaign):
        raise Forbidden(_("只有抽核单位可以认可答复。"))
    finding.state = FindingState.accepted
    session.flush()
    record(session, "crosscheck.accept", obj=finding, before={"state": "answered"}, after={"state": "accepted"})
    return finding


def make_case(session: Session, user: User, finding: Finding) -> Case:
    """An unresolved finding becomes a case in one step, found by the reviewing bureau where the firm is."""
    campaign = get_campaign(session, finding.campaign_id)
    if not finding.can_make_case(user, campaign):
        raise Forbidden(_("只有抽核单位可以将未解决的抽核意见转为问题线索。"))
    sample = finding.sample
    with unscoped(session):
        place = session.get(Jurisdiction, sample.jurisdiction_id)
        assert place is not None
        code = place.code
    problem = finding.note
    if finding.answer:
        problem += "\n" + _("被抽核单位答复：%(answer)s", answer=finding.answer)
    case = create_case(
        session, user,
        {"source_type": SourceType.industrial.value, "origin": Origin.cross_check.value,
         "topic": _("交叉抽核：%(item)s", item=item_label(finding.item)), "source_name": sample.name,
         "enterprise_uscc": sample.uscc, "place": code, "problem": problem},
    )  # fmt: skip
    before = finding.state.value
    finding.state, finding.case_id = FindingState.case, case.id
    session.flush()
    record(session, "crosscheck.case", obj=finding, before={"state": before},
           after={"state": "case", "case": case.number})  # fmt: skip
    return case


def item_label(item: ChecklistItem) -> str:
    from app.crosscheck.vocabulary import ITEM_LABELS

    return _(ITEM_LABELS[item])


def samples_for_reviewer(session: Session, bureau_id: int) -> list[CampaignSample]:
    """A reviewer's sampled enterprises of open campaigns (the scope decides what is visible)."""
    return list(
        session.scalars(
            select(CampaignSample)
            .join(Campaign, Campaign.id == CampaignSample.campaign_id)
            .where(CampaignSample.reviewer_bureau_id == bureau_id, Campaign.state == CampaignState.open)
            .order_by(CampaignSample.campaign_id, CampaignSample.name)
        )
    )


def campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(200)))


def report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Per pair: the sample and every finding, with counts per item and state (screen, Excel, PDF)."""
    pairs = []
    for pair in campaign.pairs:
        samples = []
        for s in pair.samples:
            samples.append({"sample": s, "findings": {f.item: f for f in s.findings}})
        findings = [f for s in pair.samples for f in s.findings]
        problems = [f for f in findings if f.result is FindingResult.problem]
        pairs.append({
            "pair": pair, "samples": samples, "findings": len(findings), "problems": len(problems),
            "answered": sum(1 for f in problems if f.state is not FindingState.recorded),
            "cases": sum(1 for f in problems if f.state is FindingState.case),
        })  # fmt: skip
    return {"campaign": campaign, "pairs": pairs}
