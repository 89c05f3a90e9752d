"""power readings: power_reading (partitioned by month on PostgreSQL), power_hourly, power_daily

Revision ID: c5e8a1f20d14
Revises: c4e8a1f2d9b6
Create Date: 2026-12-07 15:00:00

Issue 14 step 5. Readings of registered meters keyed by (registry_meter_id, at); on PostgreSQL the table is
`PARTITION BY RANGE (at)` and its monthly partitions are made as batches arrive (app/power/store.py); SQLite
has the same columns and key. The hourly and daily figures are kept by the same ingest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "c5e8a1f20d14"
down_revision: str | None = "c4e8a1f2d9b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _meter(table: str) -> sa.Column:
    return sa.Column("registry_meter_id", BigId, nullable=False)


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["registry_meter_id"], ["registry_meter.id"],
                                   name=op.f(f"fk_{table}_registry_meter_id_registry_meter"), ondelete="RESTRICT")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "power_reading",
        _meter("power_reading"),
        sa.Column("at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kwh", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("received_at", app.db.UtcDateTime(timezone=True), nullable=False),
        _fk("power_reading"),
        sa.PrimaryKeyConstraint("registry_meter_id", "at", name=op.f("pk_power_reading")),
        postgresql_partition_by="RANGE (at)",
    )
    op.create_table(
        "power_hourly",
        _meter("power_hourly"),
        sa.Column("hour", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kwh", sa.Float(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        _fk("power_hourly"),
        sa.PrimaryKeyConstraint("registry_meter_id", "hour", name=op.f("pk_power_hourly")),
    )
    op.create_table(
        "power_daily",
        _meter("power_daily"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kwh", sa.Float(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        _fk("power_daily"),
        sa.PrimaryKeyConstraint("registry_meter_id", "day", name=op.f("pk_power_daily")),
    )


def downgrade() -> None:
    op.drop_table("power_daily")
    op.drop_table("power_hourly")
    op.drop_table("power_reading")  # on PostgreSQL its partitions go with it
