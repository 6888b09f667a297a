"""Writes during a full `tiertui level` (issue #10), and writes that must never interleave.

Real processes (``tests/workers/forkserver.py``): a `tiertui level` starts on a demo database
big enough for the run to take a while; at several moments of the run, another process approves
an override, imports metrics or requests an override. Whatever the order in which they land, the
stored results afterwards must be those of a fresh full re-level, and an approval's effect must
show. Then: two admins demoting each other at once, and two partner imports that would together
make a parent cycle. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest
from db_builder import postgres_database, seat_team, seed
from sqlalchemy import text
from workers.forkserver import ForkServer

from tiertui.services import overrides, roles
from tiertui.services.demo import build_demo
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine

POSTGRES_ENV = "TIERTUI_TEST_POSTGRES_URL"
PARTNERS = 8000
# fractions of a run's duration at which the other write starts: a write lands somewhere in the run
# (before its inputs are read, between that and its writing, during its writing, after it)
MOMENTS = tuple(k / 10 for k in range(10))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two fork servers: one runs the levelling, the other the write that lands during it."""
    first = ForkServer(cwd=str(tmp_path_factory.mktemp("fork1")))
    second = ForkServer(cwd=str(tmp_path_factory.mktemp("fork2")))
    yield first, second
    first.close()
    second.close()


