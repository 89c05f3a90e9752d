"""Cross-check campaigns (交叉抽核, seed 001 五): a campaign, its pairs (which bureau reviews which neighbour's
list in force), the sampled enterprises and the findings per enterprise and checklist item.

Reads: a campaign and its rows are visible to the organiser's area, to the reviewed jurisdiction's area and to
the reviewing bureau. The sample is also the grant: while a pair's campaign is open, the reviewing bureau reads
the sampled enterprises (their units, measures, …) through the central scoping (`register_grant`), until the
grant's expiry or the campaign's close, whichever comes first. Writes: the organiser sets up and closes; the
reviewer records findings; the reviewed area answers them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship, with_loader_criteria
from sqlalchemy.sql.functions import FunctionElement

from app.auth.roles import Role
from app.core.scoping import Scope, SharedWritable, register_criteria, register_grant
from app.db import Base, BigId, UtcDateTime, enum_type, state_check, utcnow
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    EnterpriseAssessment,
    Measure,
    Meter,
    ProcessUnit,
    StaggeredPeriod,
)


class CampaignState(enum.StrEnum):
    draft = "draft"  # set up, samples drawn, no grant yet
    open = "open"  # the reviewers read their samples and record findings
    closed = "closed"  # grants revoked


class ChecklistItem(enum.StrEnum):
    """The checklist of seed 001 (五): what a reviewer checks of each sampled enterprise."""

    listed = "listed"  # every emitting firm is on the list (涉气企业应纳尽纳)
    permit_data = "permit_data"  # the data match the pollutant discharge permit
    industry = "industry"  # the industry is right
    reduction_base = "reduction_base"  # the reduction base is explicit
    stop_times = "stop_times"  # stop and limit times are explicit
    measures = "measures"  # measures operable, monitorable, verifiable
    grade = "grade"  # the performance grade is supported


class FindingResult(enum.StrEnum):
    conforms = "conforms"
    problem = "problem"


class FindingState(enum.StrEnum):
    recorded = "recorded"  # waits for the reviewed bureau's answer (a problem) or needs none (conforms)
    answered = "answered"
    accepted = "accepted"  # the reviewer accepts the answer: resolved
    case = "case"  # unresolved: became a case


ORGANISER_ROLES = frozenset({Role.province_staff, Role.city_staff})
WORKER_ROLES = frozenset({Role.province_staff, Role.city_staff, Role.district_staff})


class Campaign(SharedWritable, Base):
    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("closes_on >= opens_on", name="closes_after_opening"),
        state_check("open_has_time", [CampaignState.open, CampaignState.closed], "opened_at IS NOT NULL"),
        state_check("closed_has_time", [CampaignState.closed], "closed_at IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    state: Mapped[CampaignState] = mapped_column(enum_type(CampaignState, 16), default=CampaignState.draft)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    bureau = relationship("Bureau")
    jurisdiction = relationship("Jurisdiction")
    pairs: Mapped[list[CampaignPair]] = relationship(order_by="CampaignPair.id", viewonly=True)

    def writable_by(self, scope: Scope) -> bool:
        return scope.can_write(self.jurisdiction_id)

    def _organiser(self, user: Any) -> bool:
        return user.bureau_id == self.bureau_id and bool(user.roles & ORGANISER_ROLES)

    def can_add_pair(self, user: Any) -> bool:
        return self.state is CampaignState.draft and self._organiser(user)

    def can_open(self, user: Any) -> bool:
        return self.state is CampaignState.draft and self._organiser(user) and bool(self.pairs)

    def can_close(self, user: Any) -> bool:
        return self.state is CampaignState.open and self._organiser(user)

    def can_review(self, user: Any, pair: CampaignPair) -> bool:
        """Record findings: the reviewing bureau's staff, while the campaign is open."""
        return (
            self.state is CampaignState.open and user.bureau_id == pair.reviewer_bureau_id
            and bool(user.roles & WORKER_ROLES)
        )  # fmt: skip


class _CampaignRow(SharedWritable):
    """Rows of a campaign: readable in the reviewed jurisdiction's and the organiser's areas and by the
    reviewing bureau; written by the organiser (and, for findings, by the reviewer and the reviewed area)."""

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)
    organiser_jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"))
    reviewer_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"), index=True)

    def writable_by(self, scope: Scope) -> bool:
        return scope.can_write(self.organiser_jurisdiction_id)


