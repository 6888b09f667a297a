"""A process killed with SIGKILL during an import or a levelling run (issue 5), on SQLite and PostgreSQL.

The database must afterwards open (SQLite: and pass its integrity check) and hold exactly what it
held before the command started, or (when the kill came after the commit) exactly what a completed
run leaves: never anything in between. The commands run as real processes, forked from
``tests/workers/forkserver.py`` and killed at seeded random moments within their runtime, until
at least :data:`KILLS` kills have landed inside a run on each backend.

Every run starts from a fresh copy of a base database: SQLite through its backup API, PostgreSQL
with ``CREATE DATABASE ... TEMPLATE``. The comparison reads every table through SQLAlchemy, so it
is the same on both backends.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import signal
import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from workers.forkserver import ForkServer

from tiertui.services.demo import build_demo
from tiertui.storage import open_engine

KILLS = 21  # kills that land inside a run, per backend; runs cycle through KINDS
KINDS = ("import", "level", "relevel")  # a whole import (every partner re-levelled), a levelling run, and
# an import of 1% of the partners' metrics (re-levelled incrementally, issue #10)
MAX_RUNS = 2 * KILLS  # runs that finish before their kill also count (as "after"), up to this many runs
SEED = 20260505
USER = "crash"
PARTNERS = {"sqlite": 2000, "postgresql": 1000}  # PostgreSQL runs take longer: fewer partners, as many kills
METRICS = (
    "revenue",
    "cloud_mrr",
    "deal_registrations",
    "csat",
    "ops_score",
    "escalations",
    "business_plan",
    "demo_capability",
)
# Columns that a completed run fills with the time it ran: left out when comparing with the reference run.
VOLATILE = {"audit_entry": {"at"}, "level_run": {"started_at", "finished_at"}}
# Tables the snapshot must find (it takes every table there is): those import and levelling write or check.
WRITTEN = {
    "partner",
    "metric_value",
    "certification",
    "level_result",
    "level_run",
    "audit_entry",
    "program_version",
    "app_user",
    "tier_override",
    "alembic_version",
    "results_state",
}
POSTGRES_ENV = "TIERTUI_TEST_POSTGRES_URL"  # as in conftest.py
SETTLE_TIMEOUT = 30.0  # seconds a PostgreSQL backend may outlive its killed client


# ------------------------------------------------------------------------------ the backends


class SQLiteDatabases:
    """Named database files in one folder."""

    name = "sqlite"
    partners = PARTNERS[name]

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def url(self, name: str) -> str:
        return f"sqlite:///{self.folder / f'{name}.db'}"

    def new(self, name: str) -> str:
        return self.url(name)

    def copy(self, source: str, target: str) -> None:
        """A consistent copy (WAL included) through SQLite's backup API; the target starts clean."""
        src_path, dst_path = self.folder / f"{source}.db", self.folder / f"{target}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dst_path}{suffix}").unlink(missing_ok=True)
        src, dst = sqlite3.connect(src_path), sqlite3.connect(dst_path)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()

    def work(self, i: int) -> str:
        return f"work{i % 2}"  # two files, made anew in turn: one is checked while the other's command runs

    def retire(self, name: str) -> None:
        pass

    def settle(self, name: str) -> float:
        return 0.0  # a killed SQLite process leaves nothing running

    def check(self, conn) -> dict[str, str]:
        """SQLite's integrity check passes; and the exact DDL, on top of the reflected schema."""
        assert conn.exec_driver_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
        ddl = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
        return {"ddl": hashlib.sha256(repr(ddl).encode()).hexdigest()}

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Databases on the test server, named after the ``postgres_url`` fixture's one (``base_import``).

    Dropping a database forces a checkpoint, seconds on a busy server: every run gets a new database
    from a template, and the used ones are dropped in the background, several at a time (checkpoints
    requested together are served by one). :meth:`close` drops them all, the fixture's one included.
    """

    name = "postgresql"
    partners = PARTNERS[name]

    def __init__(self, server_url: str, prefix_url: str) -> None:
        self.base = make_url(prefix_url)
        self.prefix = self.base.database
        self.made: set[str] = set()
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.dropper = ThreadPoolExecutor(max_workers=4)
        self.dropping: list[Future] = []

    def _db(self, name: str) -> str:
        return self.prefix if name == "base_import" else f"{self.prefix}_{name}"

    def url(self, name: str) -> str:
        return self.base.set(database=self._db(name)).render_as_string(hide_password=False)

    def new(self, name: str) -> str:
        assert name == "base_import", "the fixture's own empty database is the first base"
        return self.url(name)

    def copy(self, source: str, target: str) -> None:
        """``target``, new, from ``source`` as a template (the server waits up to 5 s for ``source``'s users)."""
        db = self._db(target)
        assert db not in self.made, f"{target} exists: every copy gets a new name"
        self.made.add(db)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}" TEMPLATE "{self._db(source)}"'))

    def work(self, i: int) -> str:
        return f"work{i}"

    def retire(self, name: str) -> None:
        self.dropping.append(self.dropper.submit(self._drop, self._db(name)))

    def _drop(self, db: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        self.made.discard(db)

    def settle(self, name: str) -> float:
        """Wait until no server process works on ``name`` any more: a killed client's backend may run
        on until its current statement ends. Returns the seconds waited."""
        started = time.monotonic()
        with self.admin.connect() as conn:
            while True:
                left = conn.execute(
                    text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = :db"), {"db": self._db(name)}
                ).scalar()
                waited = time.monotonic() - started
                if not left:
                    return waited
                if waited > SETTLE_TIMEOUT:
                    pytest.fail(f"{left} server process(es) still work on {name} {waited:.0f} s after the kill")
                time.sleep(0.01)

    def check(self, conn) -> dict[str, str]:
        """The exact index definitions, on top of the reflected schema."""
        ddl = conn.exec_driver_sql(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2"
        ).fetchall()
        return {"ddl": hashlib.sha256(repr(ddl).encode()).hexdigest()}

    def close(self) -> None:
        """Drop every database made here, and the fixture's (its own drop then finds nothing to do)."""
        for db in sorted(self.made | {self.prefix}):
            self.dropping.append(self.dropper.submit(self._drop, db))
        self.dropper.shutdown(wait=True)
        self.admin.dispose()
        for future in self.dropping:
            future.result()


# ------------------------------------------------------------------------------ the comparison


def snapshot(databases, name: str) -> dict[str, str]:
    """The logical contents, read through SQLAlchemy: the schema and a digest of every table's rows in key order.

    Reflected afresh every time, so a table or index dropped and not recreated shows as well; each
    backend adds its exact DDL (and SQLite its integrity check).
    """
    engine = create_engine(databases.url(name), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            digest = databases.check(conn)
            meta = MetaData()
            meta.reflect(conn)
            schema = []
            for table in sorted(meta.tables.values(), key=lambda t: t.name):
                schema.append(
                    (
                        table.name,
                        [
                            (c.name, str(c.type), c.nullable, str(c.server_default.arg) if c.server_default else None)
                            for c in table.columns
                        ],
                        [c.name for c in table.primary_key.columns],
                        sorted((i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes),
                        sorted(
                            (type(k).__name__, tuple(sorted(c.name for c in k.columns)))
                            for k in table.constraints
                            if k is not table.primary_key
                        ),
                    )
                )
            digest["schema"] = hashlib.sha256(repr(schema).encode()).hexdigest()
            missing = WRITTEN - meta.tables.keys()
            assert not missing, f"{name}: tables missing: {sorted(missing)}"
            for table in meta.tables.values():
                kept = [c for c in table.columns if c.name not in VOLATILE.get(table.name, ())]
                key = list(table.primary_key.columns) or list(table.columns)
                # SQLAlchemy writes the query; the driver's own tuples come back (no conversion per value:
                # faster) and repr renders them exactly: floats round-trip, bytes and dates spelled out
                cursor = conn.connection.cursor()
                cursor.execute(str(select(*kept).order_by(*key).compile(conn)))
                rows = cursor.fetchall()
                cursor.close()
                digest[table.name] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()
            conn.rollback()
        return digest
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ the states


def metrics_csv(path: Path, engine, seed: int) -> Path:
    """Every metric of every partner in every period, with new values: a second or so of import."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT partner_id FROM partner ORDER BY partner_id"))]
        periods = sorted(r[0] for r in conn.execute(text("SELECT DISTINCT period FROM metric_value")))
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 100, size=(len(ids) * len(periods), len(METRICS))).round(2)
    values[:, 0] *= 30_000  # revenue
    for j, name in enumerate(METRICS):  # yes/no flags take only 0 or 1 (spec v2)
        if name in ("business_plan", "demo_capability"):
            values[:, j] = (values[:, j] >= 50).astype(np.float64)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["partner_id", "period", *METRICS])
        for i, (pid, period) in enumerate((p, q) for p in ids for q in periods):
            writer.writerow([pid, period, *values[i].tolist()])
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def states(request, tmp_path):
    """Base databases and the reference snapshots, on one backend.

    ``import``'s base: the levelled demo (``crash`` builds it, so is its admin); a complete import of
    ``metrics.csv`` (every partner, re-levelled in the same transaction) gives ``level``'s base; a
    complete levelling run gives the final state. ``relevel``: an import of ``some.csv`` (1% of the
    partners, latest period) into the levelled demo, which re-levels those partners and their parents.
    """
    if request.param == "sqlite":
        databases = SQLiteDatabases(tmp_path)
    else:
        prefix_url = request.getfixturevalue("postgres_url")  # skips unless TIERTUI_TEST_POSTGRES_URL is set
        databases = PostgresDatabases(os.environ[POSTGRES_ENV], prefix_url)
    server = None
    try:
        engine = open_engine(databases.new("base_import"))
        build_demo(engine, partners=databases.partners, seed=11, user=USER)
        csv_path = metrics_csv(tmp_path / "metrics.csv", engine, seed=12)
        some_path = some_metrics_csv(tmp_path / "some.csv", engine)
        engine.dispose()
        server = ForkServer(cwd=str(tmp_path))
        commands = {
            "import": ["import", "metrics", str(csv_path)],
            "level": ["level"],
            "relevel": ["import", "metrics", str(some_path)],
        }
        base = {"import": "base_import", "level": "base_level", "relevel": "base_import"}
        databases.copy("base_import", "base_level")
        reference = {}
        for kind, result in (("import", "base_level"), ("level", "final"), ("relevel", "final_relevel")):
            if kind == "level":
                databases.copy("base_level", "final")
            if kind == "relevel":
                databases.copy("base_import", "final_relevel")
            before = snapshot(databases, base[kind])
            [run] = server.run([_job(tmp_path, databases.url(result), commands[kind])])
            assert run["status"] == 0, (tmp_path / "err0").read_text()
            databases.settle(result)
            after = snapshot(databases, result)
            assert after != before, f"a complete {kind} run must change the database"
            if kind != "level":  # the import re-levelled, in its own transaction
                assert after["level_result"] != before["level_result"], kind
            reference[kind] = (before, after, run["seconds"])
        yield databases, tmp_path, server, commands, base, reference
    finally:
        if server is not None:
            server.close()
        databases.close()


def some_metrics_csv(path: Path, engine) -> Path:
    """New revenue for 1% of the partners in the latest period."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT partner_id FROM partner ORDER BY partner_id"))]
        latest = conn.execute(text("SELECT MAX(period) FROM metric_value")).scalar()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["partner_id", "period", "revenue"])
        for k, pid in enumerate(ids[::100]):
            writer.writerow([pid, latest, 4_000_000 + k])
    return path


