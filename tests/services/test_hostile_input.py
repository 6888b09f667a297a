"""Search, filters and free text are safe against hostile input (issue 5).

Quotes, ``%`` and ``_`` (LIKE wildcards), backslashes, SQL keywords, very long strings and control
characters: each either matches literally, matches nothing, or gets a clear message; never an
exception, never a changed database. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import os
import uuid
from datetime import date

import pytest
from db_builder import seat_team, seed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tiertui import cli
from tiertui.safe_text import visible
from tiertui.services import ServiceError
from tiertui.services.levelling import run_levelling
from tiertui.services.read import engine as reads
from tiertui.services.read import sql as read_sql
from tiertui.storage import open_engine

POSTGRES_ENV = "TIERTUI_TEST_POSTGRES_URL"  # as in conftest.py

PARTNERS = [
    ("P%1", "100% Cloud", "EMEA", "VAR", None, None),
    ("P_2", "Under_score Ltd", "EMEA", "VAR", None, None),
    ("PX1", "Pxx Plain", "LATAM", "MSP", None, None),  # what "P%1" / "P_1" would match as wildcards
    ("PY2", "Pyy Plain two", "NA", "MSP", None, None),
    ("Q3", "O'Brien & Sons", "EMEA", "VAR", None, None),
    ("R4", 'The "Quoted" Co', "NA", "VAR", None, None),
    ("S5", "Back\\slash Inc", "APAC", "MSP", None, None),
    ("T6", "Select From Where", "APAC", "VAR", None, None),
]
METRICS = [(pid, "2026-Q1", "revenue", 100.0 * i) for i, (pid, *_rest) in enumerate(PARTNERS)]

HOSTILE = [
    "'",
    '"',
    "''",
    "\\",
    "\\%",
    "%%",
    "_%_",
    "' OR '1'='1",
    '" OR ""="',
    "'; DROP TABLE partner; --",
    "1; DELETE FROM partner",
    "%' OR 1=1 --",
    "*",
    "[a-z]",
    "^P.*$",
    "?",
    ":name",
    "$1",
    "%s",
    "{0}",
    "\x00",
    "a\x00b",
    "\x1b[31mred",
    "\n",
    "\r\n",
    "\t",
    "\x7f",
    "\u202e",
    "\ufeff",
    "😀",
    "ß",
    "İ",
    "x" * 100_000,
    "%" * 100_000,
    "'" * 100_000,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db(request, tmp_path_factory):
    """One seeded, levelled database per backend for the whole module (a fresh one costs ~0.4 s)."""
    if request.param == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}")
        yield _seeded(engine)
        engine.dispose()
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"tiertui_hostile_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
    try:
        yield _seeded(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seeded(engine):
    seat_team(engine)
    seed(engine, partners=PARTNERS, metrics=METRICS)
    run_levelling(engine, "ann")
    return engine


@pytest.fixture
def db(module_db):
    """The module's database; every test leaves the seeded partners as they were."""
    yield module_db
    table_intact(module_db)


def by_ids(engine, keys) -> list[str]:
    return sorted(r.partner_id for r in reads.partner_rows(engine, keys, None))


def expected(needle: str) -> list[str]:
    """What a literal, case-insensitive 'contains' on id or name finds."""
    n = needle.strip().casefold()
    if "\x00" in n:  # a NUL cannot be searched for: it matches nothing
        return []
    if not n:
        return sorted(p[0] for p in PARTNERS)
    return sorted(pid for pid, name, *_ in PARTNERS if n in pid.casefold() or n in name.casefold())


