"""A fingerprint per levelling result, so that re-levelling skips unchanged rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03

Matches ``LevelResult.digest`` in ``tables.py``. NULL means unknown: the next levelling run
rewrites the row and fills it in, so upgraded databases need no backfill.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("level_result", sa.Column("digest", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("level_result") as batch:
        batch.drop_column("digest")
