"""list page: flagged enterprises per jurisdiction stored on the list; a covering index for its counts

Revision ID: d4c1ce7f4511
Revises: a55e55a11e55
Create Date: 2026-11-23 15:30:00

The list page summed the list's flagged enterprises on every view (an index scan over every flagged row).
services/assessments.recount now keeps the count per jurisdiction on the list with every write of the
assessments; the upgrade fills it from the rows already stored. The county index now includes the columns
the page filters on, so that the filtered count is an index-only scan on PostgreSQL.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'd4c1ce7f4511'
down_revision: str | None = 'a55e55a11e55'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reduction_list', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('flagged', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                      server_default='{}', nullable=False)
        )
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_list_jurisdiction_name')
        batch_op.create_index('ix_enterprise_list_jurisdiction_name', ['list_id', 'jurisdiction_id', 'name'],
                              unique=False, postgresql_include=['category', 'grade', 'industry'])
    conn = op.get_bind()
    counts: dict[int, dict[str, int]] = {}
    for list_id, jurisdiction_id, n in conn.execute(sa.text(
        "SELECT list_id, jurisdiction_id, count(*) FROM enterprise_assessment WHERE problems > 0 "
        "GROUP BY list_id, jurisdiction_id ORDER BY list_id, jurisdiction_id"
    )):
        counts.setdefault(list_id, {})[str(jurisdiction_id)] = n
    for list_id, flagged in counts.items():
        conn.execute(sa.text("UPDATE reduction_list SET flagged = :f WHERE id = :id"),
                     {"f": json.dumps(flagged), "id": list_id})


def downgrade() -> None:
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_list_jurisdiction_name')
        batch_op.create_index('ix_enterprise_list_jurisdiction_name', ['list_id', 'jurisdiction_id', 'name'],
                              unique=False)
    with op.batch_alter_table('reduction_list', schema=None) as batch_op:
        batch_op.drop_column('flagged')
