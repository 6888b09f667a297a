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
    sqlite_engine = open_engine(sqlite_app_db)
    try:
        for needle in ("harbor", "P0000", "cloud 1", "ZZZ"):
            assert reads.find_partners(sqlite_engine, needle) == reads.find_partners(engine, needle)
    finally:
        sqlite_engine.dispose()
