"""Index partner names (sorting and looking up partners by name).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

Matches ``Partner.name = Field(index=True)`` in ``tables.py``.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_partner_name", "partner", ["name"])


def downgrade() -> None:
    op.drop_index("ix_partner_name", table_name="partner")
