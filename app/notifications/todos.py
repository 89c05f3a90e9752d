"""The home page's work list: what waits for the reader's bureau, counted, each with the screen that lists it."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.auth.roles import Permission
from app.cases.models import Case, is_overdue
from app.cases.vocabulary import CaseState
from app.notifications.item import Todo
from app.places.models import Jurisdiction
from app.reduction.models import ListState, ReductionList


def _count(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)  # type: ignore[arg-type]


def case_todos(session: Session, user: User, now: datetime) -> list[Todo]:
    """One statement over the cases the reader's bureau holds or discovered (scoped as every read)."""
    mine, found = Case.responsible_bureau_id == user.bureau_id, Case.discovered_bureau_id == user.bureau_id
    handling = Case.state.in_([CaseState.received, CaseState.handling]) | and_(
        Case.state == CaseState.rectifying, Case.rectified_at.is_(None)
    )
    verify = (and_(Case.state == CaseState.rectifying, Case.rectified_at.is_not(None))) | (
        Case.state == CaseState.verified
    )
    row = session.execute(
        select(
            _count(and_(mine, Case.state == CaseState.transferred)),
            _count(and_(mine, handling)),
            _count(and_(found, verify)),
            _count(and_(found, Case.state == CaseState.returned)),
            _count(and_(mine, is_overdue(now))),
            _count(and_(mine, handling, Case.assignee_id == user.id)),
        ).where(mine | found)
    ).one()
    sign, handle, check, returned, overdue, assigned = (int(v) for v in row)
    return [
        Todo("sign", str(_l("待签收线索")), sign, "cases.inbox", {}),
        Todo("handle", str(_l("待处置线索")), handle, "cases.inbox", {}),
        Todo("assigned", str(_l("指派给我的线索")), assigned, "cases.inbox", {"mine": "1"}),
        Todo("verify", str(_l("待核查线索")), check, "cases.index", {"view": "verify"}),
        Todo("returned", str(_l("被退回线索")), returned, "cases.index", {"view": "verify"}, urgent=returned > 0),
        Todo("overdue", str(_l("超期线索")), overdue, "cases.overdue", {}, urgent=overdue > 0),
    ]


def list_todos(session: Session, user: User) -> list[Todo]:
    todos = []
    if user.can(Permission.decide_lists):
        below = select(Jurisdiction.id).where(Jurisdiction.parent_id == user.jurisdiction_id)
        waiting = session.scalar(
            select(func.count()).where(
                ReductionList.state == ListState.submitted, ReductionList.jurisdiction_id.in_(below)
            )
        )
        todos.append(Todo("approve", str(_l("待审核清单")), waiting or 0, "reduction.index", {}))
    if user.can(Permission.edit_lists):
        back = session.scalar(
            select(func.count()).where(
                ReductionList.state == ListState.returned, ReductionList.jurisdiction_id == user.jurisdiction_id
            )
        )
        todos.append(Todo("list_returned", str(_l("被退回清单")), back or 0, "reduction.index", {}, bool(back)))
    return todos


def alert_todos(session: Session, user: User) -> list[Todo]:
    """Proposals waiting for the reader's decision or for its bureau to issue them; alerts its unit must confirm."""
    from app.alerts.models import Episode, EpisodeUnit, Proposal
    from app.alerts.vocabulary import EpisodeState, ProposalState
    from app.alerts.workflow import steps_for

    found = []
    if user.can(Permission.decide_alerts):
        waiting = session.scalars(select(Proposal).where(Proposal.state == ProposalState.under_approval)).all()
        n = sum(1 for p in waiting if steps_for(p, user))
        found.append(Todo("alert_decide", str(_l("待审批预警建议")), n, "alerts.index", {}, urgent=n > 0))
    if user.can(Permission.propose_alerts):
        n = session.scalar(
            select(func.count()).select_from(Proposal).join(Episode, Episode.id == Proposal.episode_id)
            .where(Proposal.state == ProposalState.approved, Episode.bureau_id == user.bureau_id)
        )  # fmt: skip
        if n:
            found.append(Todo("alert_issue", str(_l("已批准待发布的预警")), n or 0, "alerts.index", {}, urgent=True))
    if user.can(Permission.confirm_alerts):
        n = session.scalar(
            select(func.count()).select_from(EpisodeUnit).join(Episode, Episode.id == EpisodeUnit.episode_id)
            .where(EpisodeUnit.jurisdiction_id == user.jurisdiction_id, EpisodeUnit.ends_at.is_(None),
                   EpisodeUnit.confirmed_at.is_(None), Episode.state == EpisodeState.issued)
        )  # fmt: skip
        if n:
            found.append(Todo("alert_confirm", str(_l("待确认启动的预警")), n or 0, "alerts.index", {}, urgent=True))
    return found


def todos(session: Session, user: User, now: datetime) -> list[Todo]:
    found: list[Todo] = []
    if user.can(Permission.view_alerts):
        found += alert_todos(session, user)
    if user.can(Permission.handle_cases):
        found += case_todos(session, user, now)
    if user.can(Permission.view_lists):
        found += list_todos(session, user)
    if user.can(Permission.view_response):
        from app.response.services.todo import response_todos

        found += response_todos(session, user, now)
    if user.can(Permission.work_cross_checks):
        from app.experts.services import review_todos

        found += review_todos(session, user)
    return found
