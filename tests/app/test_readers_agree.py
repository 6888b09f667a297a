"""The partner list, dashboard and filters read the same from a SQLite file (the sqlite3 fast path)
as from PostgreSQL (through the engine), on the same data: orders, ties and counts included."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tiertui.services.read import FastReader
from tiertui.services.read import engine as reads
from tiertui.services.read import sql as read_sql
from tiertui.services.read.engine import EngineReader
from tiertui.storage import open_engine

TODAY = date(2026, 1, 15)  # as the other app tests

QUERIES = [
    read_sql.PartnerQuery(),
    *(
        read_sql.PartnerQuery(sort=key, descending=descending)
        for key in read_sql.PARTNER_SORTS
        for descending in (False, True)
    ),
    read_sql.PartnerQuery(text="harbor"),
    read_sql.PartnerQuery(text="  NeT ", sort="name"),
    read_sql.PartnerQuery(text="p0001"),
    read_sql.PartnerQuery(text="100%"),
    read_sql.PartnerQuery(text="o_i"),
    read_sql.PartnerQuery(at_risk=True, sort="score", descending=True),
    read_sql.PartnerQuery(event="promoted"),
    read_sql.PartnerQuery(tier="Gold", sort="account_manager"),
    read_sql.PartnerQuery(region="EMEA", partner_type="MSP", sort="tier"),
    read_sql.PartnerQuery(manager="Ana Ruiz", overridden=False),
    read_sql.PartnerQuery(period="2025-Q2", sort="score"),
]


@pytest.fixture
def readers(sqlite_app_db, pg_app_db):
    fast = FastReader.open(sqlite_app_db)
    assert fast is not None
    engine = open_engine(pg_app_db)
    yield fast, EngineReader(lambda: engine), engine
    fast.close()
    engine.dispose()


def shown(reader, q: read_sql.PartnerQuery, period: str) -> list:
    """The rows as the list shows them, without the storage keys (which each database numbers)."""
    return [replace(row, key=0) for row in reader.partner_rows(reader.partner_keys(q), q.period or period)]


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_the_partner_list_is_the_same_on_sqlite_and_postgresql(readers, q):
    fast, through_engine, _ = readers
    period = fast.latest_period()
    assert period == through_engine.latest_period() == "2025-Q4"
    sqlite_rows, postgres_rows = shown(fast, q, period), shown(through_engine, q, period)
    assert sqlite_rows == postgres_rows
    assert sqlite_rows or q.text in ("100%", "o_i")  # the filters found someone, bar the literal % and _


def test_the_dashboard_filters_and_lookup_are_the_same(readers, sqlite_app_db):
    fast, through_engine, engine = readers
    assert fast.dashboard(TODAY) == through_engine.dashboard(TODAY)
    assert fast.filter_choices() == through_engine.filter_choices()
    assert fast.levelled_periods() == reads.levelled_periods(engine)
    assert fast.program_heading() == through_engine.program_heading()
    # find-a-partner: the same texts, so the same partners in the same order (keys differ: compare ids)
    fast_texts, engine_texts = fast.partner_find_texts(), through_engine.partner_find_texts()
    assert sorted(fast_texts.values()) == sorted(engine_texts.values())
    for needle in ("harbor", "p0000", "cloud 1", "emea ana", "1 cloud", "zzz"):
        assert [fast_texts[k] for k in read_sql.find(fast_texts, needle)] == [
            engine_texts[k] for k in read_sql.find(engine_texts, needle)
        ]
    sqlite_engine = open_engine(sqlite_app_db)
    try:
        for needle in ("harbor", "P0000", "cloud 1", "ZZZ"):
            assert reads.find_partners(sqlite_engine, needle) == reads.find_partners(engine, needle)
    finally:
        sqlite_engine.dispose()


# --------------------------------------------------------------------------- designations held (v2 §3.12)


@pytest.fixture(scope="module")
def designation_readers(tmp_path_factory):
    """The demo with its 2026 version (six designations) built on SQLite and on PostgreSQL."""
    import os

    from db_builder import postgres_database

    from tiertui.services.demo import build_demo

    base = os.environ.get("TIERTUI_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TIERTUI_TEST_POSTGRES_URL is not set")
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('designations') / 'demo.db'}"
    with postgres_database(base, "tiertui_designations") as (pg_url, _name):
        engines = [open_engine(sqlite_url), open_engine(pg_url)]
        for engine in engines:
            build_demo(engine, partners=150, seed=2026, user="dave")
        engines[0].dispose()
        fast = FastReader.open(sqlite_url)
        assert fast is not None
        yield fast, EngineReader(lambda: engines[1]), sqlite_url
        fast.close()
        engines[1].dispose()


def _held_in_export(url: str, period: str) -> dict[str, set[str]]:
    """designation -> the partners holding it in ``period``, from the export's designations column."""
    from tiertui.services.exports import scorecard_rows

    engine = open_engine(url)
    try:
        rows = scorecard_rows(engine, period)
    finally:
        engine.dispose()
    held: dict[str, set[str]] = {}
    for row in rows:
        for name in row.designations or ():
            held.setdefault(name, set()).add(row.partner_id)
    return held


