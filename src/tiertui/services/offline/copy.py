"""Taking an offline copy: every row of the team database in a new SQLite file."""

from __future__ import annotations

import os
import queue
import secrets
import shlex
import sqlite3
import threading
import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Boolean, Date, DateTime, Table, TypeDecorator, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from ...storage.database import DatabaseError, open_engine, redact
from ...storage.tables import AuditEntry, OfflineCopy, Override
from .. import audit, roles
from ..errors import ServiceError
from .common import CHUNK, MARKER, Progress, _aware, _quiet, _remove, _same_file, _sqlite_file, copy_file_path


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
            f"Work offline with:   tiertui --db {shlex.quote(f'sqlite:///{self.path}')} --user {shlex.quote(self.copied_by)}\n"
            f"Bring it back with:  tiertui offline sync {shlex.quote(str(self.path))}  (override requests and "
            f"decisions, and call notes, by {self.copied_by}, who holds the copy, only; once)"
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
    with Session(engine) as session:
        login = roles.connected_login(session)
    holder_login = login.name if login is not None else None
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
                    holder_login=holder_login,
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
    copied_at = _aware(values["copied_at"])
    assert copied_at is not None  # the column has a default
    return CopyReport(path, copy_id, source_url, user, copied_at, rows, time.perf_counter() - started)


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
    from ...storage import schema

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
            assert raw is not None  # src is open
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


def _read_ahead(cursor, depth: int = 3) -> Generator[list, None, None]:
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
