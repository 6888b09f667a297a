"""Published periods, partner contact e-mails, and a record of the notifications sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

- ``published_period``: one row per published period (who, when); its results never change.
- ``partner.contact_name``, ``partner.contact_email``: optional partner columns (spec v2 §2), NULL
  for the partners already stored.
- ``notification``: every message really written to the outbox or accepted by an SMTP server.

Matches ``PublishedPeriod``, ``Partner`` and ``Notification`` in ``tables.py``. Nothing is
rewritten: existing rows are kept as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_period",
        sa.Column("period", sa.String(), primary_key=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(), nullable=False),
    )
    with op.batch_alter_table("partner") as batch:
        batch.add_column(sa.Column("contact_name", sa.String(), nullable=True))
        batch.add_column(sa.Column("contact_email", sa.String(), nullable=True))
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("partner_key", sa.Integer(), nullable=True),
        sa.Column("manager", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("outbox_file", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("resend", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_notification_period", "notification", ["period", "kind"])


def downgrade() -> None:
    op.drop_index("ix_notification_period", table_name="notification")
    op.drop_table("notification")
    with op.batch_alter_table("partner") as batch:
        batch.drop_column("contact_email")
        batch.drop_column("contact_name")
    op.drop_table("published_period")
