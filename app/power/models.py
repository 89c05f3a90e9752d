"""Stored readings of registered meters (registry_meter.id), and the hourly and daily figures kept as they arrive.

`power_reading` is partitioned by month on PostgreSQL (`PARTITION BY RANGE (at)`; partitions are made by
`app.power.store.ensure_partitions` before a batch goes in); SQLite has the same columns and key, unpartitioned.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.scoping import Scoped
from app.db import Base, BigId, enum_type, utcnow

SOURCES = ("upload", "api", "hj212")


class PowerReading(Base):
    """One meter's energy over the interval starting at `at` (UTC; 15 minutes, an hour or a day)."""

    __tablename__ = "power_reading"
    __table_args__ = {"postgresql_partition_by": "RANGE (at)"}  # noqa: RUF012

    registry_meter_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_meter.id", ondelete="RESTRICT"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(primary_key=True)
    kwh: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class PowerHourly(Base):
    """A meter's energy in one hour (UTC hour start; China's hours are whole hours of UTC) and its readings."""

    __tablename__ = "power_hourly"

    registry_meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # derived from power_reading: no FK
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    kwh: Mapped[float] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(Integer)


class PowerDaily(Base):
    """A meter's energy on one local calendar day (Asia/Shanghai) and its readings."""

    __tablename__ = "power_daily"

    registry_meter_id: Mapped[int] = mapped_column(BigId, primary_key=True)  # derived from power_reading: no FK
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kwh: Mapped[float] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(Integer)


class PowerBatch(Base):
    """A batch posted to the API under an `Idempotency-Key`: the same key with the same body gets the stored answer
    again (and stores nothing); the same key with another body is refused. Per bureau: keys are the sender's."""

    __tablename__ = "power_batch"
    __table_args__ = (UniqueConstraint("bureau_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    body_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the request body
    status_code: Mapped[int] = mapped_column(Integer)
    answer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PowerDevice(Scoped, Base):
    """An HJ 212 sub-metering device (its MN) of a registered enterprise, with the meter each factor code feeds,
    and when it was last heard from."""

    __tablename__ = "power_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    mn: Mapped[str] = mapped_column(String(24), unique=True)
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    factors: Mapped[dict[str, Any]] = mapped_column(default=dict)  # factor code → registry_meter.id
    last_heard_at: Mapped[datetime | None] = mapped_column()
    last_data_at: Mapped[datetime | None] = mapped_column()  # the DataTime of its last stored packet (UTC)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)  # frames refused (CRC, length, unknown factor)

    enterprise = relationship("RegisteredEnterprise")


class FlagState(enum.StrEnum):
    raised = "raised"
    explained = "explained"
    dismissed = "dismissed"
    confirmed = "confirmed"


class PowerFlag(Scoped, Base):
    """A flag of the check stored for an episode: one per episode, enterprise, kind and subject (day, meter).
    A rerun updates its evidence; an official's decision (dismissed with a reason, confirmed) stays."""

    __tablename__ = "power_flag"
    __table_args__ = (UniqueConstraint("episode_id", "registry_enterprise_id", "kind", "subject"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"), index=True)
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    meter_id: Mapped[int | None] = mapped_column(BigId)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    # "2026-12-08" or "2026-12-08/meter 12"; not named `subject` in Python: the scoping's loader criteria read an
    # attribute of that name on the entity (app/core/scoping._granted)
    about: Mapped[str] = mapped_column("subject", String(48))
    state: Mapped[FlagState] = mapped_column(enum_type(FlagState, 16), default=FlagState.raised)
    report_id: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(1000), default="")
    note: Mapped[str] = mapped_column(String(1000), default="")  # the official's reason (dismissal)
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("case_record.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None] = mapped_column()
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)  # the last run that raised it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enterprise = relationship("RegisteredEnterprise")


class PowerReport(Scoped, Base):
    """A stoppage, maintenance, retrofit or power cut reported in advance by the enterprise (or its bureau on its
    behalf): left out of the baseline, and a flag it covers is shown as explained (the plan's `explains`)."""

    __tablename__ = "power_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_enterprise_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registry_enterprise.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # stoppage / maintenance / retrofit / power_cut
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enterprise = relationship("RegisteredEnterprise")
