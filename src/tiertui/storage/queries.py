"""Bulk reads and writes for levelling: columns in, columns out, no ORM objects per row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from sqlalchemy.engine import Connection

from .database import DatabaseError


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


def fetch_chunks(conn: Connection, sql: str, params: Sequence = (), size: int = 50_000) -> Iterator[list[tuple]]:
    """The rows of one statement, ``size`` at a time (a caller may stop between chunks)."""
    cur = raw_cursor(conn)
    try:
        cur.execute(sql.replace("?", placeholder(conn)), tuple(params))
        while rows := cur.fetchmany(size):
            yield rows
    finally:
        cur.close()


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


PARTNER_COLUMNS = "key, partner_id, name, region, partner_type, parent_id, tier"  # the order of PartnerColumns


def _partner_columns(rows: Sequence[tuple]) -> PartnerColumns:
    """Rows of :data:`PARTNER_COLUMNS` as columns (a region or type not given: ""); the few distinct
    regions, types, parents and tiers each one object (a 100,000-partner list otherwise holds 100,000
    copies of "EMEA")."""
    cols = list(zip(*rows)) if rows else [()] * 7
    same: dict = {}
    return PartnerColumns(
        np.array(cols[0], dtype=np.int64),
        list(cols[1]),
        list(cols[2]),
        [same.setdefault(r, r) if r else "" for r in cols[3]],
        [same.setdefault(t, t) if t else "" for t in cols[4]],
        list(map(same.setdefault, cols[5], cols[5])),
        list(map(same.setdefault, cols[6], cols[6])),
    )


def read_partners(conn: Connection) -> PartnerColumns:
    return _partner_columns(fetchall(conn, f"SELECT {PARTNER_COLUMNS} FROM partner ORDER BY partner_id"))


def read_partner_tree(conn: Connection) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Every partner's key and id (ordered by id) and its parent's position (-1: none): the hierarchy only."""
    rows = fetchall(conn, "SELECT key, partner_id, parent_id FROM partner ORDER BY partner_id")
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    ids = [r[1] for r in rows]
    position = {pid: i for i, pid in enumerate(ids)}
    parent = np.array([position.get(r[2], -1) if r[2] else -1 for r in rows], dtype=np.int64)
    return keys, ids, parent


def read_partner_family(
    conn: Connection,
    keys: Sequence[int],
    partner_ids: Sequence[str] = (),
    former_parents: Sequence[str] = (),
    ancestors: bool = True,
) -> tuple[PartnerColumns, np.ndarray]:
    """The partners with ``keys`` or ``partner_ids``, with (``ancestors``) every ancestor of theirs
    and of ``former_parents``, closed under descendants (every partner below one of them), ordered
    by id as :func:`read_partner_tree`; and each one's parent's position among them (-1: none, or a
    parent outside them). The same set the whole tree gives, walked by the database through the
    parent index instead of reading every partner: for a write that touches a few partners.

    ``UNION`` (not ``UNION ALL``) in the recursive parts: a partner is visited once, so a cycle in
    the hierarchy ends the walk (as it does on the whole tree).
    """
    seeds: list[str] = []
    params: list = []
    for column, values in (
        ("key", [int(k) for k in keys]),
        ("partner_id", list(partner_ids)),
        ("partner_id", list(former_parents) if ancestors else []),
    ):
        if values:
            seeds.append(f"{column} IN ({','.join('?' * len(values))})")
            params += values
    if not seeds:
        return _partner_columns([]), np.zeros(0, dtype=np.int64)
    up = (
        # a parent only when it is a stored partner (a parent id naming nobody is no partner's group)
        "UNION SELECT q.partner_id FROM partner p JOIN up ON p.partner_id = up.pid "
        "JOIN partner q ON q.partner_id = p.parent_id "
        if ancestors
        else ""
    )
    rows = fetchall(
        conn,
        "WITH RECURSIVE "
        f"up(pid) AS (SELECT partner_id FROM partner WHERE {' OR '.join(seeds)} {up}), "
        "down(pid) AS (SELECT pid FROM up UNION SELECT p.partner_id FROM partner p JOIN down ON p.parent_id = down.pid) "
        f"SELECT {PARTNER_COLUMNS} FROM partner WHERE partner_id IN (SELECT pid FROM down) ORDER BY partner_id",
        params,
    )
    family = _partner_columns(rows)
    return family, family.parent_index()


