"""Each person's own database login, so a team database knows who is acting; who holds each offline copy.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

Matches ``AppUser.login`` and ``OfflineCopy.holder_login`` in ``tables.py``. On PostgreSQL the
acting person is the database login (``current_user``) mapped to a person through ``login``
(see ``services.roles``). An upgraded database's people get their own name as their login, which
is what a team that named its people after their logins had; an admin changes it with
``tiertui users set NAME ROLE --login LOGIN``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("login", sa.String(), nullable=True))
        batch.create_unique_constraint("uq_app_user_login", ["login"])
    op.execute("UPDATE app_user SET login = name")
    with op.batch_alter_table("offline_copy") as batch:
        batch.add_column(sa.Column("holder_login", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offline_copy") as batch:
        batch.drop_column("holder_login")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint("uq_app_user_login", type_="unique")
        batch.drop_column("login")
