"""The partner list's natural order (issue 13): ids and names sort as a person reads them (P2 before
P10), in both directions, on SQLite and PostgreSQL, through both readers; every writer of partners
fills the sort keys."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from db_builder import seed
from hostile_corpus import MARKUP
from sqlalchemy import text

from tiertui.scoring.natural import natural_sort_key
from tiertui.services import exports, offline
from tiertui.services.demo import build_demo
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.services.read import FastReader
from tiertui.services.read import engine as reads
from tiertui.services.read import sql as statements
from tiertui.services.read.sql import PartnerQuery

# (id, name, region): ids whose text order is not their natural order, names with numbers
PARTNERS = [
    ("HP-10001", "Zeta 10 Systems", "EMEA"),
    ("HP-1000", "zeta 9 Systems", "EMEA"),
    ("HP-100000", "Éclair 2", "NA"),
    ("HP-10000", "Apex", "NA"),
    ("P10", "eclair 10", "EMEA"),
    ("P2", MARKUP[2], "NA"),  # "ACME [UK] Ltd": shown and sorted as the text it is
    ("p3", "Apex", "EMEA"),  # the same name as HP-10000: the natural id decides
    ("P1", "Bravo", "NA"),
]
BY_ID = ["HP-1000", "HP-10000", "HP-10001", "HP-100000", "P1", "P2", "p3", "P10"]
BY_NAME = ["P2", "HP-10000", "p3", "P1", "HP-100000", "P10", "HP-1000", "HP-10001"]


def write_partners(path: Path, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partner_id", "name", "region"])
        writer.writerows(rows)
    return path


@pytest.fixture
def listed(any_engine, tmp_path):
    import_file(any_engine, "partners", write_partners(tmp_path / "partners.csv", PARTNERS), "admin")
    return any_engine


def ids_of(engine, keys) -> list[str]:
    with engine.connect() as conn:
        by_key = dict(conn.execute(text("SELECT key, partner_id FROM partner")).all())
    return [by_key[int(k)] for k in keys]


@pytest.mark.parametrize(("sort", "expected"), [("partner_id", BY_ID), ("name", BY_NAME)])
def test_ids_and_names_in_natural_order_both_ways(listed, sort, expected):
    assert ids_of(listed, reads.partner_keys(listed, PartnerQuery(sort=sort))) == expected
    assert ids_of(listed, reads.partner_keys(listed, PartnerQuery(sort=sort, descending=True))) == expected[::-1]


def test_ties_of_another_column_go_in_natural_id_order(listed):
    keys = reads.partner_keys(listed, PartnerQuery(sort="region"))
    assert ids_of(listed, keys) == ["HP-1000", "HP-10001", "p3", "P10", "HP-10000", "HP-100000", "P1", "P2"]


def test_the_filtered_list_keeps_the_order(listed):
    keys = reads.partner_keys(listed, PartnerQuery(region="EMEA", sort="partner_id", descending=True))
    assert ids_of(listed, keys) == ["P10", "p3", "HP-10001", "HP-1000"]


def test_the_fast_reader_agrees_and_its_first_page_is_at_hand(listed):
    if listed.dialect.name != "sqlite":
        pytest.skip("the fast reader reads SQLite files")
    fast = FastReader.open(listed.url.render_as_string(hide_password=False))
    assert fast is not None
    try:
        for sort, expected in (("partner_id", BY_ID), ("name", BY_NAME)):
            for descending in (False, True):
                q = PartnerQuery(sort=sort, descending=descending)
                want = expected[::-1] if descending else expected
                assert ids_of(listed, fast.partner_keys(q)) == want
                first = fast.first_partner_keys(q, 3, within=1.0)
                assert first is not None and ids_of(listed, first[1]) == want[:3]
    finally:
        fast.close()


def test_the_first_page_comes_from_an_index_without_a_sort(listed):
    if listed.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    with listed.connect() as conn:
        for sort in ("partner_id", "name"):
            for descending in (False, True):
                sql, params = statements.partner_keys_sql("sqlite", PartnerQuery(sort=sort, descending=descending), "")
                plan = " ".join(
                    r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql} LIMIT 100", tuple(params))
                )
                assert "ix_partner_" in plan and "sort_key" in plan and "TEMP B-TREE" not in plan, plan


def test_a_renamed_partner_moves_to_its_new_place(listed, tmp_path):
    import_file(listed, "partners", write_partners(tmp_path / "rename.csv", [("P1", "Zulu 1", "NA")]), "admin")
    assert ids_of(listed, reads.partner_keys(listed, PartnerQuery(sort="name")))[-1] == "P1"


def test_every_writer_fills_the_sort_keys(listed):
    """Imports (above), the demo builder and the models' own inserts (the test builders') store the keys."""
    with listed.connect() as conn:
        stored = conn.execute(text("SELECT partner_id, name, id_sort_key, name_sort_key FROM partner")).all()
    assert stored and all(k == natural_sort_key(pid) and n == natural_sort_key(name) for pid, name, k, n in stored)


def test_the_demo_fills_the_sort_keys(any_engine):
    build_demo(any_engine, partners=40, seed=5, user="admin")
    with any_engine.connect() as conn:
        stored = conn.execute(text("SELECT partner_id, name, id_sort_key, name_sort_key FROM partner")).all()
    assert len(stored) == 40
    assert all(k == natural_sort_key(pid) and n == natural_sort_key(name) for pid, name, k, n in stored)


def test_find_a_partner_breaks_ties_in_natural_order(listed):
    # "zeta 9 Systems" before "Zeta 10 Systems": both names start with the word, the number decides
    assert [h.partner_id for h in reads.find_partners(listed, "zeta")] == ["HP-1000", "HP-10001"]
    texts = reads.EngineReader(lambda: listed).partner_find_texts()
    assert ids_of(listed, statements.find(texts, "zeta")) == ["HP-1000", "HP-10001"]


def test_exports_keep_the_order_of_spec_section_4(any_engine):
    """Spec §4: the scorecard export is sorted by partner_id (as text), whatever the list does."""
    partners = [(pid, name, "EMEA", "VAR", None, None) for pid, name, _region in PARTNERS]
    metrics = [(pid, "2026-Q1", "revenue", 100) for pid, _name, _region in PARTNERS]
    seed(any_engine, partners, metrics)
    run_levelling(any_engine, "admin")
    exported = [r.partner_id for r in exports.scorecard_rows(any_engine, "2026-Q1")]
    assert exported == sorted(pid for pid, _n, _r in PARTNERS)  # HP-1000, HP-10000, HP-100000, HP-10001, ...
    assert exported != BY_ID


def test_an_offline_copy_keeps_the_keys_and_the_order(listed, tmp_path):
    """The copy (SQLite, read by the fast reader) lists the partners in the same natural order."""
    report = offline.take_copy(listed, "viv", tmp_path / "trip.db")
    copy = FastReader.open(f"sqlite:///{report.path}")
    assert copy is not None
    try:
        ids = dict(copy.fetch("SELECT key, partner_id FROM partner"))
        assert [ids[k] for k in copy.partner_keys(PartnerQuery())] == BY_ID
        assert [ids[k] for k in copy.partner_keys(PartnerQuery(sort="name", descending=True))] == BY_NAME[::-1]
    finally:
        copy.close()
