"""Where the database is, and how to open it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import create_engine

from . import tables  # noqa: F401  (registers the tables)

ENV_URL = "TIERTUI_DATABASE_URL"


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message is for a person."""


def default_url() -> str:
    folder = Path(platformdirs.user_data_dir("tiertui", appauthor=False))
    return f"sqlite:///{folder / 'tiertui.db'}"


def resolve_url(url: str | None = None) -> str:
    """``--db`` first, then ``TIERTUI_DATABASE_URL``, then the file in the user data dir."""
    return url or os.environ.get(ENV_URL) or default_url()


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_engine(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url``, with the schema created when ``create`` is true."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {redact(url)!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        from . import schema

        try:
            schema.ensure(engine)  # a new database gets the schema; an older one raises SchemaOutdated
        except DatabaseError:
            engine.dispose()
            raise
        except Exception as exc:  # noqa: BLE001 - turned into a message for a person
            engine.dispose()
            raise DatabaseError(f"cannot open {redact(url)}: {exc.__class__.__name__}: {_first_line(exc)}") from None
    return engine


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0]) if text else ""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # up to 64 MiB of pages: bulk writes spill less
    cursor.execute("PRAGMA temp_store=MEMORY")  # index builds sort in memory
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
