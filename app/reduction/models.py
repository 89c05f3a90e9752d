"""Reduction lists: a bureau's list per year and version, its enterprises with their process units, control
facilities, power meters and one plant one policy (measures per alert level), and jurisdictions' totals.

Rows below the list carry the enterprise's `jurisdiction_id` (tied to the enterprise's by a composite foreign
key) so that central scoping filters them directly.
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
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.roles import STAFF, Role
from app.core.scoping import Scoped
from app.db import Base, BigId, JsonType, enum_type, utcnow
from app.reduction.domain.vocabulary import (
    AlertLevel,
    Category,
    Grade,
    MachineryStage,
    MeasureKind,
    OutputBasis,
    Verification,
)


class ListState(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    returned = "returned"
    approved = "approved"
    published = "published"


class ListAction(enum.StrEnum):
    create = "create"  # the version's first event (a new list or a new version); not an action on it
    submit = "submit"
    return_ = "return"
    approve = "approve"
    publish = "publish"
    new_version = "new_version"  # not a transition of this list: it starts the next version


class MeterKind(enum.StrEnum):
    production = "production"
    control = "control"
    total = "total"


OPEN_STATES = "('draft', 'submitted', 'returned', 'approved')"


class ReductionList(Scoped, Base):
    """A bureau's emergency reduction list for one year, one version. Published versions are never edited."""

    __tablename__ = "reduction_list"
    __table_args__ = (
        UniqueConstraint("jurisdiction_id", "year", "version"),
        UniqueConstraint("id", "jurisdiction_id"),
        # At most one version of a year is being worked on at a time.
        Index(
            "uq_reduction_list_open",
            "jurisdiction_id",
            "year",
            unique=True,
            postgresql_where=text(f"state IN {OPEN_STATES}"),
            sqlite_where=text(f"state IN {OPEN_STATES}"),
        ),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("state = 'draft' OR submitted_at IS NOT NULL", name="submitted_has_time"),
        CheckConstraint(
            "state <> 'returned' OR (return_reason IS NOT NULL AND decided_at IS NOT NULL)",
            name="returned_has_reason",
        ),
        CheckConstraint(
            "state NOT IN ('approved', 'published') OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="approved_has_decider",
        ),
        CheckConstraint("state <> 'published' OR published_at IS NOT NULL", name="published_has_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    state: Mapped[ListState] = mapped_column(enum_type(ListState, 16), default=ListState.draft)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("reduction_list.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    submitted_at: Mapped[datetime | None] = mapped_column()
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    return_reason: Mapped[str | None] = mapped_column(String(1000))
    published_at: Mapped[datetime | None] = mapped_column()
    lock_version: Mapped[int] = mapped_column(default=1)
    # Flagged enterprises per jurisdiction ({"id": count}), kept by services/assessments with every write of
    # the assessments: the list page sums the reader's jurisdictions instead of counting on every view.
    flagged: Mapped[dict[str, int]] = mapped_column(JsonType, default=dict, server_default="{}")

    jurisdiction = relationship("Jurisdiction")
    bureau = relationship("Bureau")
    based_on: Mapped[ReductionList | None] = relationship(remote_side=[id])

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012 - read once by SQLAlchemy

    @property
    def editable(self) -> bool:
        return self.state in (ListState.draft, ListState.returned)

    def can_edit(self, user: Any) -> bool:
        return self.editable and _owner(self, user)

    def may(self, action: ListAction, user: Any) -> bool:
        """Whether the user's bureau is the one that takes this action on the list, whatever its state."""
        return LIFECYCLE[action][2](self, user)

    def can(self, action: ListAction, user: Any) -> bool:
        """The action is the user's bureau's and the list's state allows it now."""
        allowed_from, _target, _who = LIFECYCLE[action]
        return self.state in allowed_from and self.may(action, user)

    def can_submit(self, user: Any) -> bool:
        return self.can(ListAction.submit, user)

    def can_decide(self, user: Any) -> bool:
        """Return or approve: the bureau one level up."""
        return self.can(ListAction.approve, user)

    def can_publish(self, user: Any) -> bool:
        return self.can(ListAction.publish, user)

    def can_new_version(self, user: Any) -> bool:
        return self.can(ListAction.new_version, user)


class ReductionListEvent(Scoped, Base):
    """The list version's lifecycle, one row per step (created, submitted, returned with its reason, approved,
    published), append-only: a second return does not overwrite the first."""

    __tablename__ = "reduction_list_event"
    __table_args__ = (
        ForeignKeyConstraint(["list_id", "jurisdiction_id"], ["reduction_list.id", "reduction_list.jurisdiction_id"],
                             ondelete="RESTRICT"),
        Index("ix_reduction_list_event_list_at", "list_id", "at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column()
    action: Mapped[ListAction] = mapped_column(enum_type(ListAction, 16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id", ondelete="RESTRICT"))
    reason: Mapped[str | None] = mapped_column(String(1000))
    state: Mapped[ListState] = mapped_column(enum_type(ListState, 16))  # the state the step led to

    user = relationship("User")
    bureau = relationship("Bureau")


class Enterprise(Scoped, Base):
    """An air-emitting enterprise on one list version (版本内的涉气企业); matched across versions by USCC."""

    __tablename__ = "enterprise"
    __table_args__ = (
        ForeignKeyConstraint(["list_id"], ["reduction_list.id"], ondelete="CASCADE"),
        UniqueConstraint("list_id", "uscc"),
        UniqueConstraint("id", "jurisdiction_id"),
        Index("ix_enterprise_list_name", "list_id", "name"),
        # The list page filters a list by county and sorts by name.
        # the list page by county in name order; with the filtered columns included, its count is an
        # index-only scan on PostgreSQL
        Index(
            "ix_enterprise_list_jurisdiction_name",
            "list_id",
            "jurisdiction_id",
            "name",
            postgresql_include=["category", "grade", "industry"],
        ),
        CheckConstraint("so2 >= 0 AND nox >= 0 AND pm >= 0 AND vocs >= 0", name="emissions_non_negative"),
        CheckConstraint("truck_visits_per_day >= 0", name="truck_visits_non_negative"),
        CheckConstraint("operating_days BETWEEN 1 AND 366", name="operating_days_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_paired"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(index=True)
    # the registry entry (app/registry): the enterprise's identity across versions
    registry_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    industry_code: Mapped[str] = mapped_column(String(8), default="")  # GB/T 4754 national industry code
    industry: Mapped[str] = mapped_column(String(32), default="other")  # rule-library industry
    category: Mapped[Category] = mapped_column(enum_type(Category, 16))
    grade: Mapped[Grade | None] = mapped_column(enum_type(Grade, 16))
    graded_on: Mapped[date | None] = mapped_column(Date)
    so2: Mapped[float] = mapped_column(Float, default=0.0)
    nox: Mapped[float] = mapped_column(Float, default=0.0)
    pm: Mapped[float] = mapped_column(Float, default=0.0)
    vocs: Mapped[float] = mapped_column(Float, default=0.0)
    uses_coal: Mapped[bool] = mapped_column(default=False)
    uses_oil: Mapped[bool] = mapped_column(default=False)
    toxic: Mapped[bool] = mapped_column(default=False)
    ultra_low: Mapped[bool] = mapped_column(default=False)  # 超低排放
    output_basis: Mapped[OutputBasis | None] = mapped_column(enum_type(OutputBasis, 24))
    truck_visits_per_day: Mapped[int] = mapped_column(default=0)
    machinery: Mapped[dict[str, Any]] = mapped_column(default=dict)  # emission stage → count
    # Heavy trucks (China IV and below) and non-road machinery serving the plant, t/a: pollutant → amount,
    # and stage → pollutant → amount. Only these are cut by truck and machinery bans.
    truck_emissions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    machinery_emissions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    operating_days: Mapped[int] = mapped_column(default=365)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    notes: Mapped[str] = mapped_column(String(1000), default="")

    reduction_list: Mapped[ReductionList] = relationship()
    registered = relationship("RegisteredEnterprise")
    jurisdiction = relationship("Jurisdiction", foreign_keys="Enterprise.jurisdiction_id")
    units: Mapped[list[ProcessUnit]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="ProcessUnit.code",
        primaryjoin="Enterprise.id == ProcessUnit.enterprise_id", foreign_keys="ProcessUnit.enterprise_id",
    )  # fmt: skip
    measures: Mapped[list[Measure]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="Measure.id",
        primaryjoin="Enterprise.id == Measure.enterprise_id", foreign_keys="Measure.enterprise_id",
    )  # fmt: skip
    facilities: Mapped[list[ControlFacility]] = relationship(
        cascade="all, delete-orphan", order_by="ControlFacility.id",
        primaryjoin="Enterprise.id == ControlFacility.enterprise_id", foreign_keys="ControlFacility.enterprise_id",
    )  # fmt: skip
    meters: Mapped[list[Meter]] = relationship(
        cascade="all, delete-orphan", order_by="Meter.id",
        primaryjoin="Enterprise.id == Meter.enterprise_id", foreign_keys="Meter.enterprise_id",
    )  # fmt: skip
    staggered_periods: Mapped[list[StaggeredPeriod]] = relationship(
        cascade="all, delete-orphan", order_by="StaggeredPeriod.starts_on",
        primaryjoin="Enterprise.id == StaggeredPeriod.enterprise_id", foreign_keys="StaggeredPeriod.enterprise_id",
    )  # fmt: skip


class _EnterpriseChild(Scoped):
    """Rows owned by an enterprise, in the enterprise's jurisdiction (enforced by the composite key)."""

    enterprise_id: Mapped[int] = mapped_column(BigId, index=True)
    # No key of its own to jurisdiction (Scoped's): the composite key to enterprise(id, jurisdiction_id) already
    # ties it to the enterprise's, which is a real one. PostgreSQL checks a key for every inserted row: the
    # second one took 30 % of a bulk import's inserts of measures.
    jurisdiction_id: Mapped[int] = mapped_column(index=True)


def _owned_by_enterprise(*extra: Any) -> tuple[Any, ...]:
    return (
        ForeignKeyConstraint(
            ["enterprise_id", "jurisdiction_id"],
            ["enterprise.id", "enterprise.jurisdiction_id"],
            ondelete="CASCADE",
        ),
        *extra,
    )


class ProcessUnit(_EnterpriseChild, Base):
    """A line, section or process (生产线/工段/工序) with its share of each pollutant of the enterprise."""

    __tablename__ = "process_unit"
    __table_args__ = _owned_by_enterprise(
        UniqueConstraint("enterprise_id", "code"),
        UniqueConstraint("id", "enterprise_id"),
        CheckConstraint(
            "share_so2 BETWEEN 0 AND 1 AND share_nox BETWEEN 0 AND 1 AND share_pm BETWEEN 0 AND 1 "
            "AND share_vocs BETWEEN 0 AND 1",
            name="shares_are_fractions",
        ),
        CheckConstraint(
            "(eia_capacity IS NULL OR eia_capacity >= 0) AND (permit_capacity IS NULL OR permit_capacity >= 0) "
            "AND (last_year_output IS NULL OR last_year_output >= 0)",
            name="capacities_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_id: Mapped[int] = mapped_column(BigId, ForeignKey("registry_unit.id", ondelete="RESTRICT"))
    registered = relationship("RegisteredUnit")
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    share_so2: Mapped[float] = mapped_column(Float, default=0.0)
    share_nox: Mapped[float] = mapped_column(Float, default=0.0)
    share_pm: Mapped[float] = mapped_column(Float, default=0.0)
    share_vocs: Mapped[float] = mapped_column(Float, default=0.0)
    eia_capacity: Mapped[float | None] = mapped_column(Float)  # 环评批复产能
    permit_capacity: Mapped[float | None] = mapped_column(Float)  # 排污许可产能
    last_year_output: Mapped[float | None] = mapped_column(Float)  # 上年实际产量
    capacity_unit: Mapped[str] = mapped_column(String(16), default="")
    outdoor: Mapped[bool] = mapped_column(default=False)
    under_rectification: Mapped[bool] = mapped_column(default=False)  # not counted in staggered-production base

    enterprise: Mapped[Enterprise] = relationship(
        back_populates="units", primaryjoin="Enterprise.id == ProcessUnit.enterprise_id",
        foreign_keys="ProcessUnit.enterprise_id",
    )  # fmt: skip

    @property
    def reduction_base(self) -> float | None:
        """The smallest of the approved capacity, the permitted capacity and last year's output."""
        values = [v for v in (self.eia_capacity, self.permit_capacity, self.last_year_output) if v is not None]
        return min(values) if values else None


class ControlFacility(_EnterpriseChild, Base):
    __tablename__ = "control_facility"
    __table_args__ = _owned_by_enterprise(UniqueConstraint("enterprise_id", "code"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_id: Mapped[int] = mapped_column(BigId, ForeignKey("registry_facility.id", ondelete="RESTRICT"))
    registered = relationship("RegisteredFacility")
    code: Mapped[str] = mapped_column(String(32))
    process_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("process_unit.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64), default="")  # 脱硫 / 脱硝 / 除尘 / VOCs 治理 …
    pollutants: Mapped[str] = mapped_column(String(64), default="")


class Meter(_EnterpriseChild, Base):
    """A power meter (分表计电) for the power checks: on a process unit, a control facility or the whole plant."""

    __tablename__ = "meter"
    __table_args__ = _owned_by_enterprise(
        UniqueConstraint("enterprise_id", "number"),
        CheckConstraint(
            "(kind = 'production' AND process_unit_id IS NOT NULL AND control_facility_id IS NULL) OR "
            "(kind = 'control' AND control_facility_id IS NOT NULL) OR "
            "(kind = 'total' AND process_unit_id IS NULL AND control_facility_id IS NULL)",
            name="kind_matches_target",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    registry_id: Mapped[int] = mapped_column(BigId, ForeignKey("registry_meter.id", ondelete="RESTRICT"))
    registered = relationship("RegisteredMeter")
    kind: Mapped[MeterKind] = mapped_column(enum_type(MeterKind, 16))
    number: Mapped[str] = mapped_column(String(64))
    process_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("process_unit.id", ondelete="CASCADE"))
    control_facility_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("control_facility.id", ondelete="CASCADE")
    )


class Measure(_EnterpriseChild, Base):
    """One measure of the plant policy at one alert level, on a process unit or the whole plant."""

    __tablename__ = "measure"
    __table_args__ = _owned_by_enterprise(
        Index("ix_measure_enterprise_level", "enterprise_id", "level"),
        CheckConstraint("(kind IN ('limit', 'output_cap')) = (percent IS NOT NULL)", name="percent_only_for_limits"),
        CheckConstraint("percent IS NULL OR (percent > 0 AND percent <= 100)", name="percent_range"),
        CheckConstraint("kind <> 'offroad_ban' OR max_stage IS NOT NULL", name="offroad_names_stage"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    level: Mapped[AlertLevel] = mapped_column(enum_type(AlertLevel, 16))
    process_unit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("process_unit.id", ondelete="CASCADE"))
    kind: Mapped[MeasureKind] = mapped_column(enum_type(MeasureKind, 24))
    percent: Mapped[float | None] = mapped_column(Float)
    verification: Mapped[Verification] = mapped_column(enum_type(Verification, 24))
    max_stage: Mapped[MachineryStage | None] = mapped_column(enum_type(MachineryStage, 16))
    basis: Mapped[OutputBasis | None] = mapped_column(enum_type(OutputBasis, 24))
    note: Mapped[str] = mapped_column(String(300), default="")

    enterprise: Mapped[Enterprise] = relationship(
        back_populates="measures", primaryjoin="Enterprise.id == Measure.enterprise_id",
        foreign_keys="Measure.enterprise_id",
    )  # fmt: skip
    process_unit: Mapped[ProcessUnit | None] = relationship()


class StaggeredPeriod(_EnterpriseChild, Base):
    """A staggered-production shutdown (错峰生产) of a cement or brick plant."""

    __tablename__ = "staggered_period"
    __table_args__ = _owned_by_enterprise(CheckConstraint("ends_on >= starts_on", name="ends_after_start"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300), default="")


class EnterpriseAssessment(Scoped, Base):
    """What the checks found for an enterprise as saved: the number of flags and their codes, and the expected
    reductions per level and pollutant (t/day) with the full-stop potential that the targets add up.

    Written in the same transaction as every change of the enterprise, its units or measures
    (services/assessments.py), so that the list page's flags and filter and the targets are SQL reads.
    `rules_version` names the rule library and check code it was computed with; `flask inventories load`
    recomputes the rows whose version is not the running one. Deleted and moved with its enterprise.

    The only foreign key is the enterprise's (id, jurisdiction): it fixes both the jurisdiction and the
    deletion. A key per row costs PostgreSQL a locked lookup, and an import writes 100,000 rows: the
    jurisdiction's key and index (Scoped's) would repeat what the enterprise's key says, and `list_id` copies
    the enterprise's list (written by the same code) for the list page's count of flagged enterprises."""

    __tablename__ = "enterprise_assessment"
    __table_args__ = (
        ForeignKeyConstraint(
            ["enterprise_id", "jurisdiction_id"],
            ["enterprise.id", "enterprise.jurisdiction_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        # a list's rows (the targets), and its count of flagged enterprises from the index alone (the reader's
        # scope filters the jurisdiction)
        Index("ix_enterprise_assessment_list_flagged", "list_id", "problems", "jurisdiction_id"),
        CheckConstraint("problems >= 0", name="problems_non_negative"),
    )

    enterprise_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column()  # the enterprise's (Scoped reads it)
    list_id: Mapped[int] = mapped_column()  # the enterprise's
    rules_version: Mapped[str] = mapped_column(String(16))
    problems: Mapped[int] = mapped_column()
    codes: Mapped[list[str]] = mapped_column(JsonType)  # the distinct problem codes, sorted
    exempt: Mapped[bool] = mapped_column()  # A-grade, leading, guarantee: never asked to close a shortfall
    yellow_so2: Mapped[float] = mapped_column(Float)
    yellow_nox: Mapped[float] = mapped_column(Float)
    yellow_pm: Mapped[float] = mapped_column(Float)
    yellow_vocs: Mapped[float] = mapped_column(Float)
    orange_so2: Mapped[float] = mapped_column(Float)
    orange_nox: Mapped[float] = mapped_column(Float)
    orange_pm: Mapped[float] = mapped_column(Float)
    orange_vocs: Mapped[float] = mapped_column(Float)
    red_so2: Mapped[float] = mapped_column(Float)
    red_nox: Mapped[float] = mapped_column(Float)
    red_pm: Mapped[float] = mapped_column(Float)
    red_vocs: Mapped[float] = mapped_column(Float)
    full_stop_so2: Mapped[float] = mapped_column(Float)
    full_stop_nox: Mapped[float] = mapped_column(Float)
    full_stop_pm: Mapped[float] = mapped_column(Float)
    full_stop_vocs: Mapped[float] = mapped_column(Float)

    @staticmethod
    def reduction(level: AlertLevel | str, pollutant: str) -> str:
        """The column of a level's expected reduction of a pollutant (t/day)."""
        return f"{AlertLevel(level).value}_{pollutant}"


class TotalEmissions(Scoped, Base):
    """A jurisdiction's total emissions for a year (全社会总排放量): the denominator of the targets."""

    __tablename__ = "total_emissions"
    __table_args__ = (
        UniqueConstraint("jurisdiction_id", "year"),
        CheckConstraint("so2 >= 0 AND nox >= 0 AND pm >= 0 AND vocs >= 0", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column()
    so2: Mapped[float] = mapped_column(Float)
    nox: Mapped[float] = mapped_column(Float)
    pm: Mapped[float] = mapped_column(Float)
    vocs: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- who may do what with a list (the transition function in services/lists.py asks these) -------------


def _is_staff(user: Any) -> bool:
    return bool(user.roles & STAFF)


def _is_decider(user: Any) -> bool:
    return bool(user.roles & {Role.city_staff, Role.province_staff, Role.approver, Role.reviewer})


def _owner(lst: ReductionList, user: Any) -> bool:
    return user.jurisdiction_id == lst.jurisdiction_id and _is_staff(user)


def _above(lst: ReductionList, user: Any) -> bool:
    """The bureau one level up (the city bureau for a county list; the province for a city or a Chongqing
    district) decides on the list."""
    return user.jurisdiction_id == lst.jurisdiction.parent_id and _is_decider(user)


def _owner_or_above(lst: ReductionList, user: Any) -> bool:
    return _owner(lst, user) or _above(lst, user)


# Each action: the states it may start from, the state it leads to, and whose it is (written once: the
# models' can_<action>, the transition function and the pages all read it).
LIFECYCLE: dict[ListAction, tuple[frozenset[ListState], ListState | None, Any]] = {
    ListAction.submit: (frozenset({ListState.draft, ListState.returned}), ListState.submitted, _owner),
    ListAction.return_: (frozenset({ListState.submitted}), ListState.returned, _above),
    ListAction.approve: (frozenset({ListState.submitted}), ListState.approved, _above),
    ListAction.publish: (frozenset({ListState.approved}), ListState.published, _owner_or_above),
    ListAction.new_version: (frozenset({ListState.published}), None, _owner),
}