class CampaignPair(_CampaignRow, Base):
    """One reviewer bureau → one reviewed jurisdiction's list in force, with the share and the seed drawn."""

    __tablename__ = "campaign_pair"
    __table_args__ = (
        UniqueConstraint("campaign_id", "reviewer_bureau_id", "jurisdiction_id"),
        CheckConstraint("share > 0 AND share <= 1", name="share_range"),
        CheckConstraint("seed >= 0", name="seed_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("reduction_list.id", ondelete="RESTRICT"))
    list_year: Mapped[int] = mapped_column(Integer)
    list_version: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigId)
    population: Mapped[int] = mapped_column(Integer)
    strata: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the draw as recorded: stratum → size, drawn

    campaign: Mapped[Campaign] = relationship()
    reviewer_bureau = relationship("Bureau", foreign_keys="CampaignPair.reviewer_bureau_id")
    jurisdiction = relationship("Jurisdiction", foreign_keys="CampaignPair.jurisdiction_id")
    samples: Mapped[list[CampaignSample]] = relationship(order_by="CampaignSample.name", viewonly=True)


class CampaignSample(_CampaignRow, Base):
    """A sampled enterprise: the grant. `grant_until` is set when the campaign opens (the end of its closing
    day) and cleared when it closes; the scope criterion reads (reviewer, grant_until, enterprise) from the
    index alone."""

    __tablename__ = "campaign_sample"
    __table_args__ = (
        UniqueConstraint("pair_id", "enterprise_id"),
        Index("ix_campaign_sample_grant", "reviewer_bureau_id", "grant_until", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("campaign_pair.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(BigId, ForeignKey("enterprise.id", ondelete="RESTRICT"))
    # As drawn (the stratum), so the report reads after the grant ends.
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str] = mapped_column(String(16))
    grant_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    pair: Mapped[CampaignPair] = relationship()
    findings: Mapped[list[Finding]] = relationship(order_by="Finding.id", viewonly=True)


class Finding(_CampaignRow, Base):
    """The reviewer's finding on one checklist item of one sampled enterprise, and the reviewed bureau's answer."""

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("sample_id", "item"),
        state_check("answered_has_answer", [FindingState.answered, FindingState.accepted], "answer IS NOT NULL"),
        state_check("case_has_case", [FindingState.case], "case_id IS NOT NULL"),
        CheckConstraint("result = 'problem' OR state = 'recorded'", name="only_problems_move"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("campaign_sample.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(BigId)
    item: Mapped[ChecklistItem] = mapped_column(enum_type(ChecklistItem, 24))
    result: Mapped[FindingResult] = mapped_column(enum_type(FindingResult, 16))
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[FindingState] = mapped_column(enum_type(FindingState, 16), default=FindingState.recorded)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    answered_at: Mapped[datetime | None] = mapped_column()
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="SET NULL"))

    sample: Mapped[CampaignSample] = relationship()

    def writable_by(self, scope: Scope) -> bool:
        return (
            scope.can_write(self.jurisdiction_id) or scope.can_write(self.organiser_jurisdiction_id)
            or (scope.bureau_id is not None and scope.bureau_id == self.reviewer_bureau_id)
        )  # fmt: skip

    def can_answer(self, user: Any, campaign: Campaign) -> bool:
        """The reviewed area's staff answer a problem while the campaign is open."""
        return (
            campaign.state is CampaignState.open and self.result is FindingResult.problem
            and self.state in (FindingState.recorded, FindingState.answered)
            and user.bureau_id != self.reviewer_bureau_id and bool(user.roles & WORKER_ROLES)
        )  # fmt: skip

    def can_accept(self, user: Any, campaign: Campaign) -> bool:
        return (
            self.state is FindingState.answered and self._reviewer(user) and campaign.state is not CampaignState.draft
        )

    def can_make_case(self, user: Any, campaign: Campaign) -> bool:
        """An unresolved problem becomes a case in one step: the reviewer's staff, even after the close."""
        return (
            self.result is FindingResult.problem and self.state in (FindingState.recorded, FindingState.answered)
            and self._reviewer(user) and campaign.state is not CampaignState.draft
        )  # fmt: skip

    def _reviewer(self, user: Any) -> bool:
        return user.bureau_id == self.reviewer_bureau_id and bool(user.roles & WORKER_ROLES)


# --- reads -------------------------------------------------------------------------------------------------


def _row_criteria(model: type) -> Any:
    def factory(readable: list[int], bureau_id: int) -> Any:
        return with_loader_criteria(
            model,
            lambda cls: or_(
                cls.jurisdiction_id.in_(readable),
                cls.organiser_jurisdiction_id.in_(readable),
                cls.reviewer_bureau_id == bureau_id,
            ),
            include_aliases=True,
        )

    return factory


def _campaign_criteria(readable: list[int], bureau_id: int) -> Any:
    return with_loader_criteria(
        Campaign,
        lambda cls: or_(
            cls.jurisdiction_id.in_(readable),
            cls.id.in_(
                select(CampaignPair.campaign_id).where(
                    or_(CampaignPair.reviewer_bureau_id == bureau_id, CampaignPair.jurisdiction_id.in_(readable))
                )
            ),
        ),
        include_aliases=True,
    )


register_criteria(_campaign_criteria)
for _model in (CampaignPair, CampaignSample, Finding):
    register_criteria(_row_criteria(_model))


class statement_now(FunctionElement[datetime]):
    """The time the statement runs: `statement_timestamp()` on PostgreSQL (`CURRENT_TIMESTAMP` there is the
    transaction's start), `CURRENT_TIMESTAMP` on SQLite (UTC text, as the column is stored)."""

    type = UtcDateTime()
    inherit_cache = True


@compiles(statement_now)
def _now_default(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(statement_now, "postgresql")
def _now_pg(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "statement_timestamp()"


def granted_enterprise_ids(bureau_id: int) -> Any:
    """The enterprises a bureau may read under open campaigns: one index-only range scan of the grant index
    (reviewer, grant_until, enterprise). The table, not the entity, so that no loader criterion nests in it;
    the database's clock at the statement, so that the prebuilt criterion never goes stale."""
    t = CampaignSample.__table__
    return select(t.c.enterprise_id).where(t.c.reviewer_bureau_id == bureau_id, t.c.grant_until > statement_now())


register_grant(
    {
        Enterprise: "id",
        ProcessUnit: "enterprise_id",
        ControlFacility: "enterprise_id",
        Meter: "enterprise_id",
        Measure: "enterprise_id",
        StaggeredPeriod: "enterprise_id",
        EnterpriseAssessment: "enterprise_id",
    },
    granted_enterprise_ids,
)
