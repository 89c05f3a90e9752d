"""plan targets: percentages per response level and the grades that need not close a shortfall

Revision ID: e7a3c5b1d9f4
Revises: e7a1b2c3d4f5
Create Date: 2026-12-07 06:30:00

Each plan's `[targets]` (inventories/plans/*.toml) as loaded by `flask inventories load`; NULL: the defaults of
seed 002 §4.3.1 (10/20/30 %, A-grade and guarantee enterprises exempt).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e7a3c5b1d9f4'
down_revision: str | None = 'e7a1b2c3d4f5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'targets', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True
        ))


def downgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('targets')