def _job(folder: Path, url: str, argv: list[str], slot: int = 0) -> dict:
    return {
        "argv": ["--db", url, "--user", USER, *argv],
        "out": str(folder / f"out{slot}"),
        "err": str(folder / f"err{slot}"),
    }


def test_sigkill_at_random_moments_leaves_the_database_before_or_after_never_between(states):
    databases, folder, server, commands, base, reference = states
    rng = random.Random(SEED)
    outcomes = {kind: {"before": 0, "after": 0} for kind in KINDS}
    settled = []  # PostgreSQL: seconds a killed run's server process worked on
    started = time.monotonic()

    def check(i: int, kind: str, work: str, delay: float, run: dict) -> None:
        before, after, _ = reference[kind]
        if run["signal"] is None:
            assert run["status"] == 0, (folder / f"err{i % 2}").read_text()
        settled.append(databases.settle(work))
        state = snapshot(databases, work)  # also: it opens (SQLite: and the integrity check passes)
        if state == before:
            outcomes[kind]["before"] += 1
        elif state == after:
            outcomes[kind]["after"] += 1
        else:
            not_before = sorted(t for t in state if state[t] != before.get(t))
            not_after = sorted(t for t in state if state[t] != after.get(t))
            pytest.fail(
                f"{databases.name}: kill {i} ({kind} after {delay:.3f} s): neither the state before nor "
                f"after: differs from before in {not_before}, from after in {not_after}"
            )
        engine = open_engine(databases.url(work))  # and tiertui itself opens it and reads it
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM partner")).scalar() == databases.partners
        engine.dispose()
        databases.retire(work)

    previous = None
    runs = killed = 0
    while killed < KILLS and runs < MAX_RUNS:
        i = runs
        kind = KINDS[i % len(KINDS)]
        work = databases.work(i)
        databases.copy(base[kind], work)
        delay = rng.uniform(0.0, reference[kind][2] * 1.1)
        server.submit([_job(folder, databases.url(work), commands[kind], i % 2)], kill_after=delay)
        if previous:
            check(*previous)  # while this run goes on
        [run] = server.result()
        runs += 1
        if run["signal"] is not None:
            assert run["signal"] == signal.SIGKILL
            killed += 1
        previous = (i, kind, work, delay, run)
    check(*previous)
    print(
        f"\n{databases.name}: {runs} runs, {killed} killed inside the run, {outcomes}; complete runs took "
        f"{reference['import'][2]:.2f} s (import), {reference['level'][2]:.2f} s (level), "
        f"{reference['relevel'][2]:.2f} s (1% import); killed runs' server "
        f"processes worked on for up to {max(settled):.2f} s; {time.monotonic() - started:.1f} s"
    )
    # the kills really landed inside the runs, for both kinds
    assert killed >= KILLS, (runs, outcomes)
    assert all(outcomes[kind]["before"] for kind in KINDS), outcomes
