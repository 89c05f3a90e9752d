"""The response to an episode: its activated units and the places they cover, one response task per listed
enterprise with the measures its policy requires at the level (a snapshot of the version's Measure rows), the
checks with photo evidence, and the units' daily reports and episode summaries.

`episode_id` names the alerts' episode (app/alerts: `episode`); the response keeps its own record of each
unit's level and dates (`response_unit`), written by services/activation.apply from the episode's units, so
that what a task or a report was due under stays readable whatever the episode's later steps.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.models import StoredFile
from app.core.scoping import Scoped
from app.db import Base, BigId, JsonType, enum_type, state_check, utcnow
from app.reduction.domain.vocabulary import AlertLevel, Category, MachineryStage, MeasureKind, OutputBasis, Verification
from app.response.vocabulary import CheckStatus, ReportKind, Supervision, TaskState


class ResponseUnit(Scoped, Base):
    """An activated unit of an episode (a member unit, or a county starting its own higher level)."""

    __tablename__ = "response_unit"
    __table_args__ = (
        UniqueConstraint("episode_id", "jurisdiction_id"),
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The one key to the episode: areas, tasks and reports hang off their unit (a key per task row would cost
    # PostgreSQL a lookup for each of 100,000 inserted tasks).
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="RESTRICT"))
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 16))  # the last level, kept after the lift
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()  # the lift
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    jurisdiction = relationship("Jurisdiction")
    plan = relationship("Plan")

    @property
    def lifted(self) -> bool:
        return self.ends_at is not None


class ResponseArea(Scoped, Base):
    """A place covered by an activated unit (the unit itself and every district or county below it), the level
    that applies there and the list in force read for it."""

    __tablename__ = "response_area"
    __table_args__ = (UniqueConstraint("episode_id", "jurisdiction_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("response_unit.id", ondelete="CASCADE"), index=True)
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 16))
    list_id: Mapped[int | None] = mapped_column(ForeignKey("reduction_list.id", ondelete="RESTRICT"))
    closed_at: Mapped[datetime | None] = mapped_column()

    unit: Mapped[ResponseUnit] = relationship()


class ResponseTask(Scoped, Base):
    """One listed enterprise's response task in one episode (应急响应任务): on-site supervision or patrol.

    Tied to the version enterprise row it was made from (the composite key fixes its jurisdiction, which
    scoping reads); `uscc` is the enterprise's stable identity across list versions."""

    __tablename__ = "response_task"
    __table_args__ = (
        ForeignKeyConstraint(
            ["enterprise_id", "jurisdiction_id"],
            ["enterprise.id", "enterprise.jurisdiction_id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("episode_id", "uscc"),
        Index("ix_response_task_jurisdiction_state", "jurisdiction_id", "state"),
        state_check("closed_has_time", [TaskState.closed], "closed_at IS NOT NULL"),
        state_check("done_has_time", [TaskState.done], "checked_at IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    episode_id: Mapped[int] = mapped_column(Integer, index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("response_area.id", ondelete="CASCADE"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column()  # the enterprise's (Scoped reads it)
    enterprise_id: Mapped[int] = mapped_column(BigId, index=True)
    list_id: Mapped[int] = mapped_column()
    uscc: Mapped[str] = mapped_column(String(18))
    # the registry's enterprise (app/registry), the task's link that outlives list versions
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    enterprise_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    category: Mapped[Category] = mapped_column(enum_type(Category, 16))
    supervision: Mapped[Supervision] = mapped_column(enum_type(Supervision, 24))
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 16))
    state: Mapped[TaskState] = mapped_column(enum_type(TaskState, 16), default=TaskState.open)
    # A staggered-production shutdown (错峰生产) in force on the day of activation: until that date.
    staggered_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    measures: Mapped[list[ResponseMeasure]] = relationship(
        back_populates="task", order_by="ResponseMeasure.id", cascade="all, delete-orphan"
    )
    area: Mapped[ResponseArea] = relationship()

    def can_check(self, user: Any) -> bool:
        from app.auth.roles import Permission

        return self.state is not TaskState.closed and user.can(Permission.work_response)


class ResponseMeasure(Scoped, Base):
    """A measure a task requires, copied from the version's Measure row when the task was made (or its level
    changed): what the inspector checks, with the check's outcome."""

    __tablename__ = "response_measure"
    __table_args__ = (
        state_check(
            "checked_has_checker",
            [CheckStatus.carried_out, CheckStatus.not_carried_out],
            "checked_at IS NOT NULL AND checked_by_id IS NOT NULL",
            column="status",
        ),
        CheckConstraint("case_id IS NULL OR status = 'not_carried_out'", name="case_only_when_not_carried_out"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("response_task.id", ondelete="CASCADE"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(index=True)  # the task's (no key of its own: as the task's)
    measure_id: Mapped[int | None] = mapped_column(BigId)  # the version's Measure row it was copied from
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 16))
    kind: Mapped[MeasureKind] = mapped_column(enum_type(MeasureKind, 24))
    percent: Mapped[float | None] = mapped_column(Float)
    verification: Mapped[Verification] = mapped_column(enum_type(Verification, 24))
    max_stage: Mapped[MachineryStage | None] = mapped_column(enum_type(MachineryStage, 16))
    basis: Mapped[OutputBasis | None] = mapped_column(enum_type(OutputBasis, 24))
    process_unit_id: Mapped[int | None] = mapped_column(BigId)
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    required: Mapped[bool] = mapped_column(default=True)  # False: checked at an earlier level, kept
    status: Mapped[CheckStatus] = mapped_column(enum_type(CheckStatus, 24), default=CheckStatus.pending)
    checked_at: Mapped[datetime | None] = mapped_column()
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    remark: Mapped[str] = mapped_column(String(1000), default="")
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="SET NULL"))

    task: Mapped[ResponseTask] = relationship(back_populates="measures")
    photos: Mapped[list[ResponsePhoto]] = relationship(order_by="ResponsePhoto.id")

    def describe(self) -> str:
        """The measure in words: 停产（1#窑）, 限产 50%, 停用国Ⅳ及以下重型货车 …"""
        text = self.kind.label
        if self.percent is not None:
            text += f" {self.percent:g}%"
        if self.max_stage is not None:
            text += f"（{self.max_stage.label}）"
        if self.unit_name:
            text += f"（{self.unit_name}）"
        return text


class ResponseReport(Scoped, Base):
    """A unit's daily report (每日报送) or its episode summary after the lift, as submitted."""

    __tablename__ = "response_report"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("response_unit.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ReportKind] = mapped_column(enum_type(ReportKind, 16))
    day: Mapped[date] = mapped_column(Date)  # the local day reported on (the lift's day for a summary)
    due_at: Mapped[datetime] = mapped_column()
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    late: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # field key → text
    figures: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # the tasks' counts when submitted

    unit: Mapped[ResponseUnit] = relationship()
    photos: Mapped[list[ResponsePhoto]] = relationship(order_by="ResponsePhoto.id")


class ResponsePhoto(StoredFile, Scoped, Base):
    """A photo (or PDF) of a check or a report, stored as the cases' evidence is (app/cases/services/evidence):
    checked by content, outside the web root, under a random name with its checksum."""

    __tablename__ = "response_photo"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("(measure_id IS NULL) <> (report_id IS NULL)", name="belongs_to_measure_or_report"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), index=True)
    measure_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("response_measure.id", ondelete="CASCADE"), index=True
    )
    report_id: Mapped[int | None] = mapped_column(ForeignKey("response_report.id", ondelete="CASCADE"), index=True)
