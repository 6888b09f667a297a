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


def _sort_key_type() -> sa.types.TypeEngine:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _key_of_any(value: object) -> str:
    """The key of a stored value (SQLite may hold a number or bytes in a text column)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return "" if value is None else natural_sort_key(str(value))


def _fill(conn: sa.Connection) -> None:
    """Every stored partner's keys, computed by the key function."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if conn.dialect.name == "sqlite":  # the key function inside SQLite: one statement
        raw.create_function("tiertui_natural_sort_key", 1, _key_of_any, deterministic=True)
        conn.exec_driver_sql(
            "UPDATE partner SET id_sort_key = tiertui_natural_sort_key(partner_id), "
            "name_sort_key = tiertui_natural_sort_key(name)"
        )
        return
    # PostgreSQL: the keys copied into a temporary table, then one UPDATE (a statement per row, or
    # per few thousand rows, takes several times as long: half a minute per 100,000 partners)
    rows = conn.execute(sa.text("SELECT key, partner_id, name FROM partner")).all()
    cursor = raw.cursor()
    try:
        cursor.execute(
            'CREATE TEMPORARY TABLE natural_sort_keys (key INTEGER PRIMARY KEY, id_key TEXT COLLATE "C", '
            'name_key TEXT COLLATE "C") ON COMMIT DROP'
        )
        with cursor.copy("COPY natural_sort_keys (key, id_key, name_key) FROM STDIN") as copy:
            for key, pid, name in rows:
                copy.write_row((key, _key_of_any(pid), _key_of_any(name)))
        cursor.execute(
            "UPDATE partner AS p SET id_sort_key = v.id_key, name_sort_key = v.name_key "
            "FROM natural_sort_keys AS v WHERE p.key = v.key"
        )
        cursor.execute("DROP TABLE natural_sort_keys")
    finally:
        cursor.close()


def upgrade() -> None:
    # a plain ALTER TABLE ADD COLUMN, also on SQLite: a copy of the table (batch mode) would drop
    # ``partner``, which the foreign keys of the other tables refuse while they hold rows
    for column in ("id_sort_key", "name_sort_key"):
        op.add_column("partner", sa.Column(column, _sort_key_type(), nullable=False, server_default=sa.text("''")))
    _fill(op.get_bind())
    op.create_index("ix_partner_id_sort_key", "partner", ["id_sort_key", "partner_id"])
    op.create_index("ix_partner_name_sort_key", "partner", ["name_sort_key", "id_sort_key", "partner_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_name_sort_key", table_name="partner")
    op.drop_index("ix_partner_id_sort_key", table_name="partner")
    with op.batch_alter_table("partner") as batch:
        batch.drop_column("name_sort_key")
        batch.drop_column("id_sort_key")
