"""The expert pool and grading reviews: keep the pool, request a review, invite experts of the other province
without conflicts, record their opinions, conclude with the resulting grade (the enterprise's grade moves in its
editable list version, or in the next version of a published one, and its assessment is refreshed), or cancel.
Whoever requests the review (a province, or the city above a county), the bureau that keeps the enterprise's list
concludes it: it alone writes that list (`GradeReview.can_conclude`); any other bureau is told who must. The
keeper is notified when an opinion is recorded and has the reviews waiting for it on its home page (`review_todos`).

Services flush and write audit entries; the request commits. Reads go through the central scoping: the review
and the enterprise are found only within the reader's reach; the pool is shared reference data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.audit.services import record
from app.auth.models import User
from app.auth.roles import STAFF, Permission
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.core.i18n import N_
from app.core.scoping import unscoped
from app.db import utcnow
from app.experts import domain
from app.experts.models import REQUESTER_ROLES, Expert, GradeReview, ReviewAction, ReviewInvitation, ReviewState
from app.notifications.item import Todo
from app.notifications.models import NotificationKind
from app.notifications.services import bureaus_of, notify
from app.places.models import Jurisdiction, JurisdictionLevel
from app.reduction.domain.vocabulary import Grade
from app.reduction.models import Enterprise, ListAction, ListState, ReductionList
from app.reduction.services import assessments, lists, rule_library

CONFLICT_LABELS = {
    domain.Conflict.own_employer: N_("本人所在单位"),
    domain.Conflict.own_jurisdiction: N_("本人所在辖区"),
    domain.Conflict.recent_review: N_("近12个月内评审过该企业"),
    domain.Conflict.same_province: N_("与企业同省（市），须邀请另一省（市）专家"),
    domain.Conflict.inactive: N_("已停用"),
}


def _grade(value: Any, field: str) -> Grade:
    try:
        return Grade(str(value or "").strip())
    except ValueError:
        raise ServiceError(_("请选择绩效等级。"), field=field) from None


# --- the pool --------------------------------------------------------------------------------------------


def pool(session: Session) -> list[Expert]:
    return list(session.scalars(select(Expert).order_by(Expert.active.desc(), Expert.name, Expert.id)))


def get_expert(session: Session, expert_id: int) -> Expert:
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise NotFound(_("没有找到该专家。"))
    return expert


def _pool_keeper(session: Session, user: User) -> None:
    with unscoped(session):
        level = user.bureau.jurisdiction.level
    if level is not JurisdictionLevel.province or not (user.roles & REQUESTER_ROLES):
        raise Forbidden(_("专家库由省级（直辖市）生态环境部门维护。"))


def add_expert(session: Session, user: User, data: Mapping[str, Any]) -> Expert:
    """A provincial bureau adds an expert of its province (seed 001 六: the two provinces share the pool)."""
    name = str(data.get("name") or "").strip()[:64]
    if not name:
        raise ServiceError(_("请填写专家姓名。"), field="name")
    _pool_keeper(session, user)
    library = rule_library.current()
    specialties = data.getlist("specialties") if hasattr(data, "getlist") else data.get("specialties") or []
    specialties = [str(s) for s in (specialties if isinstance(specialties, list) else [specialties]) if s]
    unknown = [s for s in specialties if s not in library.industries]
    if unknown or not specialties:
        raise ServiceError(_("请从规则库的行业中选择专业领域。"), field="specialties")
    uscc = str(data.get("employer_uscc") or "").strip().upper() or None
    if uscc is not None and len(uscc) != 18:
        raise ServiceError(_("统一社会信用代码应为18位。"), field="employer_uscc")
    with unscoped(session):
        place = session.scalars(select(Jurisdiction).where(Jurisdiction.code == str(data.get("jurisdiction") or ""))
                                ).first()  # fmt: skip
        home = user.bureau.jurisdiction
        if place is None or not place.is_within(home):
            raise ServiceError(_("请选择本省（市）内的所在地。"), field="jurisdiction")
    expert = Expert(name=name, employer=str(data.get("employer") or "").strip()[:200], employer_uscc=uscc,
                    jurisdiction_id=place.id, specialties=sorted(set(specialties)), active=True)  # fmt: skip
    session.add(expert)
    session.flush()
    record(session, "expert.create", obj=expert, after=_expert_data(expert, place.code))
    return expert


def set_active(session: Session, user: User, expert: Expert, value: Any) -> Expert:
    if str(value) not in ("0", "1"):
        raise ServiceError(_("请选择启用或停用。"), field="active")
    active = str(value) == "1"
    _pool_keeper(session, user)
    with unscoped(session):
        place = session.get(Jurisdiction, expert.jurisdiction_id)
        if place is None or not place.is_within(user.bureau.jurisdiction):
            raise Forbidden(_("只能维护本省（市）的专家。"))
    before = {"active": expert.active}
    expert.active = active
    session.flush()
    record(session, "expert.update", obj=expert, before=before, after={"active": active})
    return expert


def _expert_data(e: Expert, code: str) -> dict[str, Any]:
    return {"name": e.name, "employer": e.employer, "employer_uscc": e.employer_uscc, "jurisdiction": code,
            "specialties": list(e.specialties), "active": e.active}  # fmt: skip


# --- reviews ---------------------------------------------------------------------------------------------


def reviews(session: Session, *, to_conclude_by: User | None = None) -> list[GradeReview]:
    """The newest reviews within reach; with `to_conclude_by`, only those waiting for that user's conclusion."""
    stmt = select(GradeReview)
    if to_conclude_by is not None:
        stmt = stmt.where(_to_conclude(to_conclude_by))
    return list(session.scalars(stmt.order_by(GradeReview.id.desc()).limit(200)))


