"""Offline copies: a SQLite copy of a team database for a trip, and override work brought back.

:func:`take_copy` writes every row of the team database (SQLite or PostgreSQL) into a new SQLite
file at the newest schema, with ids and keys unchanged, and records the copy (an ``OfflineCopy``
row) in both files. The copy is an ordinary tiertui database: ``tiertui --db sqlite:///FILE``
works on it, its ``app_user`` rows carrying the same roles as the team's.

:func:`sync` replays, in one transaction, the override work done in the copy since it was taken
(requests, edits, approvals and rejections, read from the copy's audit log and its override rows)
into the team database:

* an override requested offline becomes a new request (a new id; requester, time, reason and
  dates kept), and any edit or decision made on it offline follows it;
* a change offline to an override that existed when the copy was taken lands only if the team's
  row is still pending and unchanged since then; otherwise it is a conflict: reported, never
  written over the team's decision or edit;
* roles and the four-eyes rule are checked in the team database for the person who acted
  offline; what they may not do there is reported as refused;
* an approval updates the partner's effective tiers, as an approval online does;
* everything else done offline (imports, levelling, programs, scenarios, people) is not synced,
  and the report says so.

A copy is synced at most once: the team's ``OfflineCopy`` row is marked synced in the same
transaction. A file is recognised as a copy by its SQLite ``application_id`` (:data:`MARKER`) and
matched to its team database by the copy's id.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Table, TypeDecorator, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from ..storage.database import DatabaseError, is_sqlite, open_engine, redact
from ..storage.tables import AuditEntry, OfflineCopy, Override, Partner, utcnow
from . import audit, roles
from .errors import ServiceError
from .levelling import refresh_effective
from .programs import active_program

Progress = Callable[[float, str], None]

MARKER = 0x54544F43  # PRAGMA application_id of an offline copy: "TTOC"
CHUNK = 20_000  # rows per executemany when streaming from another backend
SQLITE_HEADER = b"SQLite format 3\x00"

DECISIONS = {"override.approve": "approved", "override.reject": "rejected"}
OVERRIDE_ACTIONS = ("override.request", "override.edit", *DECISIONS)

# What the report calls changes that are not synced (others: the action with its dot as a space).
IGNORED_LABELS = {
    "level.run": "level",
    "program.activate": "load program",
    "import.partners": "import partners",
    "import.metrics": "import metrics",
    "import.certifications": "import certifications",
    "scenario.save": "save scenario",
    "scenario.activate": "activate scenario",
    "scenario.delete": "delete scenario",
    "user.add": "add user",
    "user.set_role": "change role",
    "user.remove": "remove user",
    "demo.build": "build demo",
    "offline.copy": "take offline copy",
    "offline.sync": "sync offline copy",
}


def _quiet(_fraction: float, _message: str) -> None:
    pass


# ------------------------------------------------------------------------------ small helpers


def copy_file_path(target: str | os.PathLike) -> Path:
    """The file a ``--to``/sync argument names: a path, or a ``sqlite:///`` URL of one."""
    text = os.fspath(target)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite:///").split("?", 1)[0]
    if not text.strip():
        raise ServiceError("give the offline copy's file name")
    return Path(text).expanduser().absolute()


