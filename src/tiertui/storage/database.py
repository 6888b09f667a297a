"""Where the database is, and how to open it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import create_engine

from ..locations import ENV_URL, default_url, resolve_url  # noqa: F401  (re-exported)
from . import tables  # noqa: F401  (registers the tables)


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message is for a person."""


# scheme://user:SECRET@...: everything from the first ":" after the user name to the LAST "@" on the
# line, so that a password holding an unencoded "@", ":" or "/" is hidden whole
_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][\w+.-]*://[^:/@?#\s]*):[^\n]*@")


# ?password=SECRET or &password=SECRET in a URL's query, and password=SECRET in a libpq connection
# string (psycopg echoes those); also sslpassword. A quoted value ('...') is hidden whole.
_QUERY_PASSWORD = re.compile(
    r"(?P<head>(?:^|[?&;\s])(?:ssl)?(?:password|passwd|pwd)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|[^&#\s]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` (a URL, or a message that holds URLs) with every URL's password hidden as ***,
    in its user part (``user:SECRET@``) and in its query string (``?password=SECRET``)."""
    text = _PASSWORD.sub(r"\g<head>:***@", text)
    return _QUERY_PASSWORD.sub(r"\g<head>***", text)


UNKNOWN_DATABASE = "unknown database"


def display_name(url: str | None = None) -> str:
    """A short name of the database at ``url`` for a status line; never any part of a password.

    A SQLite file: its name ("tiertui.db"); a memory database: "in memory"; a server:
    "user@host:port/database", with the parts the URL has. None: the database tiertui opens by
    default. Anything that is not a database URL: "unknown database".

    Whatever a URL's password holds (an unencoded ``@``, ``:``, ``/`` or ``?``), only the user
    name before it and the text after the last ``@`` are ever read for a server's name.
    """
    import re
    from urllib.parse import unquote

    text = resolve_url(url).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][\w+.-]*", scheme):
        return UNKNOWN_DATABASE
    if scheme.split("+", 1)[0].lower() == "sqlite":
        return _printable(_sqlite_name(text))
    user = ""
    head = re.match(r"[^:/@?]*", rest).group(0)
    if rest[len(head) : len(head) + 1] == ":" and "@" in rest:  # user:password@...: read past the last @
        user, rest = head, rest.rpartition("@")[2]
    try:
        parsed = make_url(f"{scheme}://{rest}")
    except Exception:  # noqa: BLE001 - ArgumentError, ValueError (a bad port), ...
        return UNKNOWN_DATABASE
    user = unquote(user) if user else (parsed.username or parsed.query.get("user") or "")
    host = parsed.host or parsed.query.get("host") or "localhost"
    if not isinstance(host, str):  # several hosts: ?host=a&host=b
        host = ",".join(host)
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if isinstance(user, tuple):
        user = user[0]
    name = (f"{user}@" if user else "") + host + (f":{parsed.port}" if parsed.port else "")
    return _printable(name + (f"/{parsed.database}" if parsed.database else ""))


def _sqlite_name(url: str) -> str:
    from urllib.parse import unquote

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        return UNKNOWN_DATABASE
    database = parsed.database or ""
    if database.startswith("file:"):  # a SQLite URI filename (uri=true)
        database = unquote(database[len("file:") :].split("?", 1)[0])
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return "in memory"
    return Path(database).name or database


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text) or UNKNOWN_DATABASE


def open_engine(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine for ``url``, with the schema created when ``create`` is true."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number (maybe a password)
        scheme = url.partition("://")[0] if "://" in url else ""
        raise DatabaseError(
            "not a database URL"
            + (f" ({scheme}://…)" if scheme else "")
            + ": use sqlite:///PATH or dialect+driver://user:password@host:port/database"
        ) from None
    if parsed.get_backend_name() != "sqlite" and url.partition("://")[2].count("@") > 1:
        # user:p@ss@host: the driver would take "ss@host" for the host and echo it in its errors
        raise DatabaseError("the database URL has more than one @: write an @ in a user name or password as %40")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        read_only = parsed.query.get("mode") == "ro"
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_read_only_pragmas if read_only else _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        from . import schema

        try:
            _ensure(engine, schema.ensure)  # a new database gets the schema; an older one raises SchemaOutdated
        except DatabaseError:
            engine.dispose()
            raise
        except Exception as exc:  # noqa: BLE001 - turned into a message for a person
            engine.dispose()
            raise DatabaseError(f"cannot open {redact(url)}: {exc.__class__.__name__}: {_first_line(exc)}") from None
    return engine


def _ensure(engine: Engine, ensure) -> None:
    """``ensure`` (idempotent), tried again when SQLite says at once that the file is locked.

    Several processes creating one new file at the same moment: SQLite answers "database is locked"
    without waiting (no busy handler) when a connection's read must become a write after another
    wrote, or while a fresh file turns to WAL; the next try sees the schema the other one made.
    """
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(8):
        try:
            ensure(engine)
            return
        except OperationalError as exc:
            if not is_sqlite(engine) or "database is locked" not in str(exc) or attempt == 7:
                raise
            time.sleep(0.05 * (attempt + 1))


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


def _sqlite_read_only_pragmas(dbapi_connection, _record) -> None:
    """A database opened read-only (read-only media): nothing that would write the file or its journal."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