def _to_conclude(user: User) -> Any:
    """Open reviews of an enterprise whose list the user's bureau keeps (`GradeReview.owned_by`), with at least
    one expert's opinion: what `GradeReview.can_conclude` allows, as SQL."""
    if not (user.roles & STAFF):
        return GradeReview.id.is_(None)
    opinion = exists().where(ReviewInvitation.review_id == GradeReview.id, ReviewInvitation.proposed_grade.is_not(None))
    return (GradeReview.state == ReviewState.open) & (GradeReview.jurisdiction_id == user.jurisdiction_id) & opinion


def review_todos(session: Session, user: User) -> list[Todo]:
    """The home page's line for the bureau that keeps the list: reviews waiting for it to conclude them, whoever
    requested them (a province's review of a city's enterprise is the city's to conclude)."""
    if not (user.can(Permission.work_cross_checks) and user.roles & STAFF):
        return []
    n = session.scalar(select(func.count()).select_from(GradeReview).where(_to_conclude(user))) or 0
    return [Todo("review_conclude", str(_l("待完成的绩效评级复核")), n, "experts.index", {"view": "to_conclude"},
                 urgent=n > 0)]  # fmt: skip


def get_review(session: Session, review_id: int) -> GradeReview:
    review = session.get(GradeReview, review_id)  # scoped
    if review is None:
        raise NotFound(_("没有找到该绩效评级复核。"))
    return review


def get_invitation(session: Session, invitation_id: int) -> ReviewInvitation:
    inv = session.get(ReviewInvitation, invitation_id)
    if inv is None:
        raise NotFound(_("没有找到该专家邀请。"))
    return inv


