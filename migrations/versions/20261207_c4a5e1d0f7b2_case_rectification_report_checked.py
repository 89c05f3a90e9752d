"""case rectification report checked against the state

Revision ID: c4a5e1d0f7b2
Revises: b5d8af95bc0c
Create Date: 2026-12-07 03:20:00

"Rectification reported" is the `rectified_at` column; two CHECK constraints now tie it to the state: a
verified or closed case was reported, and no case outside rectification carries a report.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c4a5e1d0f7b2'
down_revision: str | None = 'b5d8af95bc0c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = {
    'verified_was_reported': "state NOT IN ('verified', 'closed') OR (rectified_at IS NOT NULL)",
    'reported_only_in_rectification': (
        "state NOT IN ('discovered', 'transferred', 'returned', 'received', 'handling') OR (rectified_at IS NULL)"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(name, condition)


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(op.f(f'ck_case_record_{name}'), type_='check')
