"""The app's fast read path (stdlib sqlite3) returns exactly what the engine path (browse) returns."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from tiertui.services import browse, listing
from tiertui.services.demo import build_demo
from tiertui.services.fastread import SCHEMA_REVISION, EngineReader, FastReader, sqlite_file
from tiertui.storage import open_engine, schema

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 5, 1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small levelled demo database: (url, engine)."""
    path = tmp_path_factory.mktemp("fastread") / "demo.db"
    url = f"sqlite:///{path}"
    engine = open_engine(url)
    build_demo(engine, partners=400, seed=11)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="module")
def reader(demo):
    url, _ = demo
    fast = FastReader.open(url)
    assert fast is not None
    yield fast
    fast.close()


QUERIES = [
    listing.PartnerQuery(),
    listing.PartnerQuery(descending=True),
    *(listing.PartnerQuery(sort=key) for key in listing.PARTNER_SORTS),
    *(listing.PartnerQuery(sort=key, descending=True) for key in listing.PARTNER_SORTS),
    listing.PartnerQuery(text="a"),
    listing.PartnerQuery(text="  NeT ", sort="name"),
    listing.PartnerQuery(text="p00"),
    listing.PartnerQuery(text="a\x00b"),
    listing.PartnerQuery(at_risk=True),
    listing.PartnerQuery(at_risk=False, sort="score", descending=True),
    listing.PartnerQuery(event="promoted"),
    listing.PartnerQuery(event="grace", sort="tier"),
    listing.PartnerQuery(overridden=True),
    listing.PartnerQuery(overridden=False, sort="badges"),
    listing.PartnerQuery(region="EMEA", sort="account_manager"),
]


def test_the_schema_revision_is_the_newest_migration():
    assert SCHEMA_REVISION == schema.HEAD == schema.head_revision()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:////tmp/x.db", "/tmp/x.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite+pysqlite:////tmp/x.db", "/tmp/x.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////tmp/x.db?mode=ro", None),
        ("sqlite:///~/x.db", None),
        ("sqlite:////tmp/a%20b.db", None),
        ("postgresql+psycopg://u:p@host/db", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_only_plain_sqlite_file_urls_take_the_fast_path(url, expected):
    path = sqlite_file(url)
    assert (None if path is None else str(path)) == expected


def test_no_reader_for_a_missing_file_or_an_older_schema(tmp_path):
    missing = tmp_path / "missing.db"
    assert FastReader.open(f"sqlite:///{missing}") is None
    assert not missing.exists()  # looking did not create it
    old = tmp_path / "old.db"
    shutil.copy(ROOT / "fixtures" / "databases" / "first-schema.db", old)
    assert FastReader.open(f"sqlite:///{old}") is None
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    assert FastReader.open(f"sqlite:///{junk}") is None


def test_periods_program_choices_and_dashboard_are_the_same(demo, reader):
    _, engine = demo
    assert reader.levelled_periods() == browse.levelled_periods(engine)
    assert reader.latest_period() == browse.latest_period(engine) is not None
    program = browse.program_or_none(engine)
    assert reader.program() == program
    assert reader.program_heading() == listing.ProgramHeading(program.name, program.tiers)
    assert reader.filter_choices() == browse.filter_choices(engine)
    assert reader.filter_choices(tracks=False) == browse.filter_choices(engine, tracks=False)
    for today in (TODAY, date(2020, 1, 1)):
        assert reader.dashboard(today) == browse.dashboard(engine, today)
    assert reader.partner_search_texts() == browse.partner_search_texts(engine)


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_partner_keys_and_rows_are_the_same(demo, reader, query):
    _, engine = demo
    program = browse.program_or_none(engine)
    tiers = reader.program_heading().tiers
    expected = browse.partner_keys(engine, query, program).tolist()
    assert reader.partner_keys(query, tiers) == expected
    assert reader.partner_keys(query, tiers, limit=7) == expected[:7]
    assert reader.partner_keys(query, tiers, limit=7) == browse.partner_keys(engine, query, program, 7).tolist()
    first, rest = reader.partner_key_chunks(query, tiers, first=7)
    assert first == expected[:7] and first + rest == expected
    assert list(EngineReader(lambda: engine).partner_key_chunks(query, tiers)) == [expected]
    period = browse.latest_period(engine)
    for some in (expected[:100], expected[-3:][::-1], []):
        assert reader.partner_rows(some, period) == browse.partner_rows(engine, some, period)
    older = replace(query, period=browse.levelled_periods(engine)[0])
    assert reader.partner_keys(older, tiers) == browse.partner_keys(engine, older, program).tolist()


def test_an_unknown_sort_is_refused_on_both_paths(reader, demo):
    _, engine = demo
    for read in (reader, EngineReader(lambda: engine)):
        with pytest.raises(browse.ServiceError, match="cannot sort by"):
            read.partner_keys(listing.PartnerQuery(sort="name; DROP TABLE partner"))


def test_the_engine_reader_is_browse(demo):
    _, engine = demo
    read = EngineReader(lambda: engine)
    program = browse.program_or_none(engine)
    assert read.latest_period() == browse.latest_period(engine)
    assert read.program() == program
    assert read.program_heading() == listing.ProgramHeading(program.name, program.tiers)
    assert (
        read.partner_keys(listing.PartnerQuery(), limit=5)
        == browse.partner_keys(engine, listing.PartnerQuery(), program, 5).tolist()
    )
    assert (
        read.partner_keys(listing.PartnerQuery(sort="tier"), program.tiers)
        == browse.partner_keys(engine, listing.PartnerQuery(sort="tier"), program).tolist()
    )
    assert read.dashboard(TODAY) == browse.dashboard(engine, TODAY)


def test_mixed_period_labels_are_ordered_by_the_scoring_module(tmp_path):
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=30, seed=3)
        latest = browse.latest_period(engine)
        with engine.begin() as conn:  # an annual and a monthly period beside the quarterly ones
            for label in ("2019", "2031-02"):
                conn.execute(
                    text(
                        "INSERT INTO level_result SELECT :label, partner_key, score, qualified_tier, earned_tier, "
                        "effective_tier, override_id, event, below, at_risk, badges, group_values, digest "
                        "FROM level_result WHERE period = :latest"
                    ),
                    {"label": label, "latest": latest},
                )
        fast = FastReader.open(url)
        assert fast is not None
        try:
            assert listing.ordered_without_parsing(listing.period_labels(fast.fetch)) is None
            assert fast.levelled_periods() == browse.levelled_periods(engine)
            assert fast.latest_period() == "2031-02" == browse.latest_period(engine)
            assert fast.dashboard(TODAY) == browse.dashboard(engine, TODAY)
        finally:
            fast.close()
    finally:
        engine.dispose()


