"""Alert episodes: the proposals that start, change and lift them, their approval decisions, the member units'
activation periods and the episode's append-only timeline.

Reads: a row is visible in the running bureau's jurisdiction subtree (`jurisdiction_id`, the bureau that runs the
episode: the working group's office, a command centre) and to every reader whose scope holds one of the units the
episode concerns (`episode_reach`): a Chongqing district sees the regional alert it is part of, the vice-mayor
of Chongqing the red proposal he must approve. Writes: the same reach (the transition function decides who
may do what; the scope is the safety net).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship, with_loader_criteria

from app.alerts import workflow
from app.alerts.vocabulary import Decision, EpisodeState, EventKind, ProposalKind, ProposalState
from app.core.scoping import Scope, SharedWritable, register_criteria
from app.db import Base, JsonType, enum_type, state_check, utcnow
from app.reduction.domain.vocabulary import AlertLevel


class EpisodeReach(Base):
    """A unit an episode concerns (any of its proposals lists it): whose readers see the episode."""

    __tablename__ = "episode_reach"
    __table_args__ = (Index("ix_episode_reach_jurisdiction_episode", "jurisdiction_id", "episode_id"),)

    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"), primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), primary_key=True)


class _EpisodeVisible:
    """Rows owned by the running bureau's jurisdiction and readable across the episode's reach."""

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)


def _reach_writable(obj: Any, episode_id: int | None, scope: Scope) -> bool:
    if scope.can_write(obj.jurisdiction_id):
        return True
    session = object_session(obj)
    if session is None or episode_id is None:
        return False
    with session.no_autoflush:
        reach = session.scalars(
            select(EpisodeReach.jurisdiction_id).where(EpisodeReach.episode_id == episode_id)
            .execution_options(include_all_jurisdictions=True)
        ).all()  # fmt: skip
    return any(scope.can_write(j) for j in reach)


def _can(proposal: Proposal, action: str, user: Any) -> bool:
    return workflow.can(proposal, workflow.Action(action), user)


class Episode(_EpisodeVisible, SharedWritable, Base):
    """One heavy-pollution episode under a plan (重污染天气过程), from its first proposal to its lift."""

    __tablename__ = "episode"
    __table_args__ = (
        state_check("issued_has_start", [EpisodeState.issued, EpisodeState.lifted],
                    "started_at IS NOT NULL AND level IS NOT NULL"),
        state_check("lifted_has_end", [EpisodeState.lifted], "lifted_at IS NOT NULL"),
        state_check("only_lifted_has_end", [s for s in EpisodeState if s is not EpisodeState.lifted],
                    "lifted_at IS NULL"),
        CheckConstraint("lifted_at IS NULL OR lifted_at >= started_at", name="lifted_after_start"),
        Index("ix_episode_plan_state", "plan_code", "state"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plan.code", ondelete="RESTRICT"))
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)
    state: Mapped[EpisodeState] = mapped_column(enum_type(EpisodeState, 16), default=EpisodeState.proposed)
    # The highest level in force across its units once issued (the proposed level before).
    level: Mapped[AlertLevel | None] = mapped_column(enum_type(AlertLevel, 8))
    started_at: Mapped[datetime | None] = mapped_column()
    lifted_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - SQLAlchemy reads it once

    proposals: Mapped[list[Proposal]] = relationship(back_populates="episode", order_by="Proposal.id")
    units: Mapped[list[EpisodeUnit]] = relationship(back_populates="episode", order_by="EpisodeUnit.id")
    events: Mapped[list[EpisodeEvent]] = relationship(order_by="EpisodeEvent.id", viewonly=True)

    @property
    def active(self) -> bool:
        return self.state is EpisodeState.issued

    def writable_by(self, scope: Scope) -> bool:
        return _reach_writable(self, self.id, scope)


class Proposal(_EpisodeVisible, SharedWritable, Base):
    """An alert proposal (预警建议): issue, upgrade, downgrade or lift, with what the plan asks a proposal to
    say (level, units, start, degree of pollution, weather) and the reason; it goes through the plan's chain."""

    __tablename__ = "alert_proposal"
    __table_args__ = (
        CheckConstraint("kind = 'lift' OR level IS NOT NULL", name="level_unless_lift"),
        CheckConstraint("kind <> 'lift' OR level IS NULL", name="lift_has_no_level"),
        CheckConstraint("step >= 0", name="step_non_negative"),
        state_check("submitted_has_time", [ProposalState.under_approval, ProposalState.approved,
                                           ProposalState.issued, ProposalState.refused],
                    "submitted_at IS NOT NULL"),
        state_check("approved_has_time", [ProposalState.approved, ProposalState.issued], "approved_at IS NOT NULL"),
        state_check("issued_has_time", [ProposalState.issued], "issued_at IS NOT NULL AND issued_by_id IS NOT NULL"),
        state_check("refused_has_time", [ProposalState.refused], "refused_at IS NOT NULL"),
        Index("ix_alert_proposal_episode", "episode_id", "id"),
        Index("ix_alert_proposal_state", "state"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    kind: Mapped[ProposalKind] = mapped_column(enum_type(ProposalKind, 16))
    level: Mapped[AlertLevel | None] = mapped_column(enum_type(AlertLevel, 8))
    # Member unit codes, and the level of each when it differs from `level` (a unit's own higher level).
    units: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    unit_levels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime] = mapped_column()
    pollution: Mapped[str] = mapped_column(Text, default="")  # 污染程度
    weather: Mapped[str] = mapped_column(Text, default="")  # 气象条件
    reason: Mapped[str] = mapped_column(Text, default="")  # the evaluation's reason, or the proposer's
    state: Mapped[ProposalState] = mapped_column(enum_type(ProposalState, 16), default=ProposalState.drafted)
    # The plan's chain for this level when submitted ([{action, role, jurisdiction, delegate}]): a plan file
    # changed later does not change a proposal under way. Empty: no approval needed (a lift on schedule).
    chain: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    step: Mapped[int] = mapped_column(default=0)  # decisions taken so far
    without_approval: Mapped[bool] = mapped_column(default=False)
    forecast_issue_id: Mapped[int | None] = mapped_column(ForeignKey("forecast_issue.id", ondelete="SET NULL"))
    evaluation: Mapped[dict[str, Any] | None] = mapped_column()  # the evaluation's proposal it came from
    propose_by: Mapped[datetime | None] = mapped_column()  # start − the plan's advance notice
    issued_late: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    approved_at: Mapped[datetime | None] = mapped_column()
    refused_at: Mapped[datetime | None] = mapped_column()
    issued_at: Mapped[datetime | None] = mapped_column()
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - SQLAlchemy reads it once

    episode: Mapped[Episode] = relationship(back_populates="proposals")
    decisions: Mapped[list[ProposalDecision]] = relationship(order_by="ProposalDecision.step", viewonly=True)

    # can_<action>(user): the transition function's own rules (services/proposals.py).
    def can_submit(self, user: Any) -> bool:
        return _can(self, "submit", user)

    def can_decide(self, user: Any) -> bool:
        return _can(self, "decide", user)

    def can_withdraw(self, user: Any) -> bool:
        return _can(self, "withdraw", user)

    def can_issue(self, user: Any) -> bool:
        return _can(self, "issue", user)

    def level_of(self, code: str) -> AlertLevel | None:
        given = self.unit_levels.get(code)
        return AlertLevel(given) if given else self.level

    def writable_by(self, scope: Scope) -> bool:
        return _reach_writable(self, self.episode_id, scope)


class ProposalDecision(_EpisodeVisible, SharedWritable, Base):
    """One step of a proposal's approval chain, decided: who, in which role, agree or refuse, the opinion."""

    __tablename__ = "proposal_decision"
    __table_args__ = (
        UniqueConstraint("proposal_id", "step"),
        CheckConstraint("decision = 'agree' OR opinion <> ''", name="refusal_has_opinion"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("alert_proposal.id", ondelete="CASCADE"))
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column()  # index in the proposal's chain
    action: Mapped[str] = mapped_column(String(16))  # review | agree | approve
    role: Mapped[str] = mapped_column(String(32))  # the role the user acted in (the step's or its delegate)
    delegated: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    user_name: Mapped[str] = mapped_column(String(64))
    bureau_name: Mapped[str] = mapped_column(String(128), default="")
    decision: Mapped[Decision] = mapped_column(enum_type(Decision, 8))
    opinion: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    def writable_by(self, scope: Scope) -> bool:
        return _reach_writable(self, self.episode_id, scope)


class EpisodeUnit(_EpisodeVisible, SharedWritable, Base):
    """One activation period of a member unit: from `starts_at` at `level` until `ends_at` (NULL while in
    force). An upgrade or downgrade closes the row and opens another; the lift closes it. So "the level in force
    for jurisdiction J at time t" is one query (services.episodes.level_in_force). `jurisdiction_id` is the
    member unit (a Sichuan city, a Chongqing district): its bureau confirms that it has started."""

    __tablename__ = "episode_unit"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint("(confirmed_at IS NULL) = (confirmed_by_id IS NULL)", name="confirmation_complete"),
        Index("ix_episode_unit_in_force", "jurisdiction_id", "starts_at", "ends_at"),
        Index("ix_episode_unit_episode", "episode_id", "jurisdiction_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    proposal_id: Mapped[int] = mapped_column(ForeignKey("alert_proposal.id", ondelete="RESTRICT"))
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 8))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("alert_proposal.id", ondelete="RESTRICT"))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    confirmation_note: Mapped[str] = mapped_column(Text, default="")

    episode: Mapped[Episode] = relationship(back_populates="units")

    def can_confirm(self, user: Any) -> bool:
        return workflow.can_confirm(self, user)

    def writable_by(self, scope: Scope) -> bool:
        return _reach_writable(self, self.episode_id, scope)


