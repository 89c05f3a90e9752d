"""The shared expert pool (专家库) and grading reviews (绩效评级复核, seed 001 六).

An `Expert` is reference data shared by both provinces (not scoped: every bureau of the region draws on the
pool); the provincial bureaus' staff keep it. A `GradeReview` belongs to the reviewed enterprise's jurisdiction
(scoped like the enterprise: the requesting provincial or city bureau is above it); its `ReviewInvitation`s
name the invited experts of the other province and hold each one's opinion.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.roles import STAFF, Role
from app.core.scoping import Scoped
from app.db import Base, BigId, JsonType, enum_type, state_check, utcnow
from app.reduction.domain.vocabulary import Grade


class ReviewState(enum.StrEnum):
    open = "open"  # experts invited, opinions recorded
    concluded = "concluded"  # the resulting grade is in the enterprise's list
    cancelled = "cancelled"


class ReviewAction(enum.StrEnum):
    conclude = "conclude"
    cancel = "cancel"


REQUESTER_ROLES = frozenset({Role.province_staff, Role.city_staff})


class Expert(Base):
    __tablename__ = "expert"
    __table_args__ = (CheckConstraint("name <> ''", name="name_given"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    employer: Mapped[str] = mapped_column(String(200), default="")
    employer_uscc: Mapped[str | None] = mapped_column(String(18), index=True)  # an enterprise employing them
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)
    specialties: Mapped[list[str]] = mapped_column(JsonType, default=list)  # rule-library industry codes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jurisdiction = relationship("Jurisdiction")


class GradeReview(Scoped, Base):
    __tablename__ = "grade_review"
    __table_args__ = (
        state_check("concluded_has_grade", [ReviewState.concluded],
                    "resulting_grade IS NOT NULL AND concluded_at IS NOT NULL AND result_enterprise_id IS NOT NULL"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    enterprise_id: Mapped[int] = mapped_column(BigId, ForeignKey("enterprise.id", ondelete="RESTRICT"))
    list_id: Mapped[int] = mapped_column(ForeignKey("reduction_list.id", ondelete="RESTRICT"))
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str] = mapped_column(String(32))
    grade_before: Mapped[Grade | None] = mapped_column(enum_type(Grade, 16, name="grade_before"))
    reason: Mapped[str] = mapped_column(Text, default="")
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[ReviewState] = mapped_column(enum_type(ReviewState, 16), default=ReviewState.open)
    resulting_grade: Mapped[Grade | None] = mapped_column(enum_type(Grade, 16, name="resulting_grade"))
    conclusion: Mapped[str] = mapped_column(Text, default="")
    concluded_at: Mapped[datetime | None] = mapped_column()
    concluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    result_enterprise_id: Mapped[int | None] = mapped_column(BigId)  # the list version row that got the grade
    result_list_id: Mapped[int | None] = mapped_column()

    bureau = relationship("Bureau")
    jurisdiction = relationship("Jurisdiction")
    result_list = relationship("ReductionList", primaryjoin="foreign(GradeReview.result_list_id) == ReductionList.id",
                               viewonly=True)  # fmt: skip
    invitations: Mapped[list[ReviewInvitation]] = relationship(order_by="ReviewInvitation.id", viewonly=True)

    def _requester(self, user: Any) -> bool:
        return user.bureau_id == self.bureau_id and bool(user.roles & REQUESTER_ROLES)

    def owned_by(self, user: Any) -> bool:
        """The user's bureau keeps the enterprise's list (its jurisdiction's staff, as the list's own rule
        `reduction.models._owner`): only it writes the resulting grade into the list."""
        return user.jurisdiction_id == self.jurisdiction_id and bool(user.roles & STAFF)

    def can_invite(self, user: Any) -> bool:
        return self.state is ReviewState.open and self._requester(user)

    def can_record_opinion(self, user: Any) -> bool:
        """The requesting bureau's staff record each invited expert's written opinion."""
        return self.state is ReviewState.open and self._requester(user)

    def can_conclude(self, user: Any) -> bool:
        """The bureau that keeps the enterprise's list concludes (whoever requested the review: a province's
        review of a city's enterprise is concluded by the city), once an expert has given an opinion."""
        return (
            self.state is ReviewState.open and self.owned_by(user)
            and any(i.proposed_grade is not None for i in self.invitations)
        )  # fmt: skip

    def can_cancel(self, user: Any) -> bool:
        return self.state is ReviewState.open and self._requester(user)

    def can(self, action: ReviewAction, user: Any) -> bool:
        return bool(getattr(self, f"can_{action.value}")(user))


class ReviewInvitation(Scoped, Base):
    __tablename__ = "review_invitation"
    __table_args__ = (
        UniqueConstraint("review_id", "expert_id"),
        CheckConstraint("proposed_grade IS NULL OR (opinion <> '' AND opinion_at IS NOT NULL)",
                        name="opinion_has_reason"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("grade_review.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id", ondelete="RESTRICT"), index=True)
    registry_enterprise_id: Mapped[int] = mapped_column(BigId)  # for the recent-review conflict
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    proposed_grade: Mapped[Grade | None] = mapped_column(enum_type(Grade, 16, name="proposed_grade"))
    opinion: Mapped[str] = mapped_column(Text, default="")
    opinion_at: Mapped[datetime | None] = mapped_column()
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))

    review: Mapped[GradeReview] = relationship()
    expert: Mapped[Expert] = relationship()