def table_intact(engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT partner_id, name, region FROM partner ORDER BY partner_id")).all()
        assert [tuple(r) for r in rows] == sorted((p[0], p[1], p[2]) for p in PARTNERS)
        assert conn.execute(text("SELECT COUNT(*) FROM level_result")).scalar() == len(PARTNERS)


@pytest.mark.parametrize(
    "needle, found",
    [
        ("%", ["P%1"]),
        ("_", ["P_2"]),
        ("P%", ["P%1"]),
        ("P_", ["P_2"]),
        ("\\", ["S5"]),
        ("'", ["Q3"]),
        ("o'b", ["Q3"]),
        ('"quoted"', ["R4"]),
        ("select from", ["T6"]),
        ("0% c", ["P%1"]),
    ],
)
def test_wildcards_quotes_and_backslashes_match_literally(db, needle, found):
    keys = reads.partner_keys(db, reads.PartnerQuery(text=needle))
    assert by_ids(db, keys) == found
    assert sorted(h.partner_id for h in reads.find_partners(db, needle)) == found
    texts = reads.partner_search_texts(db)
    mask = read_sql.matching(list(texts.values()), needle)
    assert sorted(by_ids(db, [k for k, m in zip(texts, mask) if m])) == found


def test_hostile_search_text_matches_literally_or_nothing_and_breaks_nothing(db):
    for needle in HOSTILE:
        shown = repr(needle[:20])
        keys = reads.partner_keys(db, reads.PartnerQuery(text=needle))
        assert by_ids(db, keys) == expected(needle), shown
        hits = reads.find_partners(db, needle)
        assert sorted(h.partner_id for h in hits) == (expected(needle) if needle.strip() else []), shown
        reads.certification_ids(db, reads.CertificationQuery(partner=needle), date(2026, 5, 1))
        texts = reads.partner_search_texts(db)
        mask = read_sql.matching(list(texts.values()), needle)
        assert by_ids(db, [k for k, m in zip(texts, mask) if m]) == expected(needle), shown
        table_intact(db)


def test_hostile_filter_values_match_nothing_and_break_nothing(db):
    for needle in HOSTILE:
        shown = repr(needle[:20])
        for field in ("tier", "region", "partner_type", "manager", "event"):
            keys = reads.partner_keys(db, reads.PartnerQuery(**{field: needle}))
            assert len(keys) == 0, (field, shown)
        certs = reads.certification_ids(db, reads.CertificationQuery(track=needle), date(2026, 5, 1))
        assert len(certs) == 0, shown
        assert [r.partner_id for r in reads.partners_by_id(db, [needle, "Q3"], None)] == ["Q3"], shown
        with pytest.raises(ServiceError, match="no partner"):
            reads.partner_info(db, needle)
        table_intact(db)


@pytest.mark.parametrize("sort", ["name; DROP TABLE partner", "p.partner_id--", "1", "'"])
def test_an_unknown_sort_is_refused_clearly(db, sort):
    with pytest.raises(ServiceError, match="cannot sort by"):
        reads.partner_keys(db, reads.PartnerQuery(sort=sort))
    with pytest.raises(ServiceError, match="unknown certification status"):
        reads.certification_ids(db, reads.CertificationQuery(status=sort), date(2026, 5, 1))
    table_intact(db)


ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
WILD = st.lists(st.sampled_from(list("%_\\'\"pP1xX ;-") + ["DROP", "OR", "--", "/*"]), max_size=8).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(needle=st.one_of(ASCII, WILD, st.text(max_size=20)))
def test_random_search_text_never_raises_and_ascii_matches_literally(db, needle):
    keys = reads.partner_keys(db, reads.PartnerQuery(text=needle))
    hits = reads.find_partners(db, needle)
    reads.certification_ids(db, reads.CertificationQuery(partner=needle), date(2026, 5, 1))
    if needle.isascii():  # SQL LOWER and casefold agree on ASCII only
        assert by_ids(db, keys) == expected(needle)
        assert sorted(h.partner_id for h in hits) == (expected(needle) if needle.strip() else [])
    table_intact(db)


# --------------------------------------------------------------------------- the command line


def run_cli(capsys, url, *args, user="ann"):
    try:
        status = cli.main(["--db", url, "--user", user, *args])
    except SystemExit as exc:  # argparse refuses bad arguments with exit status 2
        status = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected" not in err, err
    return status, out, err


def db_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


REASONS = [
    "'; DROP TABLE tier_override; --",
    "100% sure_",
    'He said "yes"',
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "\x1b[31mred",
    "\u202eevil",
    "r" * 100_000,
    "nul\x00byte",
]


def test_override_reasons_are_stored_literally_or_refused_clearly(db, capsys):
    url = db_url(db)
    for reason in REASONS:
        shown = repr(reason[:20])
        status, out, err = run_cli(
            capsys, url, "override", "request", "Q3", "Gold", "--reason", reason, "--starts", "2026-01-01"
        )
        if status == 0:
            oid = int(out)
            with db.connect() as conn:
                stored = conn.execute(text("SELECT reason FROM tier_override WHERE id = :i"), {"i": oid}).scalar()
            assert stored == reason.strip(), shown
            status, out, err = run_cli(capsys, url, "override", "list")
            # spec v2 §4: printed literally, control characters (a tab too) shown as escapes
            assert status == 0 and f"by ann: {visible(reason.strip()[:50])}" in out, shown
        else:
            assert status == 1 and err.startswith("tiertui: error: ") and "reason" in err, (shown, err)
        table_intact(db)
    for hostile_id in ("'1 OR 1=1'", "1;DROP TABLE tier_override", "%", "0x10"):
        status, out, err = run_cli(capsys, url, "override", "approve", hostile_id, user="bob")
        assert status == 2 and "is not a whole number" in err
    status, out, err = run_cli(
        capsys, url, "override", "request", "Q3\x00", "Gold", "--reason", "x", "--starts", "2026-01-01"
    )
    assert status == 1 and "no partner" in err


CELLS = [
    "'; DROP TABLE partner; --",
    "100%_off",
    'quote " inside',
    "O'Reilly",
    "back\\slash",
    "\x1b[2J",
    "tab\tinside",
    "\u202eevil",
    "n" * 100_000,
    "nul\x00byte",
    "=cmd|' /C calc'!A0",
]


def test_import_cell_values_are_stored_literally_or_rejected_by_line(db, capsys, tmp_path):
    url = db_url(db)
    path = tmp_path / "partners.csv"
    for cell in CELLS:
        shown = repr(cell[:20])
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["partner_id", "name", "region", "account_manager"])
            writer.writerow(["ZZ1", cell, cell, cell])
        try:
            status, out, err = run_cli(capsys, url, "import", "partners", str(path))
            with db.connect() as conn:
                rows = conn.execute(
                    text("SELECT name, region, account_manager FROM partner WHERE partner_id = 'ZZ1'")
                ).all()
            if status == 0:
                assert [tuple(r) for r in rows] == [(cell.strip(),) * 3], shown
                found = [h.partner_id for h in reads.find_partners(db, cell)]
                assert found[:1] == ["ZZ1"], shown
            else:
                assert status == 1 and err.startswith("tiertui: error: partners.csv: rejected"), (shown, err)
                assert "line 2" in err, (shown, err)
                assert rows == [], shown  # nothing of a rejected file is written
        finally:
            with db.begin() as conn:  # the import re-levelled ZZ1: its results go with it
                conn.execute(
                    text(
                        "DELETE FROM level_result WHERE partner_key IN (SELECT key FROM partner WHERE partner_id = 'ZZ1')"
                    )
                )
                conn.execute(text("DELETE FROM partner WHERE partner_id = 'ZZ1'"))
        # a hostile partner id in a metrics file: a clear refusal by line, never an error
        path.write_text("partner_id,period,revenue\n" + f'"{cell.replace(chr(34), chr(34) * 2)}",2026-Q1,5\n')
        status, out, err = run_cli(capsys, url, "import", "metrics", str(path))
        assert status == 1 and "line 2" in err, (shown, err)
        assert "is not stored" in err or "NUL" in err or "invisible character" in err, (shown, err)
        table_intact(db)
