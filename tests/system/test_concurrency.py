"""Two people acting at the same moment (issue 5): two real processes, started together.

Each command runs as its own OS process (forked from ``tests/workers/forkserver.py``, which
imports tiertui once so that dozens of starts stay cheap), behind a start barrier so that both
reach the database together. Every race is repeated a few times, on SQLite (WAL, busy timeout)
and on PostgreSQL.
"""

from __future__ import annotations

import csv
import os
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from db_builder import seat_team
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from workers.forkserver import ForkServer

from tiertui.services import overrides
from tiertui.services.demo import build_demo
from tiertui.services.imports import import_file
from tiertui.services.levelling import _result_rows, evaluate, load_inputs
from tiertui.services.programs import active_program
from tiertui.storage import open_engine

POSTGRES_ENV = "TIERTUI_TEST_POSTGRES_URL"  # as in conftest.py
ROUNDS = 4
PARTNERS = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ForkServer(cwd=str(tmp_path_factory.mktemp("forkserver")))
    yield srv
    srv.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request, tmp_path_factory):
    """A small levelled demo database per backend, shared by this module's tests; yields (url, engine).

    Each test works on its own rows (new overrides, new metric values), so sharing is safe.
    """
    if request.param == "sqlite":
        yield from _demo(f"sqlite:///{tmp_path_factory.mktemp('race') / 'race.db'}")
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"tiertui_race_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield from _demo(make_url(base).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _demo(url: str):
    engine = open_engine(url)
    build_demo(engine, partners=PARTNERS, seed=5, timeline=False)  # _expected_results levels one version
    seat_team(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()


def race(server, tmp_path: Path, url: str, *commands: tuple[str, list[str]]) -> list[dict]:
    """Run each (user, argv) as its own process, all released at once; adds out/err text."""
    jobs = []
    for i, (user, argv) in enumerate(commands):
        jobs.append(
            {
                "argv": ["--db", url, "--user", user, *argv],
                "out": str(tmp_path / f"out{i}"),
                "err": str(tmp_path / f"err{i}"),
            }
        )
    results = server.run(jobs)
    for job, result in zip(jobs, results):
        result["out"] = Path(job["out"]).read_text()
        result["err"] = Path(job["err"]).read_text()
        assert result["signal"] is None, result
        assert result["status"] in (0, 1), result  # 1: a clear refusal; anything else is a crash
        assert "Traceback" not in result["err"] and "unexpected" not in result["err"], result
    return results


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


# --------------------------------------------------------------------------- decisions


def test_two_managers_deciding_the_same_override_exactly_one_lands(server, demo, tmp_path):
    url, engine = demo
    before = scalar(engine, "SELECT COUNT(*) FROM tier_override")
    partner_ids = [r[0] for r in engine.connect().execute(text("SELECT partner_id FROM partner ORDER BY partner_id"))]
    for round_ in range(ROUNDS):
        oid = overrides.request(engine, "ann", partner_ids[round_], "Gold", f"race {round_}", date(2025, 1, 1))
        assert oid == before + round_ + 1
        # even rounds: both approve; odd rounds: bob approves while carol rejects
        carol_verb = "approve" if round_ % 2 == 0 else "reject"
        results = race(
            server,
            tmp_path,
            url,
            ("bob", ["override", "approve", str(oid)]),
            ("carol", ["override", carol_verb, str(oid), "--note", "no"]),
        )
        winners = [i for i, r in enumerate(results) if r["status"] == 0]
        assert len(winners) == 1, results
        winner, loser = winners[0], 1 - winners[0]
        name = ("bob", "carol")[winner]
        status = ("approved", "approved" if carol_verb == "approve" else "rejected")[winner]
        assert results[winner]["out"] == (f"Override {oid} for {partner_ids[round_]} (Gold) {status} by {name}.\n")
        message = results[loser]["err"]
        assert re.fullmatch(
            rf"tiertui: error: override {oid} is already {status} by {name} at \d{{4}}-\d\d-\d\d[ T][\d:.+]+\n",
            message,
        ), message
        view = overrides.get(engine, oid)
        assert (view.status, view.decided_by) == (status, name)
        assert str(view.decided_at)[:19] in message.replace("T", " ")
        with engine.connect() as conn:
            entries = conn.execute(
                text(
                    "SELECT actor, action FROM audit_entry WHERE entity = 'override' AND entity_id = :id "
                    "AND action <> 'override.request'"
                ),
                {"id": str(oid)},
            ).all()
        assert [tuple(e) for e in entries] == [(name, f"override.{'approve' if status == 'approved' else 'reject'}")]
    # nothing lost or doubled: one override per round, none pending among them
    assert scalar(engine, "SELECT COUNT(*) FROM tier_override WHERE reason LIKE 'race %'") == ROUNDS
    assert scalar(engine, "SELECT COUNT(*) FROM tier_override WHERE reason LIKE 'race %' AND status = 'pending'") == 0


# --------------------------------------------------------------------------- levelling runs


def _expected_results(engine) -> set[tuple]:
    """What one levelling run would store now (computed, not stored)."""
    program = active_program(engine)
    loaded = load_inputs(engine, program)
    rows = set()
    for period_rows in _result_rows(program, loaded.partners.key, evaluate(loaded)):
        rows.update(_normal(r) for r in period_rows.all())
    return rows


def _normal(row) -> tuple:
    row = list(row)[:12]  # the stored fields; the digest is bookkeeping, not a result
    row[9] = bool(row[9])  # at_risk: 0/1 on SQLite
    row[11] = bytes(row[11])
    return tuple(row)


def _stored_results(engine) -> set[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT period, partner_key, score, qualified_tier, earned_tier, effective_tier, override_id, event, "
                "below, at_risk, badges, group_values FROM level_result"
            )
        ).all()
    stored = [_normal(r) for r in rows]
    assert len(stored) == len(set(stored))
    return set(stored)


