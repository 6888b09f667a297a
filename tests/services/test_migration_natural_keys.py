"""Revision 0011: a database at 0010 upgrades, and its partners get their natural sort keys."""

from __future__ import annotations

from sqlalchemy import MetaData, text

from tiertui.scoring.natural import natural_sort_key
from tiertui.services.read import engine as reads
from tiertui.services.read.sql import PartnerQuery
from tiertui.storage import open_engine, schema

PARTNERS = [
    ("P10", "Zeta 10"),
    ("P2", "zeta 9"),
    ("HP-100000", "Ärzte 1"),
    ("HP-10001", "Apex"),
    ("P1", "ACME [UK] Ltd"),
]


def at_0010(engine) -> None:
    """Empty the database, build the schema up to revision 0010, and store partners as 0010 did."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    schema._migrate(engine, "0010")
    with engine.begin() as conn:
        for pid, name in PARTNERS:
            conn.execute(
                text(
                    "INSERT INTO partner (partner_id, name, region, country, partner_type, account_manager) "
                    "VALUES (:pid, :name, 'NA', '', 'VAR', '')"
                ),
                {"pid": pid, "name": name},
            )


def test_a_0010_database_upgrades_and_its_partners_get_their_keys(any_engine):
    url = any_engine.url.render_as_string(hide_password=False)
    engine = open_engine(url, create=False)
    at_0010(engine)
    assert schema.status(engine).current == "0010"

    schema.upgrade(engine, backup=False)

    assert schema.status(engine) == schema.SchemaStatus(schema.HEAD, schema.HEAD, False, False)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT partner_id, name, id_sort_key, name_sort_key FROM partner")).all()
        ids = {int(k): pid for k, pid in conn.execute(text("SELECT key, partner_id FROM partner")).all()}
    assert sorted((pid, name) for pid, name, _k, _n in stored) == sorted(PARTNERS)
    assert all(k == natural_sort_key(pid) and n == natural_sort_key(name) for pid, name, k, n in stored)
    assert [ids[int(k)] for k in reads.partner_keys(engine, PartnerQuery())] == [
        "HP-10001",
        "HP-100000",
        "P1",
        "P2",
        "P10",
    ]
    assert [ids[int(k)] for k in reads.partner_keys(engine, PartnerQuery(sort="name"))] == [
        "P1",
        "HP-10001",
        "HP-100000",
        "P2",
        "P10",
    ]
    engine.dispose()
