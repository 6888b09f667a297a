"""Natural sort keys of partner ids and names: the partner list in natural order (P2 before P10).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

- ``partner.id_sort_key``, ``partner.name_sort_key``: the natural sort key of the id and of the
  name (``tiertui.scoring.natural.natural_sort_key``: folded text, each run of digits left-padded
  to 20 characters), text compared as bytes (PostgreSQL: ``COLLATE "C"``), filled here for every
  stored partner;
- ``ix_partner_id_sort_key`` (id key, id) and ``ix_partner_name_sort_key`` (name key, id key, id):
  the list's first page by id or by name straight from an index, in either direction.

Matches ``Partner`` in ``tables.py``. The keys are computed by the one key function; a later
change of the key (what it writes for some text) must come with a migration that recomputes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tiertui.scoring.natural import natural_sort_key

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_CHUNK = 5_000  # partners updated per statement


def _sort_key_type() -> sa.types.TypeEngine:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    # a plain ALTER TABLE ADD COLUMN, also on SQLite: a copy of the table (batch mode) would drop
    # ``partner``, which the foreign keys of the other tables refuse while they hold rows
    for column in ("id_sort_key", "name_sort_key"):
        op.add_column("partner", sa.Column(column, _sort_key_type(), nullable=False, server_default=sa.text("''")))
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT key, partner_id, name FROM partner ORDER BY key")).all()
    update = sa.text("UPDATE partner SET id_sort_key = :id_key, name_sort_key = :name_key WHERE key = :key")
    for start in range(0, len(rows), _CHUNK):
        conn.execute(
            update,
            [
                {"key": key, "id_key": natural_sort_key(pid), "name_key": natural_sort_key(name)}
                for key, pid, name in rows[start : start + _CHUNK]
            ],
        )
    op.create_index("ix_partner_id_sort_key", "partner", ["id_sort_key", "partner_id"])
    op.create_index("ix_partner_name_sort_key", "partner", ["name_sort_key", "id_sort_key", "partner_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_name_sort_key", table_name="partner")
    op.drop_index("ix_partner_id_sort_key", table_name="partner")
    with op.batch_alter_table("partner") as batch:
        batch.drop_column("name_sort_key")
        batch.drop_column("id_sort_key")
