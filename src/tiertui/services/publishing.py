"""Published periods (spec §3.13): results that stay put once a period is announced."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from ..storage import queries


def published_set(conn: Connection) -> set[str]:
    """The labels of the published periods."""
    return {r[0] for r in queries.fetchall(conn, "SELECT period FROM published_period")}
