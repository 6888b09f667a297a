"""Whether the stored results are up to date (stale after an import with --no-level).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Matches ``ResultsState`` in ``tables.py``. An upgraded database has no row: its results are
not marked stale.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "results_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stale_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("results_state")