def request_review(session: Session, user: User, data: Mapping[str, Any]) -> GradeReview:
    """A provincial or city bureau asks for a grading review of an enterprise of a list within its reach."""
    uscc = str(data.get("uscc") or "").strip().upper()
    try:
        enterprise_id = int(str(data.get("enterprise_id") or "")) if not uscc else None
        if enterprise_id is not None and not 0 < enterprise_id < 2**63:
            raise ValueError
    except ValueError:
        raise ServiceError(_("请填写企业的统一社会信用代码。"), field="uscc") from None
    with unscoped(session):
        level = user.bureau.jurisdiction.level
    if not (user.roles & REQUESTER_ROLES) or level not in (JurisdictionLevel.province, JurisdictionLevel.city):
        raise Forbidden(_("只有省级或市级生态环境部门可以组织绩效评级复核。"))
    if enterprise_id is not None:
        e = session.get(Enterprise, enterprise_id)  # scoped: only within the bureau's reach
    else:  # the newest listing of the credit code within reach
        e = session.scalars(
            select(Enterprise).join(ReductionList, ReductionList.id == Enterprise.list_id)
            .where(Enterprise.uscc == uscc).order_by(ReductionList.year.desc(), ReductionList.version.desc()).limit(1)
        ).first()  # fmt: skip
    if e is None or e.reduction_list is None or e.registry_id is None:
        raise NotFound(_("企业不存在，或不在您的辖区范围内。"))
    open_one = session.scalar(
        select(func.count()).select_from(GradeReview).where(
            GradeReview.registry_enterprise_id == e.registry_id, GradeReview.state == ReviewState.open
        )
    )  # fmt: skip
    if open_one:
        raise Conflict(_("该企业已有进行中的绩效评级复核。"))
    review = GradeReview(
        registry_enterprise_id=e.registry_id, enterprise_id=e.id, list_id=e.list_id, uscc=e.uscc, name=e.name,
        industry=e.industry, grade_before=e.grade, reason=str(data.get("reason") or "").strip()[:2000],
        bureau_id=user.bureau_id, requested_by_id=user.id, jurisdiction_id=e.jurisdiction_id,
    )  # fmt: skip
    session.add(review)
    session.flush()
    record(session, "grade_review.request", obj=review,
           after={"enterprise_id": e.id, "uscc": e.uscc, "grade": _v(e.grade), "reason": review.reason})  # fmt: skip
    return review


def _v(grade: Grade | None) -> str | None:
    return grade.value if grade is not None else None


@dataclass
class CandidateRow:
    expert: Expert
    place: str
    reasons: list[str]
    invited: bool
    specialist: bool  # the review's industry is among the expert's specialties


def candidates(session: Session, review: GradeReview) -> list[CandidateRow]:
    """Every expert of the pool with what keeps them from this review (empty: invitable); specialists first."""
    now = utcnow()
    with unscoped(session):  # the pool, places and earlier reviews of the enterprise anywhere
        here = session.get(Jurisdiction, review.jurisdiction_id)
        experts = pool(session)
        places = {j.id: j for j in session.scalars(select(Jurisdiction).where(
            Jurisdiction.id.in_({x.jurisdiction_id for x in experts})))}  # fmt: skip
        last = dict(
            session.execute(
                select(ReviewInvitation.expert_id, func.max(ReviewInvitation.invited_at))
                .where(ReviewInvitation.registry_enterprise_id == review.registry_enterprise_id,
                       ReviewInvitation.review_id != review.id)
                .group_by(ReviewInvitation.expert_id)
            ).all()
        )  # fmt: skip
        invited = set(
            session.scalars(select(ReviewInvitation.expert_id).where(ReviewInvitation.review_id == review.id))
        )
    rows = []
    for x in experts:
        place = places[x.jurisdiction_id]
        c = domain.Candidate(x.id, x.employer_uscc, place.path, x.active)
        reasons = domain.conflicts(c, enterprise_uscc=review.uscc, enterprise_path=here.path,
                                   last_reviewed=last.get(x.id), now=now)  # fmt: skip
        rows.append(CandidateRow(x, place.name, reasons, x.id in invited, review.industry in x.specialties))
    rows.sort(key=lambda r: (bool(r.reasons), not r.specialist, r.expert.name))
    return rows


