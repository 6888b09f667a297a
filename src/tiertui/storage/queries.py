"""Bulk reads and writes for levelling: columns in, columns out, no ORM objects per row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from sqlalchemy.engine import Connection

NEVER_ISO = "9999-12-31"


def placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def raw_cursor(conn: Connection):
    """The DB-API cursor of ``conn``, inside the same transaction."""
    return conn.connection.cursor()


def fetchall(conn: Connection, sql: str, params: Sequence = ()) -> list[tuple]:
    cur = raw_cursor(conn)
    cur.execute(sql.replace("?", placeholder(conn)), tuple(params))
    rows = cur.fetchall()
    cur.close()
    return rows


def execute(conn: Connection, sql: str, params: Sequence = ()) -> int:
    """Run one statement with ``?`` placeholders; returns the affected row count."""
    cur = raw_cursor(conn)
    cur.execute(sql.replace("?", placeholder(conn)), tuple(params))
    count = cur.rowcount
    cur.close()
    return count


@dataclass
class PartnerColumns:
    key: np.ndarray
    partner_id: list[str]
    name: list[str]
    region: list[str]
    partner_type: list[str]
    parent_id: list[str | None]
    tier: list[str | None]

    def index_of_keys(self) -> np.ndarray:
        """A lookup array: partner key -> position in these columns (-1: none)."""
        lookup = np.full(int(self.key.max(initial=0)) + 1, -1, dtype=np.int64)
        lookup[self.key] = np.arange(len(self.key))
        return lookup

    def parent_index(self) -> np.ndarray:
        position = {pid: i for i, pid in enumerate(self.partner_id)}
        return np.array([position.get(p, -1) if p else -1 for p in self.parent_id], dtype=np.int64)


def read_partners(conn: Connection) -> PartnerColumns:
    rows = fetchall(
        conn,
        "SELECT key, partner_id, name, region, partner_type, parent_id, tier FROM partner ORDER BY partner_id",
    )
    cols = list(zip(*rows)) if rows else [()] * 7
    return PartnerColumns(
        np.array(cols[0], dtype=np.int64),
        list(cols[1]),
        list(cols[2]),
        [r or "" for r in cols[3]],
        [t or "" for t in cols[4]],
        list(cols[5]),
        list(cols[6]),
    )


def read_periods(conn: Connection) -> list[str]:
    return [r[0] for r in fetchall(conn, "SELECT DISTINCT period FROM metric_value")]


def read_metric(conn: Connection, period: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(partner keys, values) of one metric in one period."""
    rows = fetchall(
        conn, "SELECT partner_key, value FROM metric_value WHERE period = ? AND metric = ?", (period, metric)
    )
    flat = np.fromiter((x for row in rows for x in row), dtype=np.float64, count=2 * len(rows))
    pairs = flat.reshape(-1, 2)
    return pairs[:, 0].astype(np.int64), pairs[:, 1]


@dataclass
class CertificationColumns:
    partner_key: np.ndarray
    person: list[str]
    track: list[str]
    earned: np.ndarray  # ordinals
    expires: np.ndarray  # ordinals (date.max for never)


def _ordinals(isodates: Iterable) -> np.ndarray:
    days = np.array([str(d) if d is not None else NEVER_ISO for d in isodates], dtype="datetime64[D]")
    return days.astype(np.int64) + 719163  # days since 1970-01-01 -> proleptic ordinal


def read_certifications(conn: Connection, tracks: Sequence[str]) -> CertificationColumns:
    if not tracks:
        return CertificationColumns(np.zeros(0, np.int64), [], [], np.zeros(0, np.int64), np.zeros(0, np.int64))
    marks = ",".join("?" * len(tracks))
    rows = fetchall(
        conn,
        f"SELECT partner_key, person, track, earned_on, expires_on FROM certification WHERE track IN ({marks})",
        tuple(tracks),
    )
    cols = list(zip(*rows)) if rows else [()] * 5
    return CertificationColumns(
        np.array(cols[0], dtype=np.int64), list(cols[1]), list(cols[2]), _ordinals(cols[3]), _ordinals(cols[4])
    )


RESULT_COLUMNS = (
    "period", "partner_key", "run_id", "score", "qualified_tier", "earned_tier", "effective_tier",
    "override_id", "event", "below", "at_risk", "badges", "group_values",
)


def replace_results(conn: Connection, rows: Iterable[tuple]) -> None:
    """Swap every stored result for ``rows``, inside the caller's transaction."""
    cur = raw_cursor(conn)
    cur.execute("DELETE FROM level_result")
    columns = ", ".join(f'"{c}"' for c in RESULT_COLUMNS)
    if conn.dialect.name == "postgresql":
        with cur.copy(f"COPY level_result ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(RESULT_COLUMNS))
        cur.executemany(f"INSERT INTO level_result ({columns}) VALUES ({marks})", rows)
    cur.close()


