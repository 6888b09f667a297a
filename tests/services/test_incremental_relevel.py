"""Incremental re-levelling (issue #10) equals a full re-level, row for row, after any edit.

Random edits go through the services as a person makes them (imports of metrics, certifications
and partners with new parents, regions or tiers on record; approvals) or, for deletes of rows,
straight into the tables followed by the re-levelling of the partners they touched. After each
edit every stored result row is compared with what a fresh full ``tiertui level`` stores.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from db_builder import seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from tiertui.services import overrides
from tiertui.services import relevel as relevel_module
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.services.relevel import relevel
from tiertui.services.unit_of_work import UnitOfWork
from tiertui.storage import Partner, open_engine, queries

IDS = [f"P{i:02d}" for i in range(14)]
PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3"]
REGIONS = ["EMEA", "LATAM", "NA"]
TYPES = ["VAR", "MSP"]
TIERS = [None, "Silver", "Gold", "Platinum"]
PEOPLE = ["ann", "Ann ", "bo", "cy", "dee"]


def _partners():
    # a forest: P00..P03 roots; P04..P09 under roots; P10..P13 under the second level
    rows = []
    for i, pid in enumerate(IDS):
        parent = None if i < 4 else IDS[i % 4] if i < 10 else IDS[4 + i % 6]
        rows.append((pid, f"Partner {i}", REGIONS[i % 3], TYPES[i % 2], parent, TIERS[i % 4]))
    return rows


def _metrics():
    return [
        (pid, period, metric, float((i * 37 + k * 11 + len(metric)) % 700))
        for i, pid in enumerate(IDS)
        for k, period in enumerate(PERIODS)
        for metric in ("revenue", "escalations")
    ]


def _certs():
    return [(pid, PEOPLE[i % 5], "uc", date(2025, 1 + i % 12, 1), None) for i, pid in enumerate(IDS) if i % 3]


def stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM level_result ORDER BY period, partner_key"))]


def assert_same_as_full(engine) -> None:
    before = stored(engine)
    run_levelling(engine, "ann")  # writes only what differs: equal snapshots mean nothing differed
    after = stored(engine)
    assert len(before) == len(after)
    assert before == after


@pytest.fixture(params=["sqlite", "postgresql"])
def levelled(request, tmp_path):
    from db_builder import seat_team

    from tiertui.storage import open_engine

    url = f"sqlite:///{tmp_path / 'inc.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = open_engine(url)
    seat_team(engine)
    seed(engine, partners=_partners(), metrics=_metrics(), certs=_certs())
    run_levelling(engine, "ann")
    yield engine
    engine.dispose()


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


metric_edit = st.tuples(
    st.just("metric"),
    st.sampled_from(IDS),
    st.sampled_from(PERIODS),
    st.sampled_from(["revenue", "escalations", "csat"]),
    st.integers(0, 1500),
)
cert_edit = st.tuples(
    st.just("cert"),
    st.sampled_from(IDS),
    st.sampled_from(PEOPLE),
    st.sampled_from(["uc", "cloud"]),
    st.integers(0, 600),
)
parent_edit = st.tuples(
    st.just("parent"),
    st.sampled_from(IDS),
    st.one_of(st.none(), st.sampled_from(IDS)),
    st.sampled_from(REGIONS),
    st.sampled_from(TIERS),
)
delete_edit = st.tuples(
    st.just("delete"), st.sampled_from(IDS), st.sampled_from(["metric_value", "certification"]), st.integers(0, 3)
)
approve_edit = st.tuples(st.just("approve"), st.sampled_from(IDS), st.sampled_from(["Silver", "Gold", "Platinum"]))
edits = st.lists(st.one_of(metric_edit, cert_edit, parent_edit, delete_edit, approve_edit), min_size=1, max_size=4)


def _apply(engine, tmp_path: Path, edit: tuple, n: int) -> None:
    kind = edit[0]
    if kind == "metric":
        _, pid, period, metric, value = edit
        path = _csv(tmp_path / f"m{n}.csv", ["partner_id", "period", metric], [[pid, period, value]])
        import_file(engine, "metrics", path, "ann")
    elif kind == "cert":
        _, pid, person, track, days = edit
        earned = date.fromordinal(date(2025, 1, 1).toordinal() + days)
        path = _csv(
            tmp_path / f"c{n}.csv",
            ["partner_id", "person", "certification", "track", "earned_on", "expires_on"],
            [[pid, person, f"{track}-cert", track, earned.isoformat(), ""]],
        )
        import_file(engine, "certifications", path, "ann")
    elif kind == "parent":
        _, pid, parent, region, tier = edit
        if parent == pid:
            parent = None
        path = _csv(
            tmp_path / f"p{n}.csv",
            ["partner_id", "name", "region", "parent_id", "tier"],
            [[pid, f"Renamed {pid}", region, parent or "", tier or ""]],
        )
        try:
            import_file(engine, "partners", path, "ann")
        except Exception as exc:  # noqa: BLE001 - a cycle is refused whole, which is also checked
            assert "cycle" in str(exc)
    elif kind == "delete":
        _, pid, table, nth = edit
        with UnitOfWork(engine) as uow:
            conn = uow.connection
            key = conn.execute(text("SELECT key FROM partner WHERE partner_id = :p"), {"p": pid}).scalar_one()
            column = "period || metric" if table == "metric_value" else "CAST(id AS TEXT)"
            rows = conn.execute(
                text(f"SELECT {column} FROM {table} WHERE partner_key = :k ORDER BY 1"), {"k": key}
            ).all()
            if rows:
                victim = rows[nth % len(rows)][0]
                conn.execute(
                    text(f"DELETE FROM {table} WHERE partner_key = :k AND {column} = :v"), {"k": key, "v": victim}
                )
            relevel(uow, "ann", keys=[key])
    else:
        _, pid, tier = edit
        oid = overrides.request(engine, "mia", pid, tier, "strategic", date(2026, 1, 1), None)
        overrides.decide(engine, "bob", oid, True)


@pytest.mark.parametrize("levelled", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("walk", ["family", "tree"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=edits)
def test_incremental_relevelling_stores_what_a_full_relevel_stores(levelled, tmp_path, walk, changes):
    # a write of a few partners has the database walk their family; more read the whole tree
    limit = relevel_module.FAMILY_STARTS if walk == "family" else 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(relevel_module, "FAMILY_STARTS", limit)
        for n, edit in enumerate(changes):
            _apply(levelled, tmp_path, edit, n)
    assert_same_as_full(levelled)


def _family_from_tree(conn, keys, partner_ids, former_parents, ancestors):
    """The partners a write of ``keys``/``partner_ids`` affects, worked out from the whole tree."""
    tree_keys, ids, parent = queries.read_partner_tree(conn)
    position = {pid: i for i, pid in enumerate(ids)}
    key_at = {int(k): i for i, k in enumerate(tree_keys)}
    starts = {key_at[k] for k in keys if k in key_at} | {position[p] for p in partner_ids if p in position}
    chosen = set(starts)
    if ancestors:
        frontier = starts | {position[p] for p in former_parents if p in position}
        chosen |= frontier
        while frontier:
            frontier = {int(parent[i]) for i in frontier if parent[i] >= 0} - chosen
            chosen |= frontier
    grown = True
    while grown:
        below = {i for i in range(len(ids)) if parent[i] in chosen} - chosen
        grown = bool(below)
        chosen |= below
    family = sorted(chosen)
    inside = {i: n for n, i in enumerate(family)}
    return [ids[i] for i in family], [inside.get(int(parent[i]), -1) for i in family]


forest = st.lists(st.one_of(st.none(), st.integers(0, 11), st.just(-1)), min_size=12, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    parents=forest,
    picked=st.lists(st.integers(0, 13), max_size=4),
    by_id=st.lists(st.integers(0, 13), max_size=2),
    former=st.lists(st.integers(0, 13), max_size=2),
    ancestors=st.booleans(),
)
def test_a_family_read_by_the_database_is_the_family_in_the_whole_tree(
    tmp_path_factory, parents, picked, by_id, former, ancestors
):
    """Any hierarchy (cycles, a partner its own parent, parent ids naming nobody, keys and ids that
    are no partner): the partners the database walk finds, their order and their parents' positions
    are those worked out from the whole tree."""
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('family') / 'f.db'}")
    ids = [f"Q{i:02d}" for i in range(12)]
    with Session(engine) as session, session.begin():
        for i, p in enumerate(parents):
            parent = None if p is None else "NOBODY" if p == -1 else ids[p]
            session.add(Partner(partner_id=ids[i], name=f"Q {i}", parent_id=parent))
    names = ids + ["NOBODY", "Q99"]
    with engine.connect() as conn:
        key_of = dict(conn.execute(text("SELECT partner_id, key FROM partner")).all())
        keys = [key_of.get(names[i], 10_000 + i) for i in picked]
        partner_ids, former_parents = [names[i] for i in by_id], [names[i] for i in former]
        cols, sub_parent = queries.read_partner_family(conn, keys, partner_ids, former_parents, ancestors)
        assert (cols.partner_id, sub_parent.tolist()) == _family_from_tree(
            conn, keys, partner_ids, former_parents, ancestors
        )
    engine.dispose()


def test_an_edit_relevels_the_partner_and_its_ancestors_only(levelled, tmp_path):
    """A metric of P10 (under P08, under P00) changes the results of P10, P08 and P00, nobody else's."""
    before = {(r[0], r[1]): r for r in stored(levelled)}
    with levelled.connect() as conn:
        keys = dict(conn.execute(text("SELECT partner_id, key FROM partner")).all())
    path = _csv(tmp_path / "m.csv", ["partner_id", "period", "revenue"], [["P10", "2026-Q3", 5000]])
    report = import_file(levelled, "metrics", path, "ann")
    assert report.relevelled.startswith("re-levelled ")
    after = {(r[0], r[1]): r for r in stored(levelled)}
    changed = {k for k in after if after[k] != before.get(k)}
    assert {key for _, key in changed} == {keys["P10"], keys["P08"], keys["P00"]}
    assert {period for period, _ in changed} >= {"2026-Q3"}
    assert_same_as_full(levelled)
