"""Program versions over time (spec v2 §3.11): the versions in force, their dates.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Matches ``ProgramVersion`` in ``tables.py``: ``in_force`` marks the versions of the timeline and
``effective_from`` copies the file's ``[program] effective_from``. An upgraded database keeps its
one active version as the only version in force.
"""

from __future__ import annotations

import tomllib
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _effective_from(content: str) -> date | None:
    try:
        value = tomllib.loads(content).get("program", {}).get("effective_from")
    except tomllib.TOMLDecodeError:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite too): a batch rebuild would drop program_version, which other tables
    # reference
    op.add_column("program_version", sa.Column("in_force", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("program_version", sa.Column("effective_from", sa.Date(), nullable=True))
    conn = op.get_bind()
    table = sa.table(
        "program_version",
        sa.column("id", sa.Integer()),
        sa.column("content", sa.Text()),
        sa.column("active", sa.Boolean()),
        sa.column("in_force", sa.Boolean()),
        sa.column("effective_from", sa.Date()),
    )
    for row_id, content, active in conn.execute(sa.select(table.c.id, table.c.content, table.c.active)).all():
        conn.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(in_force=bool(active), effective_from=_effective_from(content or ""))
        )


def downgrade() -> None:
    op.drop_column("program_version", "effective_from")
    op.drop_column("program_version", "in_force")
