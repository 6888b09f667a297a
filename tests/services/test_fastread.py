"""The read package's two readers: the fast path (stdlib sqlite3) returns exactly what the engine path returns."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from tiertui.scoring.natural import natural_sort_key
from tiertui.services.demo import build_demo
from tiertui.services.read import engine as reads
from tiertui.services.read import sql as read_sql
from tiertui.services.read.engine import EngineReader
from tiertui.services.read.fast import SCHEMA_REVISION, FastReader, sqlite_file
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
    read_sql.PartnerQuery(),
    read_sql.PartnerQuery(descending=True),
    *(read_sql.PartnerQuery(sort=key) for key in read_sql.PARTNER_SORTS),
    *(read_sql.PartnerQuery(sort=key, descending=True) for key in read_sql.PARTNER_SORTS),
    read_sql.PartnerQuery(text="a"),
    read_sql.PartnerQuery(text="  NeT ", sort="name"),
    read_sql.PartnerQuery(text="p00"),
    read_sql.PartnerQuery(text="a\x00b"),
    read_sql.PartnerQuery(at_risk=True),
    read_sql.PartnerQuery(at_risk=False, sort="score", descending=True),
    read_sql.PartnerQuery(event="promoted"),
    read_sql.PartnerQuery(event="grace", sort="tier"),
    read_sql.PartnerQuery(overridden=True),
    read_sql.PartnerQuery(overridden=False, sort="badges"),
    read_sql.PartnerQuery(region="EMEA", sort="account_manager"),
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
    assert reader.levelled_periods() == reads.levelled_periods(engine)
    assert reader.latest_period() == reads.latest_period(engine) is not None
    program = reads.program_or_none(engine)
    assert reader.program() == program
    assert reader.program_heading() == read_sql.ProgramHeading(program.name, program.tiers)
    assert reader.filter_choices() == reads.filter_choices(engine)
    assert reader.filter_choices(tracks=False) == reads.filter_choices(engine, tracks=False)
    for today in (TODAY, date(2020, 1, 1)):
        assert reader.dashboard(today) == reads.dashboard(engine, today)
    assert reader.partner_search_texts() == reads.partner_search_texts(engine)


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_partner_keys_and_rows_are_the_same(demo, reader, query):
    _, engine = demo
    program = reads.program_or_none(engine)
    tiers = reader.program_heading().tiers
    expected = reads.partner_keys(engine, query, program).tolist()
    assert reader.partner_keys(query, tiers) == expected
    assert reader.partner_keys(query, tiers, limit=7) == expected[:7]
    assert reader.partner_keys(query, tiers, limit=7) == reads.partner_keys(engine, query, program, 7).tolist()
    first, rest = reader.partner_key_chunks(query, tiers, first=7)
    assert first == expected[:7] and first + rest == expected
    assert list(EngineReader(lambda: engine).partner_key_chunks(query, tiers)) == [expected]
    period = reads.latest_period(engine)
    for some in (expected[:100], expected[-3:][::-1], []):
        assert reader.partner_rows(some, period) == reads.partner_rows(engine, some, period)
    older = replace(query, period=reads.levelled_periods(engine)[0])
    assert reader.partner_keys(older, tiers) == reads.partner_keys(engine, older, program).tolist()


def test_an_unknown_sort_is_refused_on_both_paths(reader, demo):
    _, engine = demo
    for read in (reader, EngineReader(lambda: engine)):
        with pytest.raises(reads.ServiceError, match="cannot sort by"):
            read.partner_keys(read_sql.PartnerQuery(sort="name; DROP TABLE partner"))


def test_the_engine_reader_reads_through_the_engine_functions(demo):
    _, engine = demo
    read = EngineReader(lambda: engine)
    program = reads.program_or_none(engine)
    assert read.latest_period() == reads.latest_period(engine)
    assert read.program() == program
    assert read.program_heading() == read_sql.ProgramHeading(program.name, program.tiers)
    assert (
        read.partner_keys(read_sql.PartnerQuery(), limit=5)
        == reads.partner_keys(engine, read_sql.PartnerQuery(), program, 5).tolist()
    )
    assert (
        read.partner_keys(read_sql.PartnerQuery(sort="tier"), program.tiers)
        == reads.partner_keys(engine, read_sql.PartnerQuery(sort="tier"), program).tolist()
    )
    assert read.dashboard(TODAY) == reads.dashboard(engine, TODAY)


def test_mixed_period_labels_are_ordered_by_the_scoring_module(tmp_path):
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=30, seed=3)
        latest = reads.latest_period(engine)
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
            assert read_sql.ordered_without_parsing(read_sql.period_labels(fast.fetch)) is None
            assert fast.levelled_periods() == reads.levelled_periods(engine)
            assert fast.latest_period() == "2031-02" == reads.latest_period(engine)
            assert fast.dashboard(TODAY) == reads.dashboard(engine, TODAY)
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
            assert fast.levelled_periods() == reads.levelled_periods(engine) == []
            assert fast.program() is reads.program_or_none(engine) is None
            assert fast.program_heading() is None
            assert fast.dashboard(TODAY) == reads.dashboard(engine, TODAY)
            assert fast.partner_keys(read_sql.PartnerQuery(sort="tier")) == []
            assert fast.filter_choices() == reads.filter_choices(engine)
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
                "INSERT INTO partner (partner_id, name, region, country, partner_type, account_manager, id_sort_key, "
                "name_sort_key) VALUES ('ZZ-NEW', 'Brand New', 'EMEA', '', 'MSP', 'Nobody', "
                f"'{natural_sort_key('ZZ-NEW')}', '{natural_sort_key('Brand New')}')"
            )
        )
    try:
        assert reader.dashboard(TODAY).partners == before + 1
        assert reader.partner_search_texts() == reads.partner_search_texts(engine)
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
    assert read_sql.program_heading(content) == read_sql.ProgramHeading(program.name, program.tiers)
    padded = content.replace(f'"{program.tiers[-1]}"', f'"  {program.tiers[-1]} "', 1)
    assert read_sql.program_heading(padded).tiers == program.tiers


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
    assert read_sql.program_heading(content) is None


def test_the_first_page_at_once_is_the_first_page_or_nothing(demo, reader):
    _, engine = demo
    period = reads.latest_period(engine)
    for query in (
        read_sql.PartnerQuery(),
        read_sql.PartnerQuery(sort="name", descending=True),
        read_sql.PartnerQuery(event="held"),
    ):
        found = reader.first_partner_keys(query, 25, within=5.0)  # a generous budget: it answers
        assert found == (period, reads.partner_keys(engine, query, limit=25).tolist())
    assert reader.first_partner_keys(read_sql.PartnerQuery(sort="tier"), 25, within=5.0) is None  # needs tiers
    assert reader.first_partner_keys(read_sql.PartnerQuery(sort="score"), 25, within=0.0) is None  # no time
    assert EngineReader(lambda: engine).first_partner_keys(read_sql.PartnerQuery(), 25, within=5.0) is None
    assert (
        reader.partner_keys(read_sql.PartnerQuery(), limit=3)
        == reads.partner_keys(engine, read_sql.PartnerQuery(), limit=3).tolist()
    )
