"""The fast read path: a tiertui SQLite file read with the standard :mod:`sqlite3` module.

:class:`FastReader` implements :class:`tiertui.services.read.Reader` on a SQLite file at this
tiertui's schema revision without SQLAlchemy, SQLModel or numpy (about a second to import), so the
app draws its dashboard and partner list before they load; anywhere else (other backends, a new or
older file) :class:`tiertui.services.read.engine.EngineReader` reads the same through the engine.
Both run the statements of :mod:`.sql`, so they return the same values (tests compare them).

This module imports only the standard library and :mod:`.sql`: it is on the app's start-up path.
It lives in services rather than storage because importing anything under ``tiertui.storage`` loads
the SQLModel tables.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from . import sql as statements
from .sql import Dashboard, FilterChoices, PartnerQuery, PartnerRow, ProgramHeading

if TYPE_CHECKING:
    from ...scoring import Program

# tiertui.storage.schema.HEAD, which cannot be imported without SQLAlchemy; tests keep the two in step.
# A file at any other revision is read through the engine, which upgrades a new file or refuses an old one.
SCHEMA_REVISION = "0012"

_IDLE_CONNECTIONS = 4


def sqlite_file(url: str | None) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for anything else (another backend, a memory
    database, a URL with options or escapes): those are read through the engine."""
    if not url:
        return None
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            break
    else:
        return None
    if not path or path == ":memory:" or path.startswith(("file:", "~")) or any(c in path for c in "?%#"):
        return None
    return Path(path)


class FastReader:
    """Read-only access to a tiertui SQLite file with :mod:`sqlite3`; safe to use from any thread."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._uri = f"file:{quote(str(path.resolve()))}?mode=rw"  # never creates a file
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str | None) -> FastReader | None:
        """A reader for ``url`` if it is a SQLite file at this tiertui's schema revision, else None."""
        path = sqlite_file(url)
        if path is None or not path.is_file():
            return None
        reader = cls(path)
        try:
            current = reader.revision()
        except sqlite3.Error:
            current = None
        if current != SCHEMA_REVISION:
            reader.close()
            return None
        return reader

    # ------------------------------------------------------------------ connections

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=30000")
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

    def fetch(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._connection() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # ------------------------------------------------------------------ what the screens read

    def revision(self) -> str | None:
        rows = self.fetch("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        if not rows:
            return None
        rows = self.fetch("SELECT version_num FROM alembic_version")
        return rows[0][0] if rows else None

    def levelled_periods(self) -> list[str]:
        return statements.levelled_periods(self.fetch)

    def latest_period(self) -> str | None:
        periods = self.levelled_periods()
        return periods[-1] if periods else None

    def program(self) -> Program | None:
        """The active program (parsed once per version), or None when none is loaded."""
        row = self._active_program()
        if row is None:
            return None
        content, source_name, name, content_hash = row
        return statements.parsed_program(content_hash, content, source_name or name)

    def program_heading(self) -> ProgramHeading | None:
        """The active program's name and tiers, or None when none is loaded."""
        row = self._active_program()
        if row is None:
            return None
        heading = statements.program_heading(row[0])
        if heading is None:  # not as loading a program leaves it: whatever parsing the whole of it says
            program = self.program()
            if program is None:  # none is active any more
                return None
            heading = ProgramHeading(program.name, program.tiers)
        return heading

    def _active_program(self) -> tuple | None:
        rows = self.fetch(statements.ACTIVE_PROGRAM_SQL)
        return rows[0] if rows else None

    def partner_keys(self, q: PartnerQuery, tiers: Sequence[str] = (), limit: int | None = None) -> list[int]:
        """The keys of the partners matching ``q``; ``tiers``, lowest first, order a sort by tier."""
        period = q.period or self.latest_period() or ""
        return statements.partner_keys(self.fetch, self.dialect, q, period, tiers, limit)

    def partner_key_chunks(self, q: PartnerQuery, tiers: Sequence[str] = (), first: int = 100) -> Iterator[list[int]]:
        """:meth:`partner_keys` in two helpings: the first ``first`` keys as soon as the database has
        them (at once for the ID and name orders, which indexes give), then the rest."""
        period = q.period or self.latest_period() or ""
        sql, params = statements.partner_keys_sql(self.dialect, q, period, tiers)
        with self._connection() as conn:
            cursor = conn.execute(sql, params)
            try:
                yield [r[0] for r in cursor.fetchmany(first)]
                yield [r[0] for r in cursor.fetchall()]
            finally:
                cursor.close()

    def first_partner_keys(self, q: PartnerQuery, limit: int, within: float) -> tuple[str | None, list[int]] | None:
        """The latest period and the first ``limit`` keys of ``q`` (not sorted by tier), if the database
        gives them within ``within`` seconds (an index in the order asked: the ID or name order); else None.

        For a screen's first frame: a few milliseconds on the UI thread save a frame with no rows
        and a thread's round trip; a query that needs a sort is abandoned at once for a worker.
        """
        deadline = time.perf_counter() + within
        with self._connection() as conn:
            conn.set_progress_handler(lambda: time.perf_counter() > deadline, 200)
            try:
                labels = [r[0] for r in conn.execute(statements.PERIODS_SQL)]
                ordered = statements.ordered_without_parsing(labels)
                if ordered is None or q.sort == "tier":
                    return None
                period = q.period or (ordered[-1] if ordered else None) or ""
                sql, params = statements.partner_keys_sql(self.dialect, q, period)
                keys = [r[0] for r in conn.execute(f"{sql} LIMIT ?", [*params, int(limit)])]
            except sqlite3.OperationalError:  # interrupted: it takes longer (or it fails: a worker says so)
                return None
            finally:
                conn.set_progress_handler(None, 0)
        return (ordered[-1] if ordered else None), keys

    def partner_rows(self, keys: Sequence[int], period: str | None) -> list[PartnerRow]:
        return statements.partner_rows(self.fetch, keys, period)

    def partner_search_texts(self) -> dict[int, str]:
        return statements.search_texts(self.fetch)

    def partner_find_texts(self) -> dict[int, str]:
        return statements.find_texts(self.fetch)

    def filter_choices(self, *, tracks: bool = True) -> FilterChoices:
        heading = self.program_heading()
        regions, types, managers = statements.partner_choices(self.fetch)
        return FilterChoices(
            heading.tiers if heading else (),
            regions,
            types,
            managers,
            statements.certification_tracks(self.fetch) if tracks else (),
            statements.designation_names(self.fetch),
        )

    def dashboard(self, today: date) -> Dashboard:
        heading = self.program_heading()
        return statements.dashboard(
            self.fetch,
            self.dialect,
            heading.name if heading else None,
            heading.tiers if heading else (),
            self.latest_period(),
            today,
        )
