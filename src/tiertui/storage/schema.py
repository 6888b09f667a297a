"""Schema versions: Alembic migrations, configured in code (no alembic.ini).

The migration scripts live in ``migrations/`` next to this module, so an installed package finds
them. ``open_engine`` calls :func:`ensure` (one query when the database is current);
``tiertui db upgrade`` calls :func:`upgrade`.

A database made before migrations existed has the tables but no ``alembic_version`` table; if its
tables are those of the first schema it counts as revision ``0001``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .database import DatabaseError, is_sqlite, redact

if TYPE_CHECKING:  # alembic is imported only when a migration runs: opening stays cheap
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
FIRST = "0001"
HEAD = "0012"  # the newest revision in migrations/versions (a test keeps the two in step)

# The first schema's tables and columns: how a database made before migrations is recognised.
FIRST_SCHEMA: dict[str, frozenset[str]] = {
    "audit_entry": frozenset({"id", "at", "actor", "action", "entity", "entity_id", "detail"}),
    "certification": frozenset({"id", "partner_key", "person", "certification", "track", "earned_on", "expires_on"}),
    "level_result": frozenset(
        {
            "period",
            "partner_key",
            "score",
            "qualified_tier",
            "earned_tier",
            "effective_tier",
            "override_id",
            "event",
            "below",
            "at_risk",
            "badges",
            "group_values",
        }
    ),
    "level_run": frozenset(
        {"id", "program_id", "started_at", "finished_at", "run_by", "partners", "periods", "metrics"}
    ),
    "metric_value": frozenset({"period", "metric", "partner_key", "value"}),
    "partner": frozenset(
        {
            "key",
            "partner_id",
            "name",
            "region",
            "country",
            "partner_type",
            "parent_id",
            "account_manager",
            "tier",
            "tier_since",
        }
    ),
    "program_version": frozenset(
        {"id", "name", "version", "content", "content_hash", "source_name", "loaded_at", "loaded_by", "active"}
    ),
    "scenario": frozenset({"id", "name", "content", "base_program_id", "created_by", "created_at", "updated_at"}),
    "tier_override": frozenset(
        {
            "id",
            "partner_key",
            "tier",
            "reason",
            "starts_on",
            "expires_on",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "note",
        }
    ),
}

_PG_LOCK_KEY = 0x7469657274756901  # pg_advisory_xact_lock key: one migrator at a time


class SchemaOutdated(DatabaseError):
    """The database was made by an older tiertui; ``tiertui db upgrade`` brings it up to date."""

    def __init__(self, url: str, current: str, head: str, sqlite: bool) -> None:
        self.current = current
        self.head = head
        backup = "a backup copy of the file is made first" if sqlite else "back it up first, e.g. with pg_dump"
        super().__init__(
            f"the database {url} has schema revision {current}, older than this tiertui's {head}: "
            f"run `tiertui db upgrade` to upgrade it ({backup})"
        )


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no tiertui tables yet
    head: str
    needs_upgrade: bool
    is_empty: bool


# ------------------------------------------------------------------------------ Alembic


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for the package's migrations; ``connection`` (or ``url``) is the database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _scripts().get_current_head() or FIRST


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


# ------------------------------------------------------------------------------ reading


def _version_row(conn: Connection) -> tuple[bool, str | None]:
    """(has the version table, its revision). One query when the table is there."""
    try:
        return True, conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except DBAPIError:
        conn.rollback()
        if inspect(conn).has_table(VERSION_TABLE):
            raise
        return False, None


def _unversioned(conn: Connection, url: str) -> str | None:
    """A database without a version table: None if it has no tiertui tables, FIRST if it has the first schema."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names()) & FIRST_SCHEMA.keys()
    if not present:
        return None
    for table, columns in FIRST_SCHEMA.items():
        if table not in present or {c["name"] for c in inspector.get_columns(table)} != columns:
            raise DatabaseError(
                f"the database {url} has tiertui tables but no schema version, and they are not the first "
                f"schema (table {table!r} differs): it cannot be upgraded automatically"
            )
    return FIRST


def _current(conn: Connection, url: str) -> str | None:
    has_table, revision = _version_row(conn)
    if has_table and revision is not None:
        return revision
    return _unversioned(conn, url)


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for a database without tiertui tables."""
    with engine.connect() as conn:
        return _current(conn, redact(str(engine.url)))


def status(engine: Engine) -> SchemaStatus:
    current = current_revision(engine)
    head = head_revision()
    return SchemaStatus(current=current, head=head, needs_upgrade=current != head, is_empty=current is None)


# ------------------------------------------------------------------------------ writing


def _migrate(engine: Engine, target: str = "head") -> None:
    """Upgrade to ``target`` in one transaction, holding a lock so that concurrent openers wait."""
    from alembic import command

    url = redact(str(engine.url))
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held through the DDL
        elif engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        # no failing query inside the lock: a rollback would let it go
        versioned = inspect(conn).has_table(VERSION_TABLE)
        cfg = alembic_config(connection=conn)
        if not versioned and _unversioned(conn, url) == FIRST:
            command.stamp(cfg, FIRST)  # made before migrations: it is the first schema
        command.upgrade(cfg, target)
        conn.commit()


def _backup_sqlite(engine: Engine) -> Path | None:
    """Copy the SQLite file with the backup API (consistent even with a WAL); None for memory databases."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    source = Path(database).expanduser()
    if not source.exists():
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = source.with_name(f"{source.stem}.backup-{stamp}.db")
    n = 1
    while target.exists():
        n += 1
        target = source.with_name(f"{source.stem}.backup-{stamp}-{n}.db")
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def upgrade(engine: Engine, backup: bool = True) -> Path | None:
    """Bring the database to the newest schema; returns the SQLite backup copy made first, if any.

    Nothing is done (and no backup made) when it is already current. An empty database gets the
    whole schema, without a backup.
    """
    state = status(engine)
    if not state.needs_upgrade:
        return None
    if state.current is not None and not _known(state.current):
        raise _newer(engine, state.current)
    copy = _backup_sqlite(engine) if backup and is_sqlite(engine) and not state.is_empty else None
    _migrate(engine)
    return copy


def _newer(engine: Engine, revision: str) -> DatabaseError:
    return DatabaseError(
        f"the database {redact(str(engine.url))} has schema revision {revision}, which this tiertui does not "
        "know: it was upgraded by a newer tiertui; use that version"
    )


def ensure(engine: Engine) -> None:
    """What ``open_engine`` does: create a new database, accept a current one, refuse an older one."""
    with engine.connect() as conn:
        has_table, revision = _version_row(conn)
        if revision == HEAD:
            return
        if revision is None:
            revision = _unversioned(conn, redact(str(engine.url)))
    if revision is None:
        _migrate(engine)  # a new database: the whole schema, stamped
        return
    head = head_revision()
    if revision == head:
        if not has_table:
            _migrate(engine)  # the first schema made before migrations, and that is still the head: stamp
        return
    if not _known(revision):
        raise _newer(engine, revision)
    raise SchemaOutdated(redact(str(engine.url)), revision, head, is_sqlite(engine))
