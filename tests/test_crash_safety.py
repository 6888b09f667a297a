"""A process killed with SIGKILL during an import or a levelling run (issue 5).

The database must afterwards open, pass SQLite's integrity check, and hold exactly what it held
before the command started, or (when the kill came after the commit) exactly what a completed
run leaves: never anything in between. The commands run as real processes, forked from
``tests/workers/forkserver.py`` and killed at seeded random moments within their runtime.
"""

from __future__ import annotations

import csv
import hashlib
import random
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from tiertui.services.demo import build_demo
from tiertui.storage import open_engine

from workers.forkserver import ForkServer

KILLS = 20  # alternately during an import and during a levelling run
SEED = 20260505
METRICS = ("revenue", "cloud_mrr", "deal_registrations", "csat", "ops_score", "escalations", "business_plan",
           "demo_capability")
# Columns that a completed run fills with the time it ran: left out when comparing with the reference run.
VOLATILE = {"audit_entry": {"at"}, "level_run": {"started_at", "finished_at"}}


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy (WAL included) through SQLite's backup API; the target starts clean."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def snapshot(path: Path) -> dict[str, str]:
    """The logical contents: the schema and a digest of every table's rows in key order.

    Rows are rendered by SQLite itself (reals with 17 significant digits, blobs as hex), so that
    comparing 100,000 rows stays well under a second.
    """
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
        digest = {"schema": hashlib.sha256(repr(schema).encode()).hexdigest()}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
            info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
            key = ", ".join(f'"{r[1]}"' for r in sorted(info, key=lambda r: r[5]) if r[5]) or "rowid"
            cells = " || char(31) || ".join(
                f"""CASE typeof("{r[1]}") WHEN 'real' THEN printf('%!.17g', "{r[1]}") ELSE quote("{r[1]}") END"""
                for r in info if r[1] not in VOLATILE.get(table, ())
            )
            count, rows = conn.execute(
                f'SELECT COUNT(*), group_concat(line, char(30)) FROM (SELECT {cells} AS line FROM "{table}" '
                f"ORDER BY {key})"
            ).fetchone()
            digest[table] = f"{count}:" + hashlib.sha256((rows or "").encode()).hexdigest()
        return digest
    finally:
        conn.close()


def metrics_csv(path: Path, engine, seed: int) -> Path:
    """Every metric of every partner in every period, with new values: a second or so of import."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT partner_id FROM partner ORDER BY partner_id"))]
        periods = sorted(r[0] for r in conn.execute(text("SELECT DISTINCT period FROM metric_value")))
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 100, size=(len(ids) * len(periods), len(METRICS))).round(2)
    values[:, 0] *= 30_000  # revenue
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["partner_id", "period", *METRICS])
        for i, (pid, period) in enumerate((p, q) for p in ids for q in periods):
            writer.writerow([pid, period, *values[i].tolist()])
    return path


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    """Base databases and the reference snapshots, built once.

    ``import``: the levelled demo; a complete import of ``metrics.csv`` gives ``level``'s base: new
    inputs, stale results; a complete levelling run gives the final state.
    """
    folder = tmp_path_factory.mktemp("crash")
    base_import = folder / "base_import.db"
    engine = open_engine(f"sqlite:///{base_import}")
    build_demo(engine, partners=2000, seed=11)
    csv_path = metrics_csv(folder / "metrics.csv", engine, seed=12)
    engine.dispose()
    server = ForkServer(cwd=str(folder))
    try:
        commands = {"import": ["import", "metrics", str(csv_path)], "level": ["level"]}
        base = {"import": base_import, "level": folder / "base_level.db"}
        final = folder / "final.db"
        copy_db(base_import, base["level"])
        reference = {}
        for kind, result_path in (("import", base["level"]), ("level", final)):
            if kind == "level":
                copy_db(base["level"], final)
            before = snapshot(base[kind])
            [run] = server.run([_job(folder, result_path, commands[kind])])
            assert run["status"] == 0, (folder / "err0").read_text()
            after = snapshot(result_path)
            assert after != before, f"a complete {kind} run must change the database"
            reference[kind] = (before, after, run["seconds"])
        yield folder, server, commands, base, reference
    finally:
        server.close()


def _job(folder: Path, db: Path, argv: list[str], slot: int = 0) -> dict:
    return {"argv": ["--db", f"sqlite:///{db}", "--user", "crash", *argv],
            "out": str(folder / f"out{slot}"), "err": str(folder / f"err{slot}")}


def test_sigkill_at_random_moments_leaves_the_database_before_or_after_never_between(states):
    folder, server, commands, base, reference = states
    rng = random.Random(SEED)
    outcomes = {"import": {"before": 0, "after": 0}, "level": {"before": 0, "after": 0}}
    killed = 0

    def check(i: int, kind: str, work: Path, delay: float, run: dict) -> None:
        nonlocal killed
        before, after, _ = reference[kind]
        if run["signal"] is not None:
            assert run["signal"] == signal.SIGKILL
            killed += 1
        else:
            assert run["status"] == 0, (folder / f"err{i % 2}").read_text()
        state = snapshot(work)  # also: it opens, and the integrity check passes
        if state == before:
            outcomes[kind]["before"] += 1
        elif state == after:
            outcomes[kind]["after"] += 1
        else:
            changed = sorted(t for t in state if state[t] != before.get(t) and state[t] != after.get(t))
            pytest.fail(f"kill {i} ({kind} after {delay:.3f} s): neither the state before nor after; "
                        f"tables that match neither: {changed}")
        engine = open_engine(f"sqlite:///{work}")  # and tiertui itself opens it and reads it
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM partner")).scalar() == 2000
        engine.dispose()

    previous = None
    for i in range(KILLS):
        kind = ("import", "level")[i % 2]
        work = folder / f"work{i % 2}.db"  # two files: one is checked while the other's command runs
        copy_db(base[kind], work)
        delay = rng.uniform(0.0, reference[kind][2] * 1.1)
        server.submit([_job(folder, work, commands[kind], i % 2)], kill_after=delay)
        if previous:
            check(*previous)
        [run] = server.result()
        previous = (i, kind, work, delay, run)
    check(*previous)
    # the kills really landed inside the runs, for both kinds
    assert killed >= KILLS // 2, outcomes
    assert outcomes["import"]["before"] and outcomes["level"]["before"], outcomes