def count_partners(conn: Connection) -> int:
    return int(fetchall(conn, "SELECT count(*) FROM partner")[0][0])


def read_partners_by_key(conn: Connection, keys: np.ndarray) -> PartnerColumns:
    """The partners with ``keys``, in the order of ``keys``."""
    found: dict[int, tuple] = {}
    for chunk in _chunks(keys):
        for row in fetchall(
            conn,
            f"SELECT {PARTNER_COLUMNS} FROM partner WHERE key IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[row[0]] = row
    rows = [found[k] for k in keys.tolist()]
    return _partner_columns(rows)


def read_periods(conn: Connection) -> list[str]:
    """The distinct periods of the stored metrics (on SQLite a skip-scan: one seek per period)."""
    if conn.dialect.name == "sqlite":
        rows = fetchall(
            conn,
            "WITH RECURSIVE p(x) AS (SELECT MIN(period) FROM metric_value "
            "UNION ALL SELECT (SELECT MIN(period) FROM metric_value WHERE period > x) FROM p WHERE x IS NOT NULL) "
            "SELECT x FROM p WHERE x IS NOT NULL",
        )
        return [r[0] for r in rows]
    return [r[0] for r in fetchall(conn, "SELECT DISTINCT period FROM metric_value")]


KEYS_CHUNK = 500  # partner keys per ``IN (...)`` list


def _chunks(keys: np.ndarray) -> list[list[int]]:
    values = np.unique(keys).tolist()
    return [values[i : i + KEYS_CHUNK] for i in range(0, len(values), KEYS_CHUNK)]


KEY_VALUE = np.dtype([("key", np.int64), ("value", np.float64)])


def read_metrics(
    conn: Connection,
    metrics: Sequence[str],
    keys: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(partner keys, values) of each (period, metric), for the given metrics (and partner ``keys``).

    One range scan of the primary key per pair (with ``keys``: seeks for each chunk of keys); the
    rows go straight from the cursor into numpy (no list of rows in between: a fifth faster at
    4.7 million rows). ``progress(fraction)``: called after each pair (all partners only).
    """
    if not metrics:
        return {}
    result = {}
    if keys is not None:  # some partners: one query per chunk of keys, grouped by (period, metric) here
        periods = read_periods(conn)
        if not periods:
            return {}
        marks = ",".join("?" * len(metrics))
        in_periods = ",".join("?" * len(periods))
        rows = []
        for chunk in _chunks(keys):  # the primary key's three columns, each an IN list: index seeks only
            rows += fetchall(
                conn,
                f"SELECT period, metric, partner_key, value FROM metric_value WHERE period IN ({in_periods}) "
                f"AND metric IN ({marks}) AND partner_key IN ({','.join('?' * len(chunk))})",
                (*periods, *metrics, *chunk),
            )
        grouped: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for period, metric, key, value in rows:
            grouped.setdefault((period, metric), []).append((key, value))
        for pair, pairs in grouped.items():
            flat = np.array(pairs, dtype=np.float64).reshape(-1, 2)
            result[pair] = (flat[:, 0].astype(np.int64), flat[:, 1])
        return result
    pairs = period_metric_pairs(conn, metrics)
    sql = "SELECT partner_key, value FROM metric_value WHERE period = ? AND metric = ?".replace("?", placeholder(conn))
    cur = raw_cursor(conn)
    try:
        for done, (period, metric) in enumerate(pairs, 1):
            cur.execute(sql, (period, metric))
            flat = np.fromiter(cur, dtype=KEY_VALUE)
            result[(period, metric)] = (np.ascontiguousarray(flat["key"]), np.ascontiguousarray(flat["value"]))
            if progress is not None:
                progress(done / len(pairs))
    finally:
        cur.close()
    return result


def period_metric_pairs(conn: Connection, metrics: Sequence[str]) -> list[tuple[str, str]]:
    """The distinct (period, metric) pairs stored for ``metrics``.

    On SQLite, a skip-scan of the primary key (one seek per pair) instead of reading every row.
    """
    if conn.dialect.name != "sqlite":
        marks = ",".join("?" * len(metrics))
        return fetchall(conn, f"SELECT DISTINCT period, metric FROM metric_value WHERE metric IN ({marks})", metrics)
    wanted = set(metrics)
    return [(p, m) for p in read_periods(conn) for m in _sqlite_metrics_of(conn, p) if m in wanted]


def _sqlite_metrics_of(conn: Connection, period: str) -> list[str]:
    rows = fetchall(
        conn,
        "WITH RECURSIVE m(x) AS (SELECT MIN(metric) FROM metric_value WHERE period = ? "
        "UNION ALL SELECT (SELECT MIN(metric) FROM metric_value WHERE period = ? AND metric > x) "
        "FROM m WHERE x IS NOT NULL) SELECT x FROM m WHERE x IS NOT NULL",
        (period, period),
    )
    return [r[0] for r in rows]


@dataclass
class CertificationColumns:
    partner_key: np.ndarray
    person: list[str]
    track: list[str]
    earned: np.ndarray  # ordinals
    expires: np.ndarray  # ordinals (date.max for never)


def read_certifications(
    conn: Connection, tracks: Sequence[str], keys: np.ndarray | None = None
) -> CertificationColumns:
    """Certifications of the given tracks (of partner ``keys`` only, when given); dates come back as
    proleptic ordinals (date.toordinal)."""
    if not tracks:
        return CertificationColumns(np.zeros(0, np.int64), [], [], np.zeros(0, np.int64), np.zeros(0, np.int64))
    marks = ",".join("?" * len(tracks))
    if conn.dialect.name == "sqlite":  # julianday('0001-01-01') is 1721425.5, ordinal 1
        earned = "CAST(julianday(earned_on) - 1721424.5 AS INTEGER)"
        expires = "CAST(julianday(COALESCE(expires_on, '9999-12-31')) - 1721424.5 AS INTEGER)"
    else:
        earned = "(earned_on - DATE '0001-01-01') + 1"
        expires = "(COALESCE(expires_on, DATE '9999-12-31') - DATE '0001-01-01') + 1"
    names = list(tracks)
    code = (
        "CASE track " + " ".join(f"WHEN ? THEN {i}" for i in range(len(names))) + " END"
    )  # small ints: no object per row
    sql = f"SELECT partner_key, person, {code}, {earned}, {expires} FROM certification WHERE track IN ({marks})"
    if keys is None:
        chunks: Iterable[list[tuple]] = fetch_chunks(conn, sql, (*names, *names), size=CERTIFICATION_ROWS_CHUNK)
    else:
        if conn.dialect.name == "sqlite":  # by the partner index, not the track's (every holder of the track)
            sql = sql.replace("WHERE track IN", "WHERE +track IN")
        chunks = (
            fetchall(conn, f"{sql} AND partner_key IN ({','.join('?' * len(chunk))})", (*names, *names, *chunk))
            for chunk in _chunks(keys)
        )
    # A chunk of rows at a time into arrays, each distinct person text kept once, each track one of
    # ``tracks``: at 100,000 partners (715,081 rows, 73,709 people, 4 tracks) all the rows at once
    # and two text objects per row held ~190 MiB through the whole levelling run.
    same: dict[str, str] = {}
    partner, earned_on, expires_on = [], [], []
    person: list[str] = []
    track: list[str] = []
    for rows in chunks:
        if rows:
            k, p, t, e, x = zip(*rows)
            partner.append(np.array(k, dtype=np.int64))
            person += map(same.setdefault, p, p)
            track += map(names.__getitem__, t)
            earned_on.append(np.array(e, dtype=np.int64))
            expires_on.append(np.array(x, dtype=np.int64))

    def join(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    return CertificationColumns(join(partner), person, track, join(earned_on), join(expires_on))


CERTIFICATION_ROWS_CHUNK = 10_000


def pack_group_values(matrix: np.ndarray) -> list[bytes]:
    """One blob per row of ``matrix`` (partners x metrics), float64 little-endian."""
    data = np.ascontiguousarray(matrix, dtype="<f8")
    width = data.shape[1] * 8
    buffer = data.tobytes()
    return [buffer[i : i + width] for i in range(0, len(buffer), width)] if width else [b""] * len(data)


def unpack_group_values(blob: bytes, metrics: Sequence[str]) -> dict[str, float]:
    """The metric -> group value mapping stored in one result row."""
    return dict(zip(metrics, np.frombuffer(blob, dtype="<f8").tolist()))


def result_metrics(conn: Connection) -> list[str]:
    """The metric order of the stored results' group values (from the run that wrote them)."""
    import json

    rows = fetchall(conn, "SELECT metrics FROM level_run ORDER BY id DESC LIMIT 1")
    return json.loads(rows[0][0]) if rows else []


RESULT_COLUMNS = (
    "period",
    "partner_key",
    "score",
    "qualified_tier",
    "earned_tier",
    "effective_tier",
    "override_id",
    "event",
    "below",
    "at_risk",
    "badges",
    "group_values",
    "digest",
)


RESULTS_LOCK = 0x7469657274756931  # "tiertui1": one writer of level_result at a time (PostgreSQL)


def lock_results(conn: Connection) -> None:
    """Serialise result writers for the rest of the caller's transaction.

    SQLite already allows one writer at a time; on PostgreSQL a second levelling run waits here,
    then reads the first run's committed rows, so its comparison is never made against stale ones.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({RESULTS_LOCK})")


PEOPLE_LOCK = 0x7469657274756932  # "tiertui2": one change to people and roles at a time (PostgreSQL)


def lock_people(conn: Connection) -> None:
    """Serialise changes to people and roles for the rest of the caller's transaction (PostgreSQL).

    Two admins demoting each other at once: the second waits, then sees the first's change.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PEOPLE_LOCK})")


@dataclass
class PeriodRows:
    """One period's results: keys and digests as arrays; ``build(positions)`` makes row tuples."""

    period: str
    keys: np.ndarray
    digests: np.ndarray
    build: Callable[[np.ndarray], list[tuple]]

    def all(self) -> list[tuple]:
        return self.build(np.arange(len(self.keys)))


# The fields of a result that a published period keeps (spec §3.13): what a partner was told.
OUTCOME_COLUMNS = ("score", "qualified_tier", "earned_tier", "effective_tier", "event", "below", "at_risk", "badges")
_OUTCOME_AT = [RESULT_COLUMNS.index(c) for c in OUTCOME_COLUMNS]
SHOWN_CHANGES = 10  # changes named in the refusal's message


class PublishedResultsChanged(DatabaseError):
    """A write would change results of a published period (spec §3.13); the caller rolls back.

    ``changes``: (partner_id, period, what) of the first changes found, oldest period first.
    """

    def __init__(self, changes: list[tuple[str, str, str]], more: int, periods: list[str]) -> None:
        self.changes, self.more, self.periods = changes, more, periods
        named = "; ".join(f"{pid} in {period} ({what})" for pid, period, what in changes)
        tail = f"; and {more:,} more" if more else ""
        super().__init__(
            f"refused: this would change published results: {named}{tail}. Nothing was written. "
            f"To change them, an admin reopens the period first: tiertui unpublish {periods[0]} --reason TEXT"
        )


def published_periods(conn: Connection) -> set[str]:
    return {r[0] for r in fetchall(conn, "SELECT period FROM published_period")}


def _outcome(row: Sequence) -> tuple:
    """A new result row's outcome, compared as :func:`_stored` reads a stored one."""
    return _stored([None, *(row[i] for i in _OUTCOME_AT)])


def _what_changed(old: tuple, new: tuple) -> str:
    parts = []
    for name, a, b in zip(OUTCOME_COLUMNS, old, new):
        if a != b:
            label = name.replace("_", " ")
            parts.append(f"{label} {a:.2f} -> {b:.2f}" if name == "score" else f"{label} {a} -> {b}")
    return ", ".join(parts[:3])


class _PublishedGuard:
    """Collects what a re-levelling would change in published periods, and refuses it whole."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.frozen = published_periods(conn)
        self.found: list[tuple[int, str, str]] = []  # (partner_key, period, what)
        self.count = 0

    def keep(self, p: PeriodRows, changed: np.ndarray, gone: np.ndarray, found: np.ndarray) -> np.ndarray:
        """For a published period: note every changed outcome and every vanished row; return the
        changed positions minus those whose outcome is the same (their rows stay as published)."""
        if p.period not in self.frozen:
            return changed
        for key in gone.tolist():
            self._note(int(key), p.period, "its result would be removed")
        fresh = changed[~found[changed]]
        for pos in fresh.tolist():
            self._note(int(p.keys[pos]), p.period, "a new result")
        existing = changed[found[changed]]
        if not len(existing):
            return fresh
        new_rows = p.build(existing)
        columns = ", ".join(f'"{c}"' for c in OUTCOME_COLUMNS)
        stored: dict[int, tuple] = {}
        keys = [int(k) for k in p.keys[existing]]
        for chunk in range(0, len(keys), 500):
            part = keys[chunk : chunk + 500]
            for row in fetchall(
                self.conn,
                f"SELECT partner_key, {columns} FROM level_result WHERE period = ? "
                f"AND partner_key IN ({','.join('?' * len(part))})",
                (p.period, *part),
            ):
                stored[int(row[0])] = _stored(row)
        for row in new_rows:
            key = int(row[1])
            new, old = _outcome(row), stored.get(key)
            if old is not None and old != new:
                self._note(key, p.period, _what_changed(old, new))
        return fresh

    def _note(self, key: int, period: str, what: str) -> None:
        self.count += 1
        if len(self.found) < SHOWN_CHANGES:
            self.found.append((key, period, what))

    def check(self) -> None:
        if not self.count:
            return
        keys = sorted({k for k, _, _ in self.found})
        ids = dict(
            fetchall(self.conn, f"SELECT key, partner_id FROM partner WHERE key IN ({','.join('?' * len(keys))})", keys)
        )
        changes = [(str(ids.get(k, f"partner #{k}")), period, what) for k, period, what in self.found]
        periods = sorted({period for _, period, _ in self.found})
        raise PublishedResultsChanged(changes, self.count - len(self.found), periods)


def _stored(row: Sequence) -> tuple:
    score, qualified, earned, effective, event, below, at_risk, badges = row[1:]
    return (round(float(score), 6), qualified, earned, effective, event, int(below), bool(at_risk), badges or "")


def store_results(conn: Connection, periods: Iterable[PeriodRows], partial: bool = False) -> int:
    """Make the stored results equal the given ones, period by period; returns rows written.

    Inside the caller's transaction. Re-levelling mostly reproduces what is stored, so each period
    compares 64-bit digests (arrays, no Python object per row) and writes only changed, new and
    vanished rows. Into an empty table everything is bulk-inserted with indexes built afterwards;
    a period whose rows mostly changed is replaced whole. One period is in memory at a time.

    ``partial``: the given rows are those of some partners only (an incremental re-levelling):
    only their stored rows are compared and replaced; every other row is left alone.
    """
    stored = {} if partial else dict(fetchall(conn, "SELECT period, COUNT(*) FROM level_result GROUP BY period"))
    if not stored and not partial:
        _swap_results(conn, (row for p in periods for row in p.all()))
        return -1
    guard = _PublishedGuard(conn)
    written = 0
    cur = raw_cursor(conn)
    mark = placeholder(conn)
    columns = ", ".join(f'"{c}"' for c in RESULT_COLUMNS)
    insert = f"INSERT INTO level_result ({columns}) VALUES ({', '.join([mark] * len(RESULT_COLUMNS))})"
    for p in periods:
        if partial or stored.pop(p.period, 0):
            if partial:
                old = []
                for chunk in _chunks(p.keys):
                    old += fetchall(
                        conn,
                        "SELECT partner_key, COALESCE(digest, 0), CASE WHEN digest IS NULL THEN 0 ELSE 1 END "
                        f"FROM level_result WHERE period = ? AND partner_key IN ({','.join('?' * len(chunk))})",
                        (p.period, *chunk),
                    )
            else:
                old = fetchall(
                    conn,
                    "SELECT partner_key, COALESCE(digest, 0), CASE WHEN digest IS NULL THEN 0 ELSE 1 END "
                    "FROM level_result WHERE period = ?",
                    (p.period,),
                )
            flat = np.fromiter(chain.from_iterable(old), dtype=np.int64, count=3 * len(old)).reshape(-1, 3)
            old_keys, old_digests, known = flat[:, 0].copy(), flat[:, 1].copy(), flat[:, 2].astype(bool)
            order = np.argsort(old_keys)
            old_keys, old_digests, known = old_keys[order], old_digests[order], known[order]
            at = np.clip(np.searchsorted(old_keys, p.keys), 0, max(len(old_keys) - 1, 0))
            found = (old_keys[at] == p.keys) if len(old_keys) else np.zeros(len(p.keys), dtype=bool)
            same = found & known[at] & (old_digests[at] == p.digests) if len(old_keys) else found
            changed = np.flatnonzero(~same)
            gone = old_keys[~np.isin(old_keys, p.keys)]
            if p.period in guard.frozen:
                changed = guard.keep(p, changed, gone, found)
                gone = gone[:0]
            if not partial and len(changed) > len(p.keys) // 2:
                cur.execute(f"DELETE FROM level_result WHERE period = {mark}", (p.period,))
                cur.executemany(insert, p.all())
                written += len(p.keys)
                continue
            stale = np.concatenate([p.keys[changed[found[changed]]], gone])
            cur.executemany(
                f"DELETE FROM level_result WHERE period = {mark} AND partner_key = {mark}",
                [(p.period, k) for k in stale.tolist()],
            )
            cur.executemany(insert, p.build(changed))
            written += len(changed) + len(gone)
        else:
            cur.executemany(insert, p.all())
            written += len(p.keys)
    for period in stored:  # periods no longer in the metrics
        if period in guard.frozen:
            for (key,) in fetchall(conn, "SELECT partner_key FROM level_result WHERE period = ? LIMIT 20", (period,)):
                guard._note(int(key), period, "the period would no longer be evaluated")
            continue
        cur.execute(f"DELETE FROM level_result WHERE period = {mark}", (period,))
    cur.close()
    guard.check()  # before the caller commits: a refused write rolls back whole
    return written


def _swap_results(conn: Connection, rows: Iterable[tuple]) -> None:
    """Replace every stored result: empty the table at once, bulk insert, then build indexes."""
    from .tables import LevelResult

    table = LevelResult.__table__
    if conn.dialect.name == "sqlite":
        table.drop(conn)
        table.create(conn)
    else:
        conn.exec_driver_sql("TRUNCATE level_result")
    for index in table.indexes:
        index.drop(conn)
    cur = raw_cursor(conn)
    columns = ", ".join(f'"{c}"' for c in RESULT_COLUMNS)
    if conn.dialect.name == "postgresql":
        with cur.copy(f"COPY level_result ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(RESULT_COLUMNS))
        cur.executemany(f"INSERT INTO level_result ({columns}) VALUES ({marks})", rows)
    cur.close()
    for index in table.indexes:
        index.create(conn)


def reported_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """How many partners reported each metric in each period: {(period, metric): count}.

    A stored value is a reported one (an empty cell stores nothing), so a reported 0 counts.
    """
    rows = fetchall(conn, "SELECT period, metric, COUNT(*) FROM metric_value GROUP BY period, metric")
    return {(period, metric): int(count) for period, metric, count in rows}