def invite(session: Session, user: User, review: GradeReview, expert_id: int) -> ReviewInvitation:
    if not 0 < expert_id < 2**31:
        raise ServiceError(_("请选择专家。"), field="expert_id")
    if not review.can_invite(user):
        raise Forbidden(_("只有组织复核的单位可以在复核进行中邀请专家。"))
    row = next((r for r in candidates(session, review) if r.expert.id == expert_id), None)
    if row is None:
        raise ServiceError(_("请选择专家。"), field="expert_id")
    if row.invited:
        raise Conflict(_("该专家已受邀。"))
    if row.reasons:
        raise ServiceError(
            _("该专家不能参加本次复核：%(why)s。", why="、".join(_(CONFLICT_LABELS[r]) for r in row.reasons)),
            field="expert_id",
        )
    inv = ReviewInvitation(
        review_id=review.id, expert_id=expert_id, registry_enterprise_id=review.registry_enterprise_id,
        invited_by_id=user.id, jurisdiction_id=review.jurisdiction_id,
    )  # fmt: skip
    session.add(inv)
    session.flush()
    session.expire(review, ["invitations"])
    record(session, "grade_review.invite", obj=review, after={"expert_id": expert_id, "expert": row.expert.name})
    return inv


def record_opinion(session: Session, user: User, inv: ReviewInvitation, data: Mapping[str, Any]) -> ReviewInvitation:
    review = inv.review
    grade = _grade(data.get("proposed_grade"), "proposed_grade")
    opinion = str(data.get("opinion") or "").strip()[:4000]
    if not opinion:
        raise ServiceError(_("请填写专家意见的理由。"), field="opinion")
    if not review.can_record_opinion(user):
        raise Forbidden(_("只有组织复核的单位可以在复核进行中录入专家意见。"))
    before = {"proposed_grade": _v(inv.proposed_grade), "opinion": inv.opinion}
    inv.proposed_grade, inv.opinion, inv.opinion_at, inv.recorded_by_id = grade, opinion, utcnow(), user.id
    session.flush()
    session.expire(review, ["invitations"])
    record(session, "grade_review.opinion", obj=review, before=before,
           after={"expert_id": inv.expert_id, "proposed_grade": grade.value, "opinion": opinion})  # fmt: skip
    _notify_keeper(session, user, review, inv, grade)
    return inv


def _notify_keeper(session: Session, user: User, review: GradeReview, inv: ReviewInvitation, grade: Grade) -> None:
    """The review now waits for its conclusion by the bureau that keeps the enterprise's list: tell that bureau
    (the bureaus of the enterprise's jurisdiction), unless it recorded the opinion itself. The detail is data:
    the requesting bureau, the expert and the grade proposed."""
    keepers = [b for b in bureaus_of(session, review.jurisdiction_id) if b != user.bureau_id]
    if not keepers:
        return
    with unscoped(session):
        requester = review.bureau.name if review.bureau is not None else ""
    detail = " · ".join(x for x in (requester, inv.expert.name, grade.value) if x)
    notify(session, keepers, NotificationKind.review_to_conclude, subject=review.name, detail=detail,
           endpoint="experts.review", object_id=review.id)  # fmt: skip


def transition(session: Session, user: User, review: GradeReview, action: str, data: Mapping[str, Any]) -> None:
    """The one state change: conclude (with the resulting grade, applied to the enterprise) or cancel."""
    try:
        act = ReviewAction(action)
    except ValueError:
        raise ServiceError(_("不支持的操作。"), field="action") from None
    if not review.can(act, user):
        raise Forbidden(_why_not(session, review, act, user))
    before = {"state": review.state.value}
    if act is ReviewAction.cancel:
        review.state = ReviewState.cancelled
        session.flush()
        record(session, "grade_review.cancel", obj=review, before=before, after={"state": review.state.value})
        return
    grade = _grade(data.get("resulting_grade"), "resulting_grade")
    conclusion = str(data.get("conclusion") or "").strip()[:4000]
    if not conclusion:
        raise ServiceError(_("请填写复核结论。"), field="conclusion")
    row, lst, new_list = _apply_grade(session, user, review, grade)
    review.state, review.resulting_grade, review.conclusion = ReviewState.concluded, grade, conclusion
    review.concluded_at, review.concluded_by_id = utcnow(), user.id
    review.result_enterprise_id, review.result_list_id = row.id, lst.id
    session.flush()
    record(session, "grade_review.conclude", obj=review, before={**before, "grade": _v(review.grade_before)},
           after={"state": review.state.value, "grade": grade.value, "enterprise_id": row.id, "list_id": lst.id,
                  "new_version": new_list, "conclusion": conclusion})  # fmt: skip