def _sqlite_file(engine: Engine) -> Path | None:
    """The file behind a SQLite engine (None: another backend, memory or a URI database)."""
    if not is_sqlite(engine):
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def _same_file(a: Path | None, b: Path) -> bool:
    if a is None:
        return False
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _aware(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite keeps them naive, in UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _when(value: datetime | None) -> str:
    value = _aware(value)
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "an unknown time"


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ------------------------------------------------------------------------------ taking a copy


@dataclass(frozen=True)
class CopyReport:
    path: Path
    copy_id: str
    source: str
    copied_by: str
    copied_at: datetime
    rows: dict[str, int]  # table -> rows copied
    seconds: float

    def text(self) -> str:
        total = sum(self.rows.values())
        shown = ", ".join(
            f"{self.rows.get(table, 0):,} {label}"
            for table, label in (
                ("partner", "partners"),
                ("metric_value", "metric values"),
                ("certification", "certifications"),
                ("tier_override", "overrides"),
                ("level_result", "results"),
                ("app_user", "users"),
            )
        )
        return (
            f"Offline copy {self.copy_id} of {self.source} written to {self.path}\n"
            f"  {total:,} rows ({shown}) in {self.seconds:.1f} s\n"
            f"Work offline with:   tiertui --db sqlite:///{self.path}\n"
            f"Bring it back with:  tiertui offline sync {self.path}  (override requests and decisions only; "
            f"once)"
        )


def take_copy(
    engine: Engine,
    user: str,
    target_path: str | os.PathLike,
    progress: Progress | None = None,
    *,
    replace: bool = False,
) -> CopyReport:
    """Write a SQLite copy of the database behind ``engine`` to ``target_path``; needs the viewer role.

    An existing file is refused unless ``replace``. The copy is written under a temporary name
    next to the target and renamed when complete, so the target never holds half a copy.
    """
    progress = progress or _quiet
    started = time.perf_counter()
    path = copy_file_path(target_path)
    source_url = redact(engine.url.render_as_string(hide_password=False))
    roles.check(engine, user, "viewer", "taking an offline copy")
    if _same_file(_sqlite_file(engine), path):
        raise ServiceError(f"{path} is the database being copied: choose another file")
    if path.is_dir():
        raise ServiceError(f"{path} is a folder: give a file name for the copy")
    if path.exists() and not replace:
        raise ServiceError(f"{path} already exists: choose another file, or replace it (--replace)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as for any --db file
    except OSError as exc:
        raise ServiceError(f"cannot make the folder {path.parent}: {exc.strerror or exc}") from None
    _require_head(engine)
    copy_id = secrets.token_hex(8)
    partial = path.with_name(f".{path.name}.partial-{copy_id}")
    source_file = _sqlite_file(engine)
    try:
        if source_file is not None:  # SQLite: the backup API copies the pages of one snapshot
            rows = _copy_backup(source_file, partial, progress)
        else:  # another backend: a new file with the newest schema, then the rows
            _open_partial(partial, path).dispose()
            rows = _copy_streamed(engine, partial, _tables(), progress)
        target = _open_partial(partial, path)
        try:
            progress(0.97, "recording the copy")
            with Session(target) as session, session.begin():
                record = OfflineCopy(
                    id=copy_id,
                    source=source_url,
                    copied_by=user,
                    last_override_id=session.exec(select(func.max(Override.id))).one() or 0,
                    last_audit_id=session.exec(select(func.max(AuditEntry.id))).one() or 0,
                )
                session.add(record)
                session.flush()
                values = record.model_dump()
        finally:
            target.dispose()
        _seal(partial)
        with Session(engine) as session, session.begin():
            session.add(OfflineCopy(**values))
            audit.record(
                session,
                user,
                "offline.copy",
                "offline_copy",
                copy_id,
                file=str(path),
                last_override_id=values["last_override_id"],
                last_audit_id=values["last_audit_id"],
                rows=sum(rows.values()),
            )
        _put_in_place(partial, path, replace)
    except BaseException:
        _remove(partial)
        raise
    progress(1.0, "done")
    return CopyReport(path, copy_id, source_url, user, _aware(values["copied_at"]), rows, time.perf_counter() - started)


def _put_in_place(partial: Path, path: Path, replace: bool) -> None:
    """Rename the finished copy to its name; without ``replace``, never over a file made meanwhile."""
    if replace:
        for suffix in ("-wal", "-shm", "-journal"):  # an old copy's journal must not meet the new file
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.replace(partial, path)
        return
    try:
        os.link(partial, path)  # fails if the name was taken meanwhile
    except FileExistsError:
        raise ServiceError(f"{path} already exists: choose another file, or replace it (--replace)") from None
    except OSError:  # no hard links on this file system
        if path.exists():
            raise ServiceError(f"{path} already exists: choose another file, or replace it (--replace)") from None
        os.replace(partial, path)
        return
    partial.unlink()


def _tables() -> list[Table]:
    """Every table to copy, parents before children; ``offline_copy`` describes the team's own copies."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name != OfflineCopy.__tablename__]


def _require_head(engine: Engine) -> None:
    from ..storage import schema

    current = schema.current_revision(engine)  # one query; Alembic itself is not loaded
    if current != schema.HEAD:
        raise ServiceError(
            f"the database has schema revision {current}, not this tiertui's {schema.HEAD}: "
            "run `tiertui db upgrade` before taking an offline copy"
        )


def _open_partial(partial: Path, path: Path) -> Engine:
    try:
        return open_engine(f"sqlite:///{partial}")
    except DatabaseError as exc:
        raise ServiceError(f"cannot write the copy to {path}: {exc}") from None


def _copy_backup(source_file: Path, target_file: Path, progress: Progress) -> dict[str, int]:
    """SQLite to SQLite: the backup API, one read transaction of the team file (its writers go on).

    The team's schema is the newest (checked first), so the copy's is too. The team's own record
    of the copies taken of it is left out, as on other backends.
    """
    progress(0.0, "copying the database file")
    source = sqlite3.connect(f"{source_file.as_uri()}?mode=ro", uri=True, timeout=30)  # never writes the team file
    try:
        target = sqlite3.connect(target_file, isolation_level=None)
        try:
            source.backup(target)  # one step: a concurrent writer cannot make it start over
            target.execute("PRAGMA journal_mode=DELETE")
            target.execute(f'DELETE FROM "{OfflineCopy.__tablename__}"')
            progress(0.9, "counting rows")
            return {t.name: target.execute(f'SELECT COUNT(*) FROM "{t.name}"').fetchone()[0] for t in _tables()}
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise ServiceError(f"cannot copy {source_file} to {target_file.name}: {exc}") from None
    finally:
        source.close()


def _copy_streamed(source: Engine, target_file: Path, tables: list[Table], progress: Progress) -> dict[str, int]:
    """Another backend to SQLite: each table read in key order and inserted in chunks; one transaction each side.

    PostgreSQL reads in one REPEATABLE READ transaction, so every table is of the same moment, through
    a server-side cursor (a few chunks in memory at a time), and hands dates, times and booleans
    over already in the form tiertui stores them in SQLite (:func:`_as_sqlite`): rows go from one
    driver to the other as plain tuples. (A SQLite source not in a file has them in that form.)
    A thread reads the next chunk while this one is written; the copy's secondary indexes are
    dropped for the load and built once at the end.
    """
    postgres = source.dialect.name == "postgresql"
    src = source.connect()
    if postgres:
        src = src.execution_options(isolation_level="REPEATABLE READ")
    dst = sqlite3.connect(target_file, isolation_level=None)
    try:
        dst.execute("PRAGMA journal_mode=MEMORY")  # a temporary file until the rename: no journal on disk
        dst.execute("PRAGMA synchronous=OFF")  # fsynced once, before the rename
        dst.execute("PRAGMA cache_size=-131072")
        dst.execute("PRAGMA temp_store=MEMORY")
        with src.begin():
            if postgres:
                src.exec_driver_sql("SET TRANSACTION READ ONLY")
            counts = {t.name: src.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
            total, done = max(sum(counts.values()), 1), 0
            rows = {}
            dst.execute("BEGIN")
            indexes = dst.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).fetchall()
            for name, _sql in indexes:
                dst.execute(f'DROP INDEX "{name}"')
            raw = src.connection.dbapi_connection
            for table in tables:
                progress(0.95 * done / total, f"copying {table.name}")
                names = ", ".join(f'"{c.name}"' for c in table.columns)
                values = ", ".join(_as_sqlite(c) if postgres else f'"{c.name}"' for c in table.columns)
                order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
                insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(table.columns))})'
                cursor = raw.cursor(name=f"tiertui_copy_{table.name}") if postgres else raw.cursor()
                try:
                    cursor.execute(f'SELECT {values} FROM "{table.name}" ORDER BY {order}')
                    rows[table.name] = 0
                    with closing(_read_ahead(cursor)) as batches:  # the reader stops before the cursor closes
                        for batch in batches:
                            dst.executemany(insert, batch)
                            rows[table.name] += len(batch)
                            done += len(batch)
                            progress(0.95 * done / total, f"copying {table.name}")
                finally:
                    cursor.close()
            progress(0.95, "indexing the copy")
            for _name, sql in indexes:
                dst.execute(sql)
            dst.execute("COMMIT")
            return rows
    finally:
        dst.close()
        src.close()


def _read_ahead(cursor, depth: int = 3) -> Iterator[list]:
    """The cursor's rows in chunks, the next ones fetched by a thread while the caller works on this one."""
    chunks: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(CHUNK)
                if not batch:
                    break
                if not put(batch):
                    return
            put(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            put(exc)

    reader = threading.Thread(target=read, name="tiertui-copy-reader", daemon=True)
    reader.start()
    try:
        while (item := chunks.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _as_sqlite(column) -> str:
    """A PostgreSQL select expression giving ``column`` as tiertui's SQLite storage holds it.

    Times (all stored with a zone) as UTC text with microseconds, dates as ISO text, booleans as
    0/1: what SQLAlchemy writes to SQLite for these column types.
    """
    name = f'"{column.name}"'
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type  # SQLModel's UTCDateTime
    if isinstance(kind, DateTime):  # timestamptz in PostgreSQL
        return f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    if isinstance(kind, Date):
        return f"to_char({name}, 'YYYY-MM-DD')"
    if isinstance(kind, Boolean):
        return f"{name}::int"
    return name


def _seal(path: Path) -> None:
    """Mark the file as an offline copy, make it one self-contained file, and flush it to disk."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA application_id={MARKER}")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


# ------------------------------------------------------------------------------ syncing


@dataclass
class SyncReport:
    copy_id: str
    file: Path
    source: str
    copied_by: str
    copied_at: datetime | None
    synced_by: str
    synced_at: datetime | None = None
    applied: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # one label per change not synced

    @property
    def complete(self) -> bool:
        """True when every override change made offline was applied."""
        return not self.conflicts and not self.refused

    def text(self) -> str:
        taken = f"taken by {self.copied_by} at {_when(self.copied_at)}"
        lines = [f"Synced offline copy {self.copy_id} ({self.file}), {taken}."]
        if not (self.applied or self.conflicts or self.refused):
            lines.append("No override requests or decisions were made offline: nothing to apply.")
        for title, items in (
            ("Applied", self.applied),
            ("Conflicts, not applied", self.conflicts),
            ("Refused, not applied", self.refused),
        ):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines.extend(f"  {item}" for item in items)
        if self.ignored:
            counted = Counter(self.ignored)
            names = ", ".join(label if n == 1 else f"{label} ({n} times)" for label, n in counted.items())
            n = len(self.ignored)
            lines.append(
                f"{n} other change{'s' if n != 1 else ''} made offline {'were' if n != 1 else 'was'} "
                f"not synced: {names} (only override requests and decisions are synced)."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Event:
    """One override change made offline, from the copy's audit log."""

    audit_id: int
    at: datetime
    actor: str
    action: str
    override_id: int  # the copy's id
    detail: dict


@dataclass(frozen=True)
class _Content:
    tier: str
    reason: str
    starts_on: date | None
    expires_on: date | None

    def describe(self) -> str:
        until = f" to {self.expires_on}" if self.expires_on else ", open-ended"
        return f"{self.tier} from {self.starts_on}{until}"


@dataclass(frozen=True)
class _CopyRow:
    """An override as the copy holds it now, with its partner's id."""

    id: int
    partner_id: str
    content: _Content
    status: str
    requested_by: str
    requested_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str


@dataclass
class _Offline:
    """What was read from the copy file."""

    identities: list[dict]
    entries: list[tuple[int, str]]  # (audit id, action) of every audit entry that may be the copy's own
    events: list[_Event]
    overrides: dict[int, _CopyRow]


@dataclass
class _Track:
    """One override of the copy, as the replay goes."""

    copy_id: int
    partner_id: str
    new: bool
    team_id: int | None = None
    expected: _Content | None = None  # what the team row holds when it is as the offline work left it
    stop: str | None = None  # why the later changes of this override are not applied
    checked: bool = False  # the team row was compared with the copy's
    conflicted: bool = False  # a conflict was reported: its line names all the offline changes


class _Skip(Exception):
    """A change that is not applied; ``kind`` says which list of the report names it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def sync(engine: Engine, user: str, copy_path: str | os.PathLike) -> SyncReport:
    """Bring the override work done in the copy at ``copy_path`` into the team database behind ``engine``.

    One transaction: every change that can land does, or (on an error) nothing does. Conflicts and
    refusals are reported in the returned report, never forced. Needs the viewer role; each change
    is checked against the role of the person who made it offline.
    """
    path = copy_file_path(copy_path)
    if _same_file(_sqlite_file(engine), path):
        raise ServiceError(f"{path} is the database you are syncing into, not an offline copy of it")
    offline = _read_copy(path)
    program = active_program(engine) if offline.events else None
    with Session(engine) as session, session.begin():
        if is_sqlite(engine):
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")  # the write lock from the first read
        roles.require(session, user, "viewer", "syncing an offline copy")
        team = _team_record(session, engine, path, offline)
        replayed = {e.audit_id for e in offline.events}
        report = SyncReport(
            team.id,
            path,
            team.source,
            team.copied_by,
            team.copied_at,
            user,
            ignored=[_label(a) for i, a in offline.entries if i not in replayed],
        )
        replay = _Replay(session, user, team, offline, program, report)
        for event in offline.events:
            replay.apply(event)
        now = utcnow()
        _mark_synced(session, team, user, now)
        report.synced_at = now
        audit.record(
            session,
            user,
            "offline.sync",
            "offline_copy",
            team.id,
            file=str(path),
            applied=report.applied,
            conflicts=report.conflicts,
            refused=report.refused,
            ignored=report.ignored,
        )
    return report


def _read_copy(path: Path) -> _Offline:
    """The copy's identity and its changes since it was taken; refuses a file that is not a copy."""
    if not path.exists():
        raise ServiceError(f"no file {path}")
    if path.is_dir():
        raise ServiceError(f"{path} is a folder, not an offline copy")
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    not_a_copy = f"{path} is not an offline copy of a tiertui database (make one with: tiertui offline copy --to FILE)"
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise ServiceError(not_a_copy)
    if int.from_bytes(header[68:72], "big") != MARKER:
        raise ServiceError(not_a_copy)
    from ..storage import schema

    try:
        copy = open_engine(f"sqlite:///{path}", create=False)
    except DatabaseError as exc:
        raise ServiceError(f"cannot open {path}: {exc}") from None
    try:
        current = schema.current_revision(copy)
        if current != schema.HEAD:
            raise ServiceError(
                f"the offline copy {path} has schema revision {current}, this tiertui {schema.HEAD}: "
                f"sync it with the tiertui version that took it (or run `tiertui db upgrade --db sqlite:///{path}`)"
            )
        with Session(copy) as session:
            identities = [r.model_dump() for r in session.exec(select(OfflineCopy).order_by(OfflineCopy.copied_at))]
            if not identities:
                raise ServiceError(not_a_copy)
            since = min(r["last_audit_id"] for r in identities)
            entries = session.exec(select(AuditEntry).where(AuditEntry.id > since).order_by(AuditEntry.id)).all()
            # the copy's own changes begin after its own last_audit_id (resolved against the team later)
            entries = [e.model_dump() for e in entries]
            rows = session.exec(
                select(Override, Partner.partner_id).join(Partner, Partner.key == Override.partner_key)
            ).all()
            overrides = {
                o.id: _CopyRow(
                    o.id,
                    pid,
                    _Content(o.tier, o.reason, o.starts_on, o.expires_on),
                    o.status,
                    o.requested_by,
                    o.requested_at,
                    o.decided_by,
                    o.decided_at,
                    o.note,
                )
                for o, pid in rows
            }
    finally:
        copy.dispose()
    return _Offline(identities, [(e["id"], e["action"]) for e in entries], _events_of(entries), overrides)


def _events_of(entries: list[dict]) -> list[_Event]:
    """The override changes among audit entries (raw; filtered by the copy's identity later)."""
    events = []
    for e in entries:
        if e["action"] not in OVERRIDE_ACTIONS or e["entity"] != "override":
            continue
        try:
            override_id = int(e["entity_id"])
            detail = json.loads(e["detail"] or "{}")
        except (TypeError, ValueError):
            continue
        events.append(
            _Event(e["id"], e["at"], e["actor"], e["action"], override_id, detail if isinstance(detail, dict) else {})
        )
    return events


def _team_record(session: Session, engine: Engine, path: Path, offline: _Offline) -> OfflineCopy:
    """The team database's record of this copy, locked; refuses a copy of another database, or one synced."""
    ids = [r["id"] for r in offline.identities]
    found = session.exec(select(OfflineCopy).where(OfflineCopy.id.in_(ids)).with_for_update()).all()
    if not found:
        sources = sorted({r["source"] for r in offline.identities})
        raise ServiceError(
            f"{path} is an offline copy of {', '.join(sources)}, not of this database "
            f"({redact(engine.url.render_as_string(hide_password=False))}): sync it into the database it was "
            f"taken from"
        )
    team = found[0]
    mine = next(r for r in offline.identities if r["id"] == team.id)
    if (mine["last_override_id"], mine["last_audit_id"]) != (team.last_override_id, team.last_audit_id):
        raise ServiceError(
            f"{path} does not match this database's record of offline copy {team.id}: "
            "it was altered; it cannot be synced"
        )
    if team.synced_at is not None:
        raise ServiceError(
            f"offline copy {team.id} ({path}) was already synced at {_when(team.synced_at)} by {team.synced_by}: "
            "a copy is synced once; take a new copy for new offline work"
        )
    # only this copy's own changes: those after its last audit id
    since = team.last_audit_id
    offline.events = [e for e in offline.events if e.audit_id > since]
    offline.entries = [(i, action) for i, action in offline.entries if i > since]
    return team


def _mark_synced(session: Session, team: OfflineCopy, user: str, now: datetime) -> None:
    changed = session.exec(
        update(OfflineCopy)
        .where(OfflineCopy.id == team.id, OfflineCopy.synced_at.is_(None))
        .values(synced_at=now, synced_by=user)
    ).rowcount
    if changed != 1:
        raise ServiceError(f"offline copy {team.id} was synced meanwhile by someone else: nothing applied")


class _Replay:
    """Applies the offline changes one by one, in the order they were made, to the team database."""

    def __init__(
        self, session: Session, user: str, team: OfflineCopy, offline: _Offline, program, report: SyncReport
    ) -> None:
        self.session = session
        self.user = user
        self.team = team
        self.offline = offline
        self.program = program
        self.report = report
        self.tracks: dict[int, _Track] = {}
        self.by_override: dict[int, list[_Event]] = {}
        for e in offline.events:
            self.by_override.setdefault(e.override_id, []).append(e)

    # -------------------------------------------------------------- one change

    def apply(self, event: _Event) -> None:
        track = self._track(event)
        who = f"{event.actor} {_verb(event.action)} it offline at {_when(event.at)}"
        if track.conflicted:
            return  # the conflict's line already tells every offline change of this override
        if track.stop is not None:
            self._say("refused", track, f"{who} — not applied: {track.stop}")
            return
        try:
            if event.action == "override.request":
                self._request(track, event)
            elif event.action == "override.edit":
                self._check_unchanged(track, event)
                self._edit(track, event)
            else:
                self._check_unchanged(track, event)
                self._decide(track, event)
        except _Skip as skip:
            if skip.kind == "conflicts":
                track.conflicted = True
                self._say("conflicts", track, f"{self._offline_story(track, event)}; {skip} — not applied")
            else:
                track.stop = "an earlier change of it offline was not applied"
                self._say("refused", track, f"{who} — not applied: {skip}")

    def _track(self, event: _Event) -> _Track:
        track = self.tracks.get(event.override_id)
        if track is not None:
            return track
        new = event.override_id > self.team.last_override_id
        row = self.offline.overrides.get(event.override_id)
        track = _Track(event.override_id, row.partner_id if row else "an unknown partner", new)
        if not new:
            track.team_id = event.override_id
        if row is None:  # the app never deletes overrides: the file was altered
            track.stop = "the copy does not hold this override"
        self.tracks[event.override_id] = track
        return track

    def _say(self, kind: str, track: _Track, text: str) -> None:
        getattr(self.report, kind).append(f"{self._name(track)}: {text}")

    def _name(self, track: _Track) -> str:
        if track.new and track.team_id is None:
            return f"offline override {track.copy_id} for {track.partner_id}"
        if track.new:
            return f"override {track.team_id} for {track.partner_id} (no. {track.copy_id} in the copy)"
        return f"override {track.team_id} for {track.partner_id}"

    def _offline_story(self, track: _Track, first: _Event) -> str:
        """What was done offline to the override, from ``first`` on (none of it is applied)."""
        events = [e for e in self.by_override.get(track.copy_id, []) if e.audit_id >= first.audit_id]
        return " and ".join(f"{e.actor} {_verb(e.action)} it offline at {_when(e.at)}" for e in events)

    def _offline_detail(self, event: _Event, track: _Track) -> dict[str, Any]:
        detail = {"offline_copy": self.team.id, "offline_at": _aware(event.at), "synced_by": self.user}
        if track.new:
            detail["offline_override_id"] = track.copy_id
        return detail

    def _role(self, actor: str, role: str, doing: str) -> None:
        try:
            roles.require(self.session, actor, role, doing)
        except roles.RoleRefused as exc:
            raise _Skip("refused", str(exc)) from None

    def _validate(self, content: _Content) -> None:
        problems = []
        if content.tier not in self.program.tiers:
            problems.append(f"the team database's program has no tier {content.tier!r}")
        if not content.reason.strip() or "\x00" in content.reason:
            problems.append("it has no usable reason")
        if content.starts_on is None:
            problems.append("it has no start date")
        elif content.expires_on and content.expires_on < content.starts_on:
            problems.append(f"expiry {content.expires_on} is before the start {content.starts_on}")
        if problems:
            raise _Skip("refused", "; ".join(problems))

    # -------------------------------------------------------------- the kinds of change

    def _request(self, track: _Track, event: _Event) -> None:
        if not track.new or track.team_id is not None:
            raise _Skip("refused", "the copy's record of this request is inconsistent")
        row = self.offline.overrides[track.copy_id]
        content = _content(event.detail, row.content)
        self._role(event.actor, "manager", "requesting overrides")
        self._validate(content)
        key = self.session.exec(select(Partner.key).where(Partner.partner_id == track.partner_id)).first()
        if key is None:
            raise _Skip(
                "refused",
                f"partner {track.partner_id} is not in the team database (imports made offline are not synced)",
            )
        requested_at = _aware(row.requested_at) or _aware(event.at)
        new = Override(
            partner_key=key,
            tier=content.tier,
            reason=content.reason.strip(),
            starts_on=content.starts_on,
            expires_on=content.expires_on,
            requested_by=event.actor,
            requested_at=requested_at,
        )
        self.session.add(new)
        self.session.flush()
        track.team_id, track.expected, track.checked = new.id, content, True
        audit.record(
            self.session,
            event.actor,
            "override.request",
            "override",
            new.id,
            partner_id=track.partner_id,
            tier=content.tier,
            reason=content.reason.strip(),
            starts_on=content.starts_on,
            expires_on=content.expires_on,
            **self._offline_detail(event, track),
        )
        self._say(
            "applied",
            track,
            f"requested offline by {event.actor} at {_when(event.at)} ({content.describe()}): now pending",
        )

    def _check_unchanged(self, track: _Track, event: _Event) -> None:
        """An override that existed when the copy was taken: is the team's row as the copy found it?"""
        if track.checked:
            return
        track.checked = True
        if track.new:
            raise _Skip("refused", "the request it belongs to was not synced")
        at_copy = self._content_at_copy(track)
        team_row = self.session.get(Override, track.team_id)
        if team_row is None:
            raise _Skip("conflicts", "the team database no longer has it")
        if team_row.status != "pending":
            raise _Skip(
                "conflicts",
                f"it was already {team_row.status} by {team_row.decided_by} at {_when(team_row.decided_at)}",
            )
        edits = self.session.exec(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "override",
                AuditEntry.entity_id == str(track.team_id),
                AuditEntry.id > self.team.last_audit_id,
                AuditEntry.action.in_(OVERRIDE_ACTIONS),
            )
            .order_by(AuditEntry.id)
        ).all()
        if edits or _row_content(team_row) != at_copy:
            last = edits[-1] if edits else None
            by = f" by {last.actor} at {_when(last.at)}" if last else ""
            raise _Skip(
                "conflicts",
                f"it was edited{by} in the team database meanwhile (now {_row_content(team_row).describe()})",
            )
        track.expected = at_copy

    def _content_at_copy(self, track: _Track) -> _Content:
        """The request's content when the copy was taken: before its first offline edit, else as it is."""
        for e in self.by_override.get(track.copy_id, []):
            if e.action == "override.edit":
                before = e.detail.get("before")
                if isinstance(before, dict):
                    return _content(before, self.offline.overrides[track.copy_id].content)
        return self.offline.overrides[track.copy_id].content

    def _edit(self, track: _Track, event: _Event) -> None:
        self._role(event.actor, "manager", "editing overrides")
        team_row = self.session.get(Override, track.team_id)
        if team_row.requested_by != event.actor:
            raise _Skip("refused", f"it was requested by {team_row.requested_by}; only they can edit it")
        after = event.detail.get("after")
        if not isinstance(after, dict):
            raise _Skip("refused", "the copy's record of this edit is unreadable")
        content = _content(after, track.expected)
        self._validate(content)
        before = track.expected
        self._conditional(track, _as_dict(content))
        track.expected = content
        audit.record(
            self.session,
            event.actor,
            "override.edit",
            "override",
            track.team_id,
            partner_id=track.partner_id,
            before=_as_dict(before),
            after=_as_dict(content),
            **self._offline_detail(event, track),
        )
        self._say("applied", track, f"edited offline by {event.actor} at {_when(event.at)}: now {content.describe()}")

    def _decide(self, track: _Track, event: _Event) -> None:
        approve = event.action == "override.approve"
        status = DECISIONS[event.action]
        self._role(event.actor, "approver", f"{'approving' if approve else 'rejecting'} overrides")
        team_row = self.session.get(Override, track.team_id)
        if team_row.requested_by == event.actor:
            raise _Skip(
                "refused",
                f"{event.actor} requested it, and someone else must "
                f"{'approve' if approve else 'reject'} it (four-eyes rule)",
            )
        row = self.offline.overrides[track.copy_id]
        after = event.detail.get("after") if isinstance(event.detail.get("after"), dict) else {}
        note = str(after.get("note", row.note if row.status == status else "") or "").strip()
        decided_at = (
            _aware(row.decided_at) if row.status == status and row.decided_by == event.actor else None
        ) or _aware(event.at)
        self._conditional(track, {"status": status, "decided_by": event.actor, "decided_at": decided_at, "note": note})
        audit.record(
            self.session,
            event.actor,
            event.action,
            "override",
            track.team_id,
            partner_id=track.partner_id,
            tier=track.expected.tier,
            before={"status": "pending"},
            after={"status": status, "note": note},
            **self._offline_detail(event, track),
        )
        if approve:
            refresh_effective(self.session, team_row.partner_key, self.program)
        track.stop = f"it was already {status} offline"
        self._say("applied", track, f"{status} offline by {event.actor} at {_when(event.at)}")

    def _conditional(self, track: _Track, values: dict) -> None:
        """Update the team row only while it is pending and holds what the offline work expects."""
        expected = track.expected
        clauses = [
            Override.id == track.team_id,
            Override.status == "pending",
            Override.tier == expected.tier,
            Override.reason == expected.reason.strip(),
            Override.starts_on == expected.starts_on,
            Override.expires_on.is_(None)
            if expected.expires_on is None
            else Override.expires_on == expected.expires_on,
        ]
        changed = self.session.exec(update(Override).where(*clauses).values(**values)).rowcount
        if changed != 1:  # changed by someone else since it was read (PostgreSQL: a concurrent writer)
            self.session.expire_all()
            latest = self.session.get(Override, track.team_id)
            if latest.status != "pending":
                raise _Skip(
                    "conflicts", f"it was already {latest.status} by {latest.decided_by} at {_when(latest.decided_at)}"
                )
            raise _Skip("conflicts", "it was edited in the team database meanwhile")
        self.session.expire_all()


def _label(action: str) -> str:
    return IGNORED_LABELS.get(action, action.replace(".", " ").replace("_", " "))


def _verb(action: str) -> str:
    return {
        "override.request": "requested",
        "override.edit": "edited",
        "override.approve": "approved",
        "override.reject": "rejected",
    }.get(action, action)


def _parse_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _content(values: dict, fallback: _Content) -> _Content:
    """Request content from an audit entry's detail, each missing field taken from ``fallback``."""
    try:
        return _Content(
            tier=str(values.get("tier", fallback.tier)),
            reason=str(values.get("reason", fallback.reason)),
            starts_on=_parse_date(values["starts_on"]) if "starts_on" in values else fallback.starts_on,
            expires_on=_parse_date(values["expires_on"]) if "expires_on" in values else fallback.expires_on,
        )
    except ValueError:
        raise _Skip("refused", "the copy's record of it has an unreadable date") from None


def _row_content(row: Override) -> _Content:
    return _Content(row.tier, row.reason, row.starts_on, row.expires_on)


def _as_dict(content: _Content) -> dict:
    return {
        "tier": content.tier,
        "reason": content.reason.strip(),
        "starts_on": content.starts_on,
        "expires_on": content.expires_on,
    }
