"""Stored readings of registered meters (registry_meter.id), and the hourly and daily figures kept as they arrive.

`power_reading` is partitioned by month on PostgreSQL (`PARTITION BY RANGE (at)`; partitions are made by
`app.power.store.ensure_partitions` before a batch goes in); SQLite has the same columns and key, unpartitioned.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow

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
