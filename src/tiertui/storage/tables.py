"""The database tables (SQLModel). Names say what a row is."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Boolean, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlalchemy import false as sa_false
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlmodel import Field, SQLModel

from ..scoring.natural import natural_sort_key


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ProgramVersion(SQLModel, table=True):
    """Every program file ever loaded; exactly one is active (in force for the newest periods).

    (v2 §3.11) ``in_force`` marks the versions of the timeline, ordered by ``effective_from``
    (the file's ``[program] effective_from``; None: from the start). See ``services.timeline``.
    """

    __tablename__ = "program_version"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    version: int
    content: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(index=True)
    source_name: str = ""
    loaded_at: datetime = Field(default_factory=utcnow)
    loaded_by: str
    active: bool = Field(default=False, index=True)
    in_force: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=sa_false()))
    effective_from: date | None = None


# A natural sort key (tiertui.scoring.natural): compared as bytes, so PostgreSQL gets the C collation.
SORT_KEY = Text().with_variant(Text(collation="C"), "postgresql")


def _id_sort_key(context: DefaultExecutionContext) -> str:
    return natural_sort_key(context.get_current_parameters()["partner_id"])


def _name_sort_key(context: DefaultExecutionContext) -> str:
    return natural_sort_key(context.get_current_parameters()["name"])


class Partner(SQLModel, table=True):
    """A partner. ``id_sort_key`` and ``name_sort_key`` hold the natural sort keys of its id and name
    (:func:`tiertui.scoring.natural.natural_sort_key`; revision 0011): the partner list's order.
    An insert through the ORM or SQLAlchemy Core fills them (column defaults); a statement written as
    SQL text must set them, and an update of the name must set ``name_sort_key`` with it."""

    __tablename__ = "partner"
    __table_args__ = (
        Index("ix_partner_id_sort_key", "id_sort_key", "partner_id"),  # the list by id: its first page at once
        Index("ix_partner_name_sort_key", "name_sort_key", "id_sort_key", "partner_id"),  # by name
    )
    key: int | None = Field(default=None, primary_key=True)  # compact surrogate for bulk reads
    partner_id: str = Field(unique=True, index=True)
    name: str = Field(index=True)
    region: str = ""
    country: str = ""
    partner_type: str = ""
    parent_id: str | None = Field(default=None, index=True)
    account_manager: str = ""
    tier: str | None = None  # tier on record before the first evaluated period
    tier_since: date | None = None
    contact_name: str | None = None  # (v2 §2) optional: who receives notifications (tiertui notify)
    contact_email: str | None = None
    # None until the insert: the column default computes it from the row (never stored as NULL)
    id_sort_key: str | None = Field(
        default=None, sa_column=Column(SORT_KEY, nullable=False, server_default=text("''"), default=_id_sort_key)
    )
    name_sort_key: str | None = Field(
        default=None, sa_column=Column(SORT_KEY, nullable=False, server_default=text("''"), default=_name_sort_key)
    )


class MetricValue(SQLModel, table=True):
    """One metric of one partner in one period; keyed for a range scan per period and metric."""

    __tablename__ = "metric_value"
    __table_args__ = ({"sqlite_with_rowid": False},)
    period: str = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    partner_key: int = Field(primary_key=True, foreign_key="partner.key")
    value: float


class Certification(SQLModel, table=True):
    __tablename__ = "certification"
    __table_args__ = (UniqueConstraint("partner_key", "person", "certification", "earned_on"),)  # v2: renewals
    id: int | None = Field(default=None, primary_key=True)
    partner_key: int = Field(foreign_key="partner.key", index=True)
    person: str
    certification: str
    track: str = Field(index=True)
    earned_on: date
    expires_on: date | None = Field(default=None, index=True)


class Override(SQLModel, table=True):
    """A requested tier for one partner; effective only once approved by someone else."""

    __tablename__ = "tier_override"
    id: int | None = Field(default=None, primary_key=True)
    partner_key: int = Field(foreign_key="partner.key", index=True)
    tier: str
    reason: str
    starts_on: date
    expires_on: date | None = None
    status: str = Field(default="pending", index=True)  # pending | approved | rejected | revoked
    requested_by: str
    requested_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = None  # the approval or rejection (kept when revoked)
    decided_at: datetime | None = None
    note: str = ""
    revoked_by: str | None = None  # v2 §3.7: who revoked the approved override, when, and why
    revoked_at: datetime | None = None
    revoke_note: str | None = None


class CallNote(SQLModel, table=True):
    """A dated note on a partner, from a call, by the person who wrote it (issue 13). Notes never
    change results. ``uuid`` follows the note into and out of offline copies (see ``services.notes``)."""

    __tablename__ = "call_note"
    __table_args__ = (
        UniqueConstraint("uuid", name="uq_call_note_uuid"),
        Index("ix_call_note_partner", "partner_key", "written_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    uuid: str
    partner_key: int = Field(foreign_key="partner.key")
    author: str
    written_at: datetime = Field(default_factory=utcnow)
    text: str = Field(sa_column=Column(Text, nullable=False))


class LevelRun(SQLModel, table=True):
    __tablename__ = "level_run"
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program_version.id")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    run_by: str
    partners: int = 0
    periods: str = ""
    metrics: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))  # JSON list


class LevelResult(SQLModel, table=True):
    """A partner's result for one period, with the group values it was computed from.

    Derived data, written by the latest levelling run (``LevelRun`` with the highest id): a run
    rewrites only the rows that changed. No foreign keys, so bulk writes check nothing per row.
    """

    __tablename__ = "level_result"
    __table_args__ = (
        Index("ix_level_result_partner", "partner_key", "period"),  # one partner's history
        {"sqlite_with_rowid": False},
    )
    period: str = Field(primary_key=True)
    partner_key: int = Field(primary_key=True)
    score: float
    qualified_tier: str
    earned_tier: str
    effective_tier: str
    override_id: int | None = None
    event: str
    below: int
    at_risk: bool
    badges: str = ""  # names joined by ";", sorted
    # The group value of each metric the run's program uses, packed as little-endian float64 in
    # the order of ``LevelRun.metrics`` (see ``storage.queries.unpack_group_values``).
    group_values: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # 64-bit fingerprint of the row's fields (NULL: unknown), so re-levelling skips unchanged rows.
    digest: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class AuditEntry(SQLModel, table=True):
    """Append-only: every write says who, when and what."""

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    action: str = Field(index=True)
    entity: str = ""
    entity_id: str = Field(default="", index=True)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Scenario(SQLModel, table=True):
    """A named what-if: a program file derived from a program version."""

    __tablename__ = "scenario"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))
    base_program_id: int | None = Field(default=None, foreign_key="program_version.id")
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AppUser(SQLModel, table=True):
    """A person who may use this database, and what they may do (see ``services.roles``)."""

    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("login", name="uq_app_user_login"),)
    name: str = Field(primary_key=True)
    role: str  # viewer | manager | approver | admin
    login: str | None = None  # their database login: who they are on PostgreSQL (see services.roles)
    added_by: str
    added_at: datetime = Field(default_factory=utcnow)


class OfflineCopy(SQLModel, table=True):
    """An offline copy taken of this database, or (in the copy) the copy this file is.

    The team database keeps one row per copy taken, so a copy is synced back at most once; the
    copy holds the same row, which marks it as a copy and says where its own changes begin.
    """

    __tablename__ = "offline_copy"
    id: str = Field(primary_key=True)  # a random hex token
    source: str  # the team database's URL, password hidden
    copied_at: datetime = Field(default_factory=utcnow)
    copied_by: str  # the copy's holder: the only person whose work in it a sync applies
    holder_login: str | None = None  # the database login that took it (PostgreSQL; None on SQLite)
    last_override_id: int = 0  # the highest override id when the copy was taken
    last_audit_id: int = 0  # the highest audit entry id when the copy was taken
    synced_at: datetime | None = None
    synced_by: str | None = None


class ResultsState(SQLModel, table=True):
    """Whether the stored results are current: one row (id 1) once anything marked them stale.

    ``stale_since`` is set by a write that skipped re-levelling (``tiertui import --no-level``)
    and cleared by the next full levelling run; ``stale_by`` says which write, in plain words.
    """

    __tablename__ = "results_state"
    id: int = Field(default=1, primary_key=True)
    stale_since: datetime | None = None
    stale_by: str | None = None


class PublishedPeriod(SQLModel, table=True):
    """A period whose results are published (spec §3.13): they never change while this row exists."""

    __tablename__ = "published_period"
    period: str = Field(primary_key=True)
    published_at: datetime = Field(default_factory=utcnow)
    published_by: str


class Notification(SQLModel, table=True):
    """One message really written to the outbox or accepted by the SMTP server (issue 15).

    ``kind``: ``partner`` (to a partner's contact) or ``digest`` (to an account manager, ``partner_key``
    NULL and ``manager`` set). ``outbox_file`` or ``message_id`` says where it went.
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_period", "period", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    period: str
    kind: str
    partner_key: int | None = None
    manager: str = ""
    address: str
    sent_at: datetime = Field(default_factory=utcnow)
    sent_by: str
    channel: str  # outbox | smtp
    outbox_file: str = ""
    message_id: str = ""
    resend: bool = False
