"""case assignee; inspection team and joint flag

Revision ID: b7c3e9a1d5f2
Revises: d8f2b6c1a3e7
Create Date: 2026-12-07 14:20:00

Issue 12.2: a case can be assigned to an officer of the bureau holding it (case_record.assignee_id); an
inspection record carries its team (names and 执法证号, a JSON list) and whether it was a joint inspection in
another bureau's area (inspection.joint).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'b7c3e9a1d5f2'
down_revision: str | None = 'd8f2b6c1a3e7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_case_record_assignee_id_user_account'), 'user_account', ['assignee_id'], ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', JSON, nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('joint', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('joint')
        batch_op.drop_column('team')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_record_assignee_id_user_account'), type_='foreignkey')
        batch_op.drop_column('assignee_id')