def _metrics_file(path: Path, engine, factor: float, reverse: bool = False) -> Path:
    """Revenue and csat for every partner and period, scaled by ``factor``: changes many results."""
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT partner_id FROM partner ORDER BY partner_id"))]
        periods = sorted(r[0] for r in conn.execute(text("SELECT DISTINCT period FROM metric_value")))
    rows = [
        (pid, period, round((i % 97) * 31_000 * factor, 2), round(60 + (i * 7 % 40) * factor / 2, 2))
        for i, (pid, period) in enumerate((p, q) for p in ids for q in periods)
    ]
    if reverse:
        rows.reverse()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["partner_id", "period", "revenue", "csat"])
        writer.writerows(rows)
    return path


def test_two_levelling_runs_at_once_store_exactly_one_runs_results(server, demo, tmp_path):
    url, engine = demo
    for round_ in range(3):
        # change the inputs so that the runs have many results to rewrite
        import_file(engine, "metrics", _metrics_file(tmp_path / f"m{round_}.csv", engine, 1 + round_ * 0.7), "ann")
        runs_before = scalar(engine, "SELECT COUNT(*) FROM level_run")
        audits_before = scalar(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'level.run'")
        results = race(server, tmp_path, url, ("bob", ["level"]), ("carol", ["level"]))
        succeeded = [r for r in results if r["status"] == 0]
        assert succeeded, results
        for r in results:
            if r["status"] == 0:
                assert r["out"].startswith(f"Levelled {PARTNERS} partners over 6 periods"), r
            else:  # refused: one clear line, and it must say why
                assert r["err"].startswith("tiertui: error: ") and r["err"].count("\n") == 1, r
                assert re.search(r"level|running|busy|locked|another", r["err"], re.I), r
        assert scalar(engine, "SELECT COUNT(*) FROM level_run") == runs_before + len(succeeded)
        assert scalar(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'level.run'") == (
            audits_before + len(succeeded)
        )
        assert _stored_results(engine) == _expected_results(engine)


# --------------------------------------------------------------------------- imports


def test_two_imports_of_the_same_keys_at_once_never_mix(server, demo, tmp_path):
    url, engine = demo
    files = [
        _metrics_file(tmp_path / "a.csv", engine, 1.0),
        _metrics_file(tmp_path / "b.csv", engine, 3.0, reverse=True),
    ]  # other values, other row order
    wanted = []
    for f in files:
        with f.open() as handle:
            reader = csv.DictReader(handle)
            wanted.append({(r["partner_id"], r["period"], m): float(r[m]) for r in reader for m in ("revenue", "csat")})
    import_file(engine, "metrics", files[0], "ann")  # every key exists from now on
    count_before = scalar(engine, "SELECT COUNT(*) FROM metric_value")
    for round_ in range(ROUNDS):
        audits_before = scalar(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'import.metrics'")
        results = race(
            server,
            tmp_path,
            url,
            ("bob", ["import", "metrics", str(files[0])]),
            ("carol", ["import", "metrics", str(files[1])]),
        )
        succeeded = [r for r in results if r["status"] == 0]
        assert succeeded, results
        for r in results:
            if r["status"] != 0:
                assert r["err"].startswith("tiertui: error: ") and r["err"].count("\n") == 1, r
                assert re.search(r"import|running|busy|locked|another", r["err"], re.I), r
        assert scalar(engine, "SELECT COUNT(*) FROM audit_entry WHERE action = 'import.metrics'") == (
            audits_before + len(succeeded)
        )
        with engine.connect() as conn:
            stored = {
                (pid, period, metric): value
                for pid, period, metric, value in conn.execute(
                    text(
                        "SELECT p.partner_id, m.period, m.metric, m.value FROM metric_value m "
                        "JOIN partner p ON p.key = m.partner_key WHERE m.metric IN ('revenue', 'csat')"
                    )
                )
            }
        final = {k: stored.get(k) for k in wanted[0]}
        matches = [i for i in (0, 1) if final == wanted[i]]
        assert len(matches) == 1, f"round {round_}: the stored values are a mix of both files"
        assert results[matches[0]]["status"] == 0  # the file that shows is one that was imported
        assert scalar(engine, "SELECT COUNT(*) FROM metric_value") == count_before  # updated by key, no duplicates
