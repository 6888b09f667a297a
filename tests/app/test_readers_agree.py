"""The partner list, dashboard and filters read the same from a SQLite file (the sqlite3 fast path)
as from PostgreSQL (through the engine), on the same data: orders, ties and counts included."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from tiertui.services import browse, listing
from tiertui.services.fastread import EngineReader, FastReader
from tiertui.storage import open_engine

TODAY = date(2026, 1, 15)  # as the other app tests

QUERIES = [
    listing.PartnerQuery(),
    *(
        listing.PartnerQuery(sort=key, descending=descending)
        for key in listing.PARTNER_SORTS
        for descending in (False, True)
    ),
    listing.PartnerQuery(text="harbor"),
    listing.PartnerQuery(text="  NeT ", sort="name"),
    listing.PartnerQuery(text="p0001"),
    listing.PartnerQuery(text="100%"),
    listing.PartnerQuery(text="o_i"),
    listing.PartnerQuery(at_risk=True, sort="score", descending=True),
    listing.PartnerQuery(event="promoted"),
    listing.PartnerQuery(tier="Gold", sort="account_manager"),
    listing.PartnerQuery(region="EMEA", partner_type="MSP", sort="tier"),
    listing.PartnerQuery(manager="Ana Ruiz", overridden=False),
    listing.PartnerQuery(period="2025-Q2", sort="score"),
]


@pytest.fixture
def readers(sqlite_app_db, pg_app_db):
    fast = FastReader.open(sqlite_app_db)
    assert fast is not None
    engine = open_engine(pg_app_db)
    yield fast, EngineReader(lambda: engine), engine
    fast.close()
    engine.dispose()


def shown(reader, q: listing.PartnerQuery, period: str) -> list:
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
    assert fast.levelled_periods() == browse.levelled_periods(engine)
    assert fast.program_heading() == through_engine.program_heading()
    sqlite_engine = open_engine(sqlite_app_db)
    try:
        for needle in ("harbor", "P0000", "cloud 1", "ZZZ"):
            assert browse.find_partners(sqlite_engine, needle) == browse.find_partners(engine, needle)
    finally:
        sqlite_engine.dispose()
