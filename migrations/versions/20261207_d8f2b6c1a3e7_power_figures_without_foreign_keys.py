"""power figures without foreign keys: power_hourly and power_daily are derived from power_reading

Revision ID: d8f2b6c1a3e7
Revises: a8c3e51d9f27
Create Date: 2026-12-07 15:10:00

Issue 14 step 5. The hourly and daily figures exist only as sums of power_reading rows, whose foreign key
already guards the meter; their own foreign keys cost a lookup per row on every ingest (bench/power.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d8f2b6c1a3e7"
down_revision: str | None = "a8c3e51d9f27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("power_hourly", "power_daily")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_registry_meter_id_registry_meter", type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"fk_{table}_registry_meter_id_registry_meter", "registry_meter",
                                     ["registry_meter_id"], ["id"], ondelete="RESTRICT")  # fmt: skip
