"""Whether the stored results are current (issue #10).

Every write that can change results re-levels the partners it affects in its own transaction, so
the stored results are current, except after a write that was told not to (``tiertui import
--no-level``, for scripted bulk loads): that marks them stale, with since when and by which
write, until the next full levelling run (``tiertui level``) clears the mark.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from ..storage import queries
from ..storage.tables import ResultsState, utcnow

STALE_HINT = "run `tiertui level` to bring them up to date"
STALE_BY_LIMIT = 2000  # characters of "which writes" kept; later ones are summed up as "and more"


def stale_since(source: Engine | Connection | Session) -> tuple[datetime, str] | None:
    """(since when, by what) when the stored results are stale, else None (for the app's banner)."""
    if isinstance(source, Engine):
        with source.connect() as conn:
            return stale_since(conn)
    conn = source.connection() if isinstance(source, Session) else source
    rows = queries.fetchall(conn, "SELECT stale_since, stale_by FROM results_state WHERE id = 1")
    if not rows or rows[0][0] is None:
        return None
    since, what = rows[0]
    if not isinstance(since, datetime):
        since = datetime.fromisoformat(str(since))
    return since, what or ""


def mark_stale(session: Session, what: str) -> None:
    """Mark the results stale (keeping the earliest time, adding what made them so), in ``session``."""
    row = session.get(ResultsState, 1)
    if row is None:
        session.add(ResultsState(id=1, stale_since=utcnow(), stale_by=what))
    elif row.stale_since is None:
        row.stale_since, row.stale_by = utcnow(), what
    elif len(row.stale_by or "") < STALE_BY_LIMIT:
        row.stale_by = f"{row.stale_by}; {what}" if row.stale_by else what
    elif not (row.stale_by or "").endswith("; and more"):
        row.stale_by = f"{row.stale_by}; and more"
    session.flush()


def clear_stale(session: Session) -> None:
    row = session.get(ResultsState, 1)
    if row is not None and row.stale_since is not None:
        row.stale_since, row.stale_by = None, None
        session.flush()


def describe(state: tuple[datetime, str]) -> str:
    since, what = state
    return f"the stored results are stale since {since:%Y-%m-%d %H:%M} UTC ({what})"
