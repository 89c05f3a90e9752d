"""evidence names cleaned of bidirectional controls, with the sniffed type's extension

Revision ID: e7b1d2c4a9f0
Revises: 2e5583d57339
Create Date: 2026-12-07 06:30:00

Issue 10.7: names stored before uploads were cleaned (app/core/names.py) may carry bidirectional controls
(U+202E turns `gpj.exe` into what reads as `exe.jpg`) and the uploader's extension. A data migration: each such
evidence name is rewritten as a new upload's would be. The rules are copied here, not imported, so that this
revision does what it did whatever the app's cleaning becomes. Downgrade keeps the cleaned names (the old ones
are not kept anywhere; nothing depends on them).
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e7b1d2c4a9f0'
down_revision: str | None = '2e5583d57339'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = re.compile('[\\x00-\\x1f\\x7f-\\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]')
RESERVED = re.compile(r'[<>:"|?*]')
EXTENSIONS = {
    'image/jpeg': ('.jpg', '.jpeg', '.jpe', '.jfif'), 'image/png': ('.png',), 'image/webp': ('.webp',),
    'image/heic': ('.heic', '.heif'), 'application/pdf': ('.pdf',),
}


def clean(name: str, content_type: str) -> str:
    text = DROPPED.sub('', unicodedata.normalize('NFC', name or '').replace('\\', '/')).rsplit('/', 1)[-1]
    text = RESERVED.sub('', text).strip(' .') or 'file'
    extensions = EXTENSIONS.get(content_type)
    if extensions:
        stem, dot, ext = text.rpartition('.')
        if not (dot and stem and f'.{ext.lower()}' in extensions):
            text = (stem if dot and stem else text)[: 200 - len(extensions[0])] + extensions[0]
    return text[:200]


def upgrade() -> None:
    evidence = sa.table('evidence', sa.column('id'), sa.column('filename'), sa.column('content_type'))
    conn = op.get_bind()
    rows = conn.execute(sa.select(evidence.c.id, evidence.c.filename, evidence.c.content_type)).all()
    for row_id, name, content_type in rows:
        cleaned = clean(name, content_type)
        if cleaned != name:
            conn.execute(sa.update(evidence).where(evidence.c.id == row_id).values(filename=cleaned))


def downgrade() -> None:
    pass
