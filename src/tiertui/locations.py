"""Where tiertui's database is when no ``--db`` is given.

Standard library and platformdirs only: the command line resolves the URL with this before it
decides whether to load SQLAlchemy at all (opening the app on a current SQLite file never needs it
before the first screen). :mod:`tiertui.storage` re-exports these names.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import platformdirs

ENV_URL = "TIERTUI_DATABASE_URL"


def default_url() -> str:
    """The SQLite file in the user data dir (e.g. ``~/.local/share/tiertui/tiertui.db``)."""
    folder = Path(platformdirs.user_data_dir("tiertui", appauthor=False))
    return f"sqlite:///{folder / 'tiertui.db'}"


def resolve_url(url: str | None = None) -> str:
    """``--db`` first, then ``TIERTUI_DATABASE_URL``, then the file in the user data dir."""
    return url or os.environ.get(ENV_URL) or default_url()


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (``~`` expanded), else None (a server, memory, a URI)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :].split("?", 1)[0]
            break
    else:
        return None
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).expanduser()


def read_only_url(path: Path) -> str | None:
    """A read-only URL for the existing SQLite file ``path`` when it cannot be written (a read-only
    file, or a folder where its journal cannot be made: read-only media), else None.

    In a read-only folder the file is opened ``immutable`` (SQLite then needs no ``-shm`` file
    beside it; nothing can be writing it there)."""
    folder = path.absolute().parent
    folder_writable = os.access(folder, os.W_OK)
    if os.access(path, os.W_OK) and folder_writable:
        return None
    uri = f"sqlite:///file:{quote(str(path.absolute()))}?mode=ro&uri=true"
    return uri + ("" if folder_writable else "&immutable=1")


def is_read_only_url(url: str | None) -> bool:
    """Whether ``url`` is a read-only SQLite URL (as :func:`read_only_url` makes)."""
    return bool(url) and url.startswith("sqlite") and "mode=ro" in url.partition("?")[2].split("&")