def test_an_empty_database_reads_the_same(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = open_engine(url)
    try:
        fast = FastReader.open(url)
        assert fast is not None
        try:
            assert fast.levelled_periods() == browse.levelled_periods(engine) == []
            assert fast.program() is browse.program_or_none(engine) is None
            assert fast.program_heading() is None
            assert fast.dashboard(TODAY) == browse.dashboard(engine, TODAY)
            assert fast.partner_keys(listing.PartnerQuery(sort="tier")) == []
            assert fast.filter_choices() == browse.filter_choices(engine)
        finally:
            fast.close()
    finally:
        engine.dispose()


def test_the_reader_sees_writes_made_through_the_engine(demo, reader):
    _, engine = demo
    before = reader.dashboard(TODAY).partners
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO partner (partner_id, name, region, country, partner_type, account_manager) "
                "VALUES ('ZZ-NEW', 'Brand New', 'EMEA', '', 'MSP', 'Nobody')"
            )
        )
    try:
        assert reader.dashboard(TODAY).partners == before + 1
        assert reader.partner_search_texts() == browse.partner_search_texts(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM partner WHERE partner_id = 'ZZ-NEW'"))


def test_the_reader_never_writes(reader):
    import sqlite3

    with pytest.raises(sqlite3.OperationalError):
        reader.fetch("DELETE FROM partner")


PROGRAMS = sorted((ROOT / "fixtures" / "programs").glob("*.toml")) + [ROOT / "fixtures" / "imports" / "program.toml"]


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_the_program_heading_is_what_parsing_the_program_says(path):
    from tiertui.scoring import parse_program

    content = path.read_text(encoding="utf-8")
    program = parse_program(content, path.name)
    assert listing.program_heading(content) == listing.ProgramHeading(program.name, program.tiers)
    padded = content.replace(f'"{program.tiers[-1]}"', f'"  {program.tiers[-1]} "', 1)
    assert listing.program_heading(padded).tiers == program.tiers


@pytest.mark.parametrize(
    "content",
    [
        "",
        "[program",
        "program = 1",
        "[program]\nname = 'x'",
        "[program]\nname = ' '\ntiers = ['A']",
        "[program]\nname = 'x'\ntiers = []",
        "[program]\nname = 'x'\ntiers = ['A', 2]",
    ],
)
def test_a_heading_that_is_not_plain_is_left_to_the_full_parse(content):
    assert listing.program_heading(content) is None


def test_the_first_page_at_once_is_the_first_page_or_nothing(demo, reader):
    _, engine = demo
    period = browse.latest_period(engine)
    for query in (
        listing.PartnerQuery(),
        listing.PartnerQuery(sort="name", descending=True),
        listing.PartnerQuery(event="held"),
    ):
        found = reader.first_partner_keys(query, 25, within=5.0)  # a generous budget: it answers
        assert found == (period, browse.partner_keys(engine, query, limit=25).tolist())
    assert reader.first_partner_keys(listing.PartnerQuery(sort="tier"), 25, within=5.0) is None  # needs tiers
    assert reader.first_partner_keys(listing.PartnerQuery(sort="score"), 25, within=0.0) is None  # no time
    assert EngineReader(lambda: engine).first_partner_keys(listing.PartnerQuery(), 25, within=5.0) is None
    assert (
        reader.partner_keys(listing.PartnerQuery(), limit=3)
        == browse.partner_keys(engine, listing.PartnerQuery(), limit=3).tolist()
    )
