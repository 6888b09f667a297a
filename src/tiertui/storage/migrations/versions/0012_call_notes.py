"""Call notes: a dated note on a partner by the person who wrote it (issue 13).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Matches ``CallNote`` in ``tables.py``. ``uuid`` names a note wherever it travels: a note written
in an offline copy keeps its uuid when ``tiertui offline sync`` brings it back, so it is never
brought back twice. Nothing existing is changed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(), nullable=False),
        sa.Column("partner_key", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["partner_key"], ["partner.key"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid", name="uq_call_note_uuid"),
    )
    op.create_index("ix_call_note_partner", "call_note", ["partner_key", "written_at"])


def downgrade() -> None:
    op.drop_index("ix_call_note_partner", table_name="call_note")
    op.drop_table("call_note")