def test_the_designation_filter_is_the_same_on_sqlite_and_postgresql_and_matches_the_export(designation_readers):
    fast, through_engine, sqlite_url = designation_readers
    choices = fast.filter_choices()
    assert choices == through_engine.filter_choices()
    assert choices.designations == (
        "Cloud Specialist",
        "Contact Center Expert",
        "Customer Experience",
        "Operations Excellence",
        "Sales Excellence",
        "UC Specialist",
    )
    period = fast.latest_period()
    held = _held_in_export(sqlite_url, period)
    for name in choices.designations:
        for q in (
            read_sql.PartnerQuery(designation=name),
            read_sql.PartnerQuery(designation=name, sort="score", descending=True),
            read_sql.PartnerQuery(designation=name, tier="Gold"),
        ):
            sqlite_rows, postgres_rows = shown(fast, q, period), shown(through_engine, q, period)
            assert sqlite_rows == postgres_rows, q
        ids = {r.partner_id for r in shown(fast, read_sql.PartnerQuery(designation=name), period)}
        assert ids == held.get(name, set()), name  # exactly the partners the export says hold it
        assert ids, name  # the demo has holders of each
    # a name no result holds, one with a NUL, and a period of the first version (no designations then)
    for q in (
        read_sql.PartnerQuery(designation="No Such Designation"),
        read_sql.PartnerQuery(designation="Cloud\x00Specialist"),
        read_sql.PartnerQuery(designation="Cloud Specialist", period="2025-Q4"),
    ):
        assert shown(fast, q, period) == shown(through_engine, q, period) == []


ODD_TRACKS = ["", " ", "[bold]x[/]", "Zoë", "zoe", "a\x1bb", "ZZ top", "0"]


def test_the_certification_tracks_are_every_distinct_track_on_sqlite_and_postgresql(sqlite_app_db, pg_app_db):
    """The track filter's choices (read one index probe a track): exactly the distinct non-empty
    tracks a plain DISTINCT finds, odd ones included, sorted, on both databases."""
    from sqlalchemy import text

    found = []
    for url in (sqlite_app_db, pg_app_db):
        engine = open_engine(url)
        try:
            with engine.begin() as conn:
                key = conn.execute(text("SELECT MIN(key) FROM partner")).scalar_one()
                for i, track in enumerate(ODD_TRACKS):
                    conn.execute(
                        text(
                            "INSERT INTO certification (partner_key, person, certification, track, earned_on) "
                            "VALUES (:key, :person, 'Odd', :track, :earned)"
                        ),
                        {"key": key, "person": f"odd {i}", "track": track, "earned": date(2025, 1, 1)},
                    )
                plain = conn.execute(text("SELECT DISTINCT track FROM certification")).scalars().all()
            tracks = reads.certification_tracks(engine)
        finally:
            engine.dispose()
        assert tracks == tuple(sorted(t for t in plain if t))
        assert {" ", "[bold]x[/]", "Zoë", "a\x1bb", "0"} <= set(tracks) and "" not in tracks
        found.append(tracks)
    assert found[0] == found[1]
