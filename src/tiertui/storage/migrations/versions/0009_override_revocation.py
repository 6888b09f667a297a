"""Revocation of an approved override (spec v2 §3.7): who revoked it, when, and their note.

Revision ID: 0009
Revises: 0008 (temporarily 0006: 0007 and 0008 are being written on other branches; once they
are merged this revision follows 0008)
Create Date: 2026-11-30

Matches ``Override`` in ``tables.py``. The approval's ``decided_by``, ``decided_at`` and ``note``
stay as they were; a revoked override has ``status = 'revoked'`` and these three columns set.
Adding nullable columns keeps every stored row as it is, on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tier_override", sa.Column("revoked_by", sa.String(), nullable=True))
    op.add_column("tier_override", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tier_override", sa.Column("revoke_note", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tier_override") as batch:
        batch.drop_column("revoke_note")
        batch.drop_column("revoked_at")
        batch.drop_column("revoked_by")