class EpisodeEvent(_EpisodeVisible, SharedWritable, Base):
    """The episode's timeline: every proposal, decision, issue, confirmation and printed letter. Append-only
    (triggers refuse UPDATE and DELETE); what happened is kept as data and worded when shown."""

    __tablename__ = "episode_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("alert_proposal.id", ondelete="RESTRICT"))
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def writable_by(self, scope: Scope) -> bool:
        return _reach_writable(self, self.episode_id, scope)


# --- read criteria: the running bureau's subtree, or a unit of the episode's reach --------------------------


def _episode_criteria(readable: list[int], _bureau_id: int) -> Any:
    return with_loader_criteria(
        Episode,
        lambda cls: or_(
            cls.jurisdiction_id.in_(readable),
            cls.id.in_(select(EpisodeReach.episode_id).where(EpisodeReach.jurisdiction_id.in_(readable))),
        ),
        include_aliases=True,
    )


def _part_criteria(model: type) -> Any:
    def factory(readable: list[int], _bureau_id: int) -> Any:
        return with_loader_criteria(
            model,
            lambda cls: or_(
                cls.jurisdiction_id.in_(readable),
                cls.episode_id.in_(select(EpisodeReach.episode_id).where(EpisodeReach.jurisdiction_id.in_(readable))),
            ),
            include_aliases=True,
        )

    return factory


register_criteria(_episode_criteria)
for _model in (Proposal, ProposalDecision, EpisodeUnit, EpisodeEvent):
    register_criteria(_part_criteria(_model))
