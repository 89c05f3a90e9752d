"""Forecasts and observations as they came in: every issue kept (so any past evaluation can be replayed),
the same content stored once (its digest)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, enum_type, utcnow


class ReadingKind(enum.StrEnum):
    forecast = "forecast"
    observation = "observation"


class ForecastIssue(Base):
    """One issue of a forecast (or one batch of observed AQI): a file upload or an API post."""

    __tablename__ = "forecast_issue"
    __table_args__ = (UniqueConstraint("kind", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReadingKind] = mapped_column(enum_type(ReadingKind, 16))
    # sha256 of the normalised rows (app/alerts/domain/readings.py digest): a second post of the same content
    # finds this issue instead of adding one.
    digest: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[str] = mapped_column(String(8))  # day | hour
    source_name: Mapped[str] = mapped_column(String(255))  # file name, or "api"
    row_count: Mapped[int] = mapped_column()
    first_start: Mapped[datetime] = mapped_column()
    last_start: Mapped[datetime] = mapped_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    values: Mapped[list[ForecastValue]] = relationship(back_populates="issue", cascade="all, delete-orphan",
                                                       order_by="ForecastValue.id")  # fmt: skip


class ForecastValue(Base):
    """One unit's value for one day or hour, as given: AQI, a range, or PM2.5 with the AQI computed from it."""

    __tablename__ = "forecast_value"
    __table_args__ = (
        UniqueConstraint("issue_id", "jurisdiction_id", "starts_at"),
        CheckConstraint("hours IN (1, 24)", name="day_or_hour"),
        CheckConstraint("aqi IS NOT NULL OR aqi_max IS NOT NULL OR pm25 IS NOT NULL", name="has_a_value"),
        CheckConstraint("aqi_min IS NULL OR aqi_max IS NULL OR aqi_min <= aqi_max", name="range_ordered"),
        Index("ix_forecast_value_unit_time", "jurisdiction_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("forecast_issue.id", ondelete="CASCADE"))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime] = mapped_column()
    hours: Mapped[int] = mapped_column()
    aqi: Mapped[int | None] = mapped_column()
    aqi_min: Mapped[int | None] = mapped_column()
    aqi_max: Mapped[int | None] = mapped_column()
    pm25: Mapped[float | None] = mapped_column()
    aqi_pm25: Mapped[int | None] = mapped_column()  # IAQI of PM2.5 by the HJ 633 table in force that day
    aqi_table: Mapped[str | None] = mapped_column(String(32))  # which table computed aqi_pm25
    primary_pollutant: Mapped[str | None] = mapped_column(String(16))
    dust: Mapped[bool] = mapped_column(default=False)

    issue: Mapped[ForecastIssue] = relationship(back_populates="values")