def _why_not(session: Session, review: GradeReview, act: ReviewAction, user: User) -> str:
    if review.state is not ReviewState.open:
        return _("该复核已结束，不能再执行此操作。")
    if act is ReviewAction.cancel:
        return _("只有组织复核的单位可以取消复核。")
    if not review.owned_by(user):
        return conclude_refusal(session, review)
    return _("尚无专家提出建议等级，不能完成复核。")


def _newest_listing(session: Session, review: GradeReview) -> tuple[Enterprise, ReductionList] | None:
    """The reviewed enterprise's row in the newest list version of its jurisdiction, with that version."""
    found = session.execute(
        select(Enterprise, ReductionList)
        .join(ReductionList, ReductionList.id == Enterprise.list_id)
        .where(Enterprise.registry_id == review.registry_enterprise_id,
               ReductionList.jurisdiction_id == review.jurisdiction_id)
        .order_by(ReductionList.year.desc(), ReductionList.version.desc())
        .limit(1)
    ).first()  # fmt: skip
    return (found[0], found[1]) if found is not None else None


def list_keeper(session: Session, review: GradeReview) -> tuple[ReductionList | None, str]:
    """The enterprise's newest list version in its jurisdiction and the name of the bureau keeping it."""
    from app.auth.models import Bureau

    with unscoped(session):
        newest = _newest_listing(session, review)
        lst = newest[1] if newest is not None else None
        bureau = session.get(Bureau, lst.bureau_id) if lst is not None else None
        name = bureau.name if bureau is not None else review.jurisdiction.name
    return lst, name


def conclude_refusal(session: Session, review: GradeReview) -> str:
    """Why a bureau other than the list's keeper cannot conclude, naming the keeper and the list."""
    lst, keeper = list_keeper(session, review)
    if lst is not None and lst.state is ListState.published:
        return _("该企业所在的%(year)d年第%(version)d版清单已发布，由%(keeper)s管理；复核确定的等级须由%(keeper)s"
                 "完成复核、建立清单新版本写入，其他单位不能修改该清单。", year=lst.year, version=lst.version,
                 keeper=keeper)  # fmt: skip
    return _("该企业的应急减排清单由%(keeper)s管理；复核确定的等级须由%(keeper)s完成复核并写入清单，其他单位不能"
             "修改该清单。", keeper=keeper)  # fmt: skip


def _apply_grade(
    session: Session, user: User, review: GradeReview, grade: Grade
) -> tuple[Enterprise, ReductionList, bool]:
    """The enterprise's newest list version of its jurisdiction: set the grade there when it is editable, or
    in a new version of a published list (reduction services); the registry writes the `changed` event (its
    ORM hook) and the assessment is refreshed, so the rules that apply move with the grade."""
    newest = _newest_listing(session, review)
    if newest is None:
        raise Conflict(_("该企业已不在本辖区的应急减排清单中。"))
    row, lst = newest
    new_list = False
    if not lst.editable:
        if lst.state is not ListState.published:
            raise Conflict(_("该企业所在清单正在审核中，请待审核结束后再完成复核。"))
        if not lst.may(ListAction.new_version, user):  # the keeper's staff always may (can_conclude)
            raise Forbidden(conclude_refusal(session, review))
        lst = lists.new_version(session, lst, user)
        new_list = True
        row = session.scalars(
            select(Enterprise).where(
                Enterprise.list_id == lst.id, Enterprise.registry_id == review.registry_enterprise_id
            )
        ).one()
    elif not lst.can_edit(user):
        raise Forbidden(conclude_refusal(session, review))
    before = _v(row.grade)
    row.grade = grade
    session.flush()
    lists.touch(session, lst)
    assessments.refresh(session, Enterprise.id == row.id)
    record(session, "enterprise.grade", obj=row, before={"grade": before},
           after={"grade": grade.value, "grade_review_id": review.id})  # fmt: skip
    return row, lst, new_list
