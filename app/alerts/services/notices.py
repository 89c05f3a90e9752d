"""Who hears of a proposal's steps (app/alerts/services/proposals.py calls these): the running bureau, the
bureaus holding a decider of an open step, the activated places' bureaus; a subject kept as data and worded when
shown; an upgrade drafted by the plan's observed-upgrade rule has its own kind, naming the level and units."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Proposal
from app.alerts.vocabulary import LEVEL_LABELS, ProposalKind, term
from app.alerts.workflow import open_steps
from app.auth.models import User, UserRole
from app.auth.roles import Role
from app.core.scoping import unscoped
from app.notifications.models import NotificationKind
from app.notifications.services import notify
from app.places.models import Jurisdiction


def subject(proposal: Proposal) -> str:
    """Kept as data and worded when shown: the plan's code, the kind and level (Chinese terms of the plan)."""
    what = term(proposal.kind)
    if proposal.level is not None:
        what += f"（{LEVEL_LABELS[proposal.level.value]}）"
    return f"{proposal.episode.plan_code} #{proposal.episode_id} {what}"


def notify_bureaus(
    session: Session, proposal: Proposal, kind: NotificationKind, bureaus: list[int], detail: str = ""
) -> None:
    notify(session, bureaus, kind, subject=subject(proposal), detail=detail or proposal.starts_at.isoformat()[:16],
           endpoint="alerts.proposal", object_id=proposal.id)  # fmt: skip


def notify_deciders(session: Session, proposal: Proposal, also: list[int] | None = None) -> None:
    """The bureaus holding a user who may decide an open step (their role, and the step's jurisdiction), and
    `also` (the running bureau, of a proposal the plan's rule submitted)."""
    bureaus: set[int] = set()
    with unscoped(session):
        for s in open_steps(proposal):
            step = proposal.chain[s]
            roles = [step["role"], *([step["delegate"]] if step.get("delegate") else [])]
            stmt = (
                select(User.bureau_id).join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role.in_([Role(r) for r in roles]), User.active)
            )  # fmt: skip
            if step.get("jurisdiction"):
                stmt = stmt.join(Jurisdiction, Jurisdiction.id == User.jurisdiction_id).where(
                    Jurisdiction.code == step["jurisdiction"]
                )
            bureaus |= set(session.scalars(stmt))
    to = sorted(bureaus | set(also or ()))
    if by_rule(proposal):
        notify_bureaus(session, proposal, NotificationKind.alert_observed, to, detail=_observed(session, proposal))
    else:
        notify_bureaus(session, proposal, NotificationKind.alert_approval, to)


def by_rule(proposal: Proposal) -> bool:
    """Drafted by the plan's own rule (the observed upgrade, `propose_on_rule`): no proposer."""
    return proposal.created_by_id is None and proposal.kind is ProposalKind.upgrade


def _observed(session: Session, proposal: Proposal) -> str:
    """Why an observed upgrade asks for a decision, as data: the level observed and the units that reached it
    (their names, in the proposal's order)."""
    with_names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                      .where(Jurisdiction.code.in_(proposal.units))).all())  # fmt: skip
    names = "、".join(with_names.get(c, c) for c in proposal.units)
    return f"{term(proposal.level.value if proposal.level else None)}：{names}"
