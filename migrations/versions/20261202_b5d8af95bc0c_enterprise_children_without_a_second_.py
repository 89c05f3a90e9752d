"""enterprise children without a second key to jurisdiction

Revision ID: b5d8af95bc0c
Revises: d4c1ce7f4511
Create Date: 2026-12-02 18:20:24

Process units, control facilities, meters, measures and staggered periods keep their composite key to
enterprise(id, jurisdiction_id), which ties their jurisdiction to the enterprise's; their own key to
jurisdiction said nothing more, and PostgreSQL checked it for every inserted row (30 % of a bulk import's
inserts of measures). The jurisdiction_id indexes stay: the scope filters on them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'b5d8af95bc0c'
down_revision: str | None = 'd4c1ce7f4511'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('process_unit', 'control_facility', 'meter', 'measure', 'staggered_period')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_jurisdiction_id_jurisdiction', type_='foreignkey')


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(
                f'fk_{table}_jurisdiction_id_jurisdiction', 'jurisdiction', ['jurisdiction_id'], ['id'],
                ondelete='RESTRICT',
            )
