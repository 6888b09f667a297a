"""Where tiertui's database is when no ``--db`` is given.

Standard library and platformdirs only: the command line resolves the URL with this before it
decides whether to load SQLAlchemy at all (opening the app on a current SQLite file never needs it
before the first screen). :mod:`tiertui.storage` re-exports these names.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_URL = "TIERTUI_DATABASE_URL"


def default_url() -> str:
    """The SQLite file in the user data dir (e.g. ``~/.local/share/tiertui/tiertui.db``)."""
    folder = Path(platformdirs.user_data_dir("tiertui", appauthor=False))
    return f"sqlite:///{folder / 'tiertui.db'}"


def resolve_url(url: str | None = None) -> str:
    """``--db`` first, then ``TIERTUI_DATABASE_URL``, then the file in the user data dir."""
    return url or os.environ.get(ENV_URL) or default_url()
