"""Constants and small helpers shared by taking a copy and syncing it."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from ...storage.database import is_sqlite
from ..errors import ServiceError

Progress = Callable[[float, str], None]


MARKER = 0x54544F43  # PRAGMA application_id of an offline copy: "TTOC"
CHUNK = 20_000  # rows per executemany when streaming from another backend
SQLITE_HEADER = b"SQLite format 3\x00"

DECISIONS = {"override.approve": "approved", "override.reject": "rejected"}
OVERRIDE_ACTIONS = ("override.request", "override.edit", *DECISIONS)

# What the report calls changes that are not synced (others: the action with its dot as a space).
IGNORED_LABELS = {
    "level.run": "level",
    "override.revoke": "revoke override (not synced: revoke it again in the team database)",
    "delete.metrics": "delete metrics",
    "delete.certifications": "delete certifications",
    "delete.partner": "delete partner",
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