def _url(request, tmp_path_factory, name: str):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(name) / f'{name}.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    with postgres_database(base, prefix=f"tiertui_{name}") as (url, _):
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big(request, tmp_path_factory):
    """A levelled demo database of PARTNERS partners; yields (url, engine)."""
    for url in _url(request, tmp_path_factory, "levelrace"):
        engine = open_engine(url)
        build_demo(engine, partners=PARTNERS, seed=11)
        seat_team(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()


def _job(url: str, user: str, argv: list[str], tmp_path: Path, name: str) -> dict:
    return {
        "argv": ["--db", url, "--user", user, *argv],
        "out": str(tmp_path / f"{name}.out"),
        "err": str(tmp_path / f"{name}.err"),
    }


def _finish(job: dict, result: dict) -> dict:
    result["out"] = Path(job["out"]).read_text()
    result["err"] = Path(job["err"]).read_text()
    assert result["signal"] is None and "Traceback" not in result["err"], result
    return result


def _during_level(servers, url: str, tmp_path: Path, delay: float, user: str, argv: list[str]) -> tuple[dict, dict]:
    """Start `tiertui level`; ``delay`` seconds later run ``argv``; return both results."""
    first, second = servers
    level_job = _job(url, "bob", ["level"], tmp_path, "level")
    write_job = _job(url, user, argv, tmp_path, "write")
    first.submit([level_job])
    time.sleep(delay)
    write = _finish(write_job, second.run([write_job])[0])
    level = _finish(level_job, first.result()[0])
    return level, write


def _results(engine) -> list[tuple]:
    """Every stored result field (the digest aside: bookkeeping, not a result)."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT period, partner_key, score, qualified_tier, earned_tier, effective_tier, override_id, "
                    "event, below, at_risk, badges, group_values FROM level_result ORDER BY period, partner_key"
                )
            )
        ]


def _assert_fresh(engine) -> None:
    """The stored results are exactly what a fresh full re-level stores (it rewrites what differs)."""
    before = _results(engine)
    run_levelling(engine, "ann")
    assert _results(engine) == before


def _level_seconds(servers, url: str, tmp_path: Path) -> float:
    job = _job(url, "bob", ["level"], tmp_path, "timing")
    result = _finish(job, servers[0].run([job])[0])
    assert result["status"] == 0, result
    return result["seconds"]


def _partner_ids(engine, n: int, offset: int) -> list[str]:
    with engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                text("SELECT partner_id FROM partner ORDER BY partner_id LIMIT :n OFFSET :o"), {"n": n, "o": offset}
            )
        ]


def _effective(engine, pid: str) -> list[str]:
    with engine.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT r.effective_tier FROM level_result r JOIN partner p ON p.key = r.partner_key "
                    "WHERE p.partner_id = :p ORDER BY r.period"
                ),
                {"p": pid},
            )
        ]


def test_an_approval_during_levelling_is_kept_and_results_are_fresh(servers, big, tmp_path):
    url, engine = big
    seconds = _level_seconds(servers, url, tmp_path)
    for i, moment in enumerate(MOMENTS):
        [pid] = _partner_ids(engine, 1, 100 + i)
        oid = overrides.request(engine, "mia", pid, "Platinum", f"race {i}", date(2000, 1, 1))
        level, write = _during_level(
            servers, url, tmp_path, seconds * moment, "carol", ["override", "approve", str(oid)]
        )
        assert level["status"] == 0 and write["status"] == 0, (level, write)
        assert overrides.get(engine, oid).status == "approved"
        assert set(_effective(engine, pid)) == {"Platinum"}, f"moment {moment}: the approval was overwritten"
        _assert_fresh(engine)


def test_a_metrics_import_during_levelling_is_levelled(servers, big, tmp_path):
    url, engine = big
    seconds = _level_seconds(servers, url, tmp_path)
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT MAX(period) FROM metric_value")).scalar_one()
    for i, moment in enumerate(MOMENTS):
        ids = _partner_ids(engine, 40, 1000 + 40 * i)
        path = tmp_path / f"m{i}.csv"
        path.write_text(
            "partner_id,period,revenue\n" + "".join(f"{p},{latest},{5_000_000 + k}\n" for k, p in enumerate(ids))
        )
        level, write = _during_level(servers, url, tmp_path, seconds * moment, "ann", ["import", "metrics", str(path)])
        assert level["status"] == 0 and write["status"] == 0, (level, write)
        _assert_fresh(engine)


def test_an_override_request_during_levelling_lands_and_results_are_fresh(servers, big, tmp_path):
    url, engine = big
    seconds = _level_seconds(servers, url, tmp_path)
    for i, moment in enumerate(MOMENTS):
        [pid] = _partner_ids(engine, 1, 2000 + i)
        argv = ["override", "request", pid, "Gold", "--reason", f"asked during a run {i}", "--starts", "2026-01-01"]
        level, write = _during_level(servers, url, tmp_path, seconds * moment, "mia", argv)
        assert level["status"] == 0 and write["status"] == 0, (level, write)
        oid = int(write["out"].strip())
        assert overrides.get(engine, oid).status == "pending"
        _assert_fresh(engine)


# --------------------------------------------------------------------------- writes that never interleave


@pytest.fixture(params=["sqlite", "postgresql"])
def small(request, tmp_path_factory):
    for url in _url(request, tmp_path_factory, "small"):
        engine = open_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()


def _race(servers, url: str, tmp_path: Path, *commands: tuple[str, list[str]]) -> list[dict]:
    jobs = [_job(url, user, argv, tmp_path, f"race{i}") for i, (user, argv) in enumerate(commands)]
    results = servers[0].run(jobs)
    return [_finish(j, r) for j, r in zip(jobs, results)]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(servers, small, tmp_path):
    url, engine = small
    if roles.current_role(engine, "ana") is None:  # a team database: its first admin adds themself
        roles.add(engine, "ana", "ana", "admin")  # (a SQLite file: ana, its first user, is its admin)
    roles.add(engine, "ana", "bo", "admin")
    for round_ in range(4):
        results = _race(
            servers,
            url,
            tmp_path,
            ("ana", ["users", "set", "bo", "viewer"]),
            ("bo", ["users", "set", "ana", "viewer"]),
        )
        assert sorted(r["status"] for r in results) == [0, 1], results
        loser = next(r for r in results if r["status"] == 1)
        assert "admin" in loser["err"], loser  # the last admin, or no longer an admin
        admins = [p.name for p in roles.people(engine) if p.role == "admin"]
        assert len(admins) == 1, (round_, admins)
        other = "bo" if admins == ["ana"] else "ana"
        roles.set_role(engine, admins[0], other, "admin")


def test_two_partner_imports_at_once_never_store_a_parent_cycle(servers, small, tmp_path):
    url, engine = small
    seat_team(engine)
    seed(engine)
    run_levelling(engine, "ann")
    for round_ in range(4):
        x, y = f"X{round_}", f"Y{round_}"
        base = tmp_path / f"base{round_}.csv"
        base.write_text(f"partner_id,name\n{x},Ex\n{y},Why\n")
        assert _race(servers, url, tmp_path, ("ann", ["import", "partners", str(base)]))[0]["status"] == 0
        a, b = tmp_path / f"a{round_}.csv", tmp_path / f"b{round_}.csv"
        a.write_text(f"partner_id,name,parent_id\n{x},Ex,{y}\n")
        b.write_text(f"partner_id,name,parent_id\n{y},Why,{x}\n")
        results = _race(
            servers, url, tmp_path, ("ann", ["import", "partners", str(a)]), ("bo", ["import", "partners", str(b)])
        )
        assert sorted(r["status"] for r in results) == [0, 1], results
        assert "cycle" in next(r for r in results if r["status"] == 1)["err"]
        with engine.connect() as conn:
            parents = dict(
                conn.execute(
                    text("SELECT partner_id, parent_id FROM partner WHERE partner_id IN (:x, :y)"), {"x": x, "y": y}
                ).all()
            )
        assert not (parents[x] == y and parents[y] == x), parents
        _assert_fresh(engine)
