"""Who may act on an alert proposal and on a member unit's activation: the plan's approval chain read against
the user's roles and place. Plain rules over the objects (no session); the models' `can_<action>` and the one
transition function (services/proposals.py) both ask them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.alerts.vocabulary import EpisodeState, ProposalState
from app.auth.roles import Permission

if TYPE_CHECKING:
    from app.alerts.models import EpisodeUnit, Proposal
    from app.auth.models import User


class Action(enum.StrEnum):
    submit = "submit"
    decide = "decide"
    withdraw = "withdraw"
    issue = "issue"


def _jurisdiction_code(user: User) -> str | None:
    return user.jurisdiction.code if user.jurisdiction is not None else None


def step_fits(step: Mapping[str, Any], user: User) -> tuple[bool, bool]:
    """(may the user decide this step, as a delegate)."""
    if not user.active or not user.can(Permission.decide_alerts):
        return False, False
    where = step.get("jurisdiction")
    if where and _jurisdiction_code(user) != where:
        return False, False
    if step["role"] in {r.value for r in user.roles}:
        return True, False
    delegate = step.get("delegate")
    if delegate and delegate in {r.value for r in user.roles}:
        return True, True
    return False, False


def open_steps(proposal: Proposal) -> list[int]:
    """The steps that may be decided now: the first undecided group of consecutive steps of one action."""
    decided = {d.step for d in proposal.decisions}
    chain = proposal.chain or []
    i = 0
    while i < len(chain):
        j = i
        while j + 1 < len(chain) and chain[j + 1]["action"] == chain[i]["action"]:
            j += 1
        group = [k for k in range(i, j + 1) if k not in decided]
        if group:
            return group
        i = j + 1
    return []


def steps_for(proposal: Proposal, user: User) -> list[int]:
    """The open steps this user may decide (one user decides at most one step of a proposal)."""
    if proposal.state is not ProposalState.under_approval:
        return []
    if any(d.user_id == user.id for d in proposal.decisions):
        return []
    return [s for s in open_steps(proposal) if step_fits(proposal.chain[s], user)[0]]


def _runs(proposal: Proposal, user: User) -> bool:
    return user.active and user.bureau_id == proposal.episode.bureau_id and user.can(Permission.propose_alerts)


def can(proposal: Proposal, action: Action, user: User) -> bool:
    if action is Action.submit:
        return proposal.state is ProposalState.drafted and _runs(proposal, user)
    if action is Action.withdraw:
        return (
            proposal.state in (ProposalState.drafted, ProposalState.under_approval)
            and not proposal.decisions
            and _runs(proposal, user)
        )
    if action is Action.decide:
        return bool(steps_for(proposal, user))
    if action is Action.issue:
        return proposal.state is ProposalState.approved and _runs(proposal, user)
    return False


def can_confirm(unit: EpisodeUnit, user: User) -> bool:
    return (
        user.active
        and unit.confirmed_at is None
        and unit.episode.state is EpisodeState.issued
        and unit.ends_at is None
        and user.jurisdiction_id == unit.jurisdiction_id
        and user.can(Permission.confirm_alerts)
    )
