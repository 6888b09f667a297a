"""Certification renewals: one row per earning, the key holds earned_on (spec v2 §2).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

A renewal (the same person earning the same certification again) is a new row, so the history
stays. Every stored row is kept: the old key is narrower than the new one, so the rows that were
unique stay unique. Matches ``Certification`` in ``tables.py``.

SQLite cannot drop the old, unnamed unique constraint: the table is rebuilt (batch mode) from a
copy of its definition with the new key, and its rows copied over. PostgreSQL drops the
constraint by the name it gave it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_KEY = ("partner_key", "person", "certification")
NEW_KEY = ("partner_key", "person", "certification", "earned_on")


def _table(key: tuple[str, ...]) -> sa.Table:
    return sa.Table(
        "certification",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_key", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("certification", sa.String(), nullable=False),
        sa.Column("track", sa.String(), nullable=False),
        sa.Column("earned_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["partner_key"], ["partner.key"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*key),
        sa.Index("ix_certification_expires_on", "expires_on"),
        sa.Index("ix_certification_partner_key", "partner_key"),
        sa.Index("ix_certification_track", "track"),
    )


def _unique_name(key: tuple[str, ...]) -> str | None:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("certification"):
        if tuple(constraint["column_names"]) == key:
            return constraint["name"]
    return None


def _rekey(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("certification", copy_from=_table(new), recreate="always"):
            pass
        return
    name = _unique_name(old)
    if name is not None:
        op.drop_constraint(name, "certification", type_="unique")
    op.create_unique_constraint(f"certification_{'_'.join(new)}_key", "certification", list(new))


def upgrade() -> None:
    _rekey(OLD_KEY, NEW_KEY)


def downgrade() -> None:
    """Back to one row per person and certification: fails if a renewal is stored (nothing is dropped)."""
    _rekey(NEW_KEY, OLD_KEY)
