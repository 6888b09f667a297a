"""Safe output (spec v2 §4): hostile text in, literal text out; no export holds a formula.

The hostile corpus (``tests/hostile_corpus.py``) goes through import (names, regions, managers,
override reasons), levelling, every export format and the audit, and comes out as the same text,
never as a formula a spreadsheet would run or a sequence a terminal would obey.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from db_builder import PROGRAM, seed
from hostile_corpus import (
    ALL,
    ESCAPES,
    FORMULAS,
    MARKUP,
    NUL,
    OVERWRITE,
    PARTNER_IDS,
    STORABLE,
    formula_like,
    raw_controls,
)
from sqlalchemy import text

from tiertui.services import audit, exports, overrides, scenarios
from tiertui.services.errors import ServiceError
from tiertui.services.exports import ScorecardRow, refuse_database_path, split_badges
from tiertui.services.imports import ImportRejected, import_file
from tiertui.services.levelling import run_levelling
from tiertui.storage.database import display_name, redact

PARTNERS = "partner_id,name,region,account_manager"


def write_csv_file(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(data: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data, newline="")))


def xlsx_cells(data: bytes) -> list[openpyxl.cell.Cell]:
    book = openpyxl.load_workbook(io.BytesIO(data))  # not data_only: a formula would show as one
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


@pytest.fixture
def hostile(engine):
    """The base program and partners whose ids are formula, markup and emoji texts, levelled."""
    partners = [(pid, f"name {i}", "EMEA", "VAR", None, None) for i, pid in enumerate(PARTNER_IDS)]
    metrics = [(pid, "2026-Q1", "revenue", 300 + 10 * i) for i, pid in enumerate(PARTNER_IDS)]
    seed(engine, partners, metrics)
    run_levelling(engine, "ann")
    return engine


# ---------------------------------------------------------------------------- import


@pytest.mark.parametrize("kind, value", ALL, ids=[f"{k}-{i}" for i, (k, _) in enumerate(ALL)])
def test_the_corpus_imports_literally_into_names_regions_and_managers_or_is_refused_by_line(
    engine, tmp_path, kind, value
):
    path = write_csv_file(tmp_path / "p.csv", PARTNERS.split(","), [["H1", value, value, value]])
    if "\x00" in value:
        with pytest.raises(ImportRejected) as info:
            import_file(engine, "partners", path, "ann")
        assert {(p.line, p.column) for p in info.value.problems} == {(2, "name"), (2, "region"), (2, "account_manager")}
        return
    import_file(engine, "partners", path, "ann")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT name, region, account_manager FROM partner")).one()
    assert tuple(stored) == (value.strip(),) * 3


# ---------------------------------------------------------------------------- scorecard exports


def test_scorecard_csv_has_no_formula_cell_and_keeps_the_ids_readable(hostile):
    rows = exports.scorecard_rows(hostile, "2026-Q1")
    out = io.StringIO()
    exports.write_csv(rows, out)
    table = read_csv(out.getvalue())
    assert [c for row in table for c in row if formula_like(c)] == []
    shown = {row[0] for row in table[1:]}
    assert shown == {("'" + pid) if formula_like(pid) else pid for pid in PARTNER_IDS}


def test_scorecard_xlsx_never_holds_a_formula(hostile):
    rows = exports.scorecard_rows(hostile, "2026-Q1")
    out = io.BytesIO()
    exports.write_xlsx(rows, out)
    cells = xlsx_cells(out.getvalue())
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert [c.coordinate for c in cells if formula_like(c.value)] == []
    ids = {c.value for c in cells if c.column == 1 and c.row > 1}
    assert ids == {("'" + pid) if formula_like(pid) else pid for pid in PARTNER_IDS}
    scores = [c for c in cells if c.column == 3 and c.row > 1]
    assert scores and all(c.data_type == "n" for c in scores)  # numbers stay numbers


def test_scorecard_json_keeps_ids_exactly(hostile):
    out = io.StringIO()
    exports.write_json(exports.scorecard_rows(hostile, "2026-Q1"), out)
    assert {r["partner_id"] for r in json.loads(out.getvalue())} == set(PARTNER_IDS)


@pytest.mark.parametrize("value", FORMULAS)
def test_every_text_column_of_a_scorecard_is_neutralised(value):
    row = ScorecardRow(value, "2026-Q1", -1.5, value, value, value, value, True, (value, "Plain"))
    out = io.StringIO()
    exports.write_csv([row], out)
    [header, cells] = read_csv(out.getvalue())
    assert [c for i, c in enumerate(cells) if i != 2 and formula_like(c)] == []
    assert cells[2] == "-1.50"  # a negative score is a number, not text to neutralise
    assert cells[0] == "'" + value
    book = io.BytesIO()
    exports.write_xlsx([row], book)
    found = xlsx_cells(book.getvalue())
    assert [c.coordinate for c in found if c.data_type == "f" or formula_like(c.value)] == []
    first = found[len(header)].value  # XML turns a CR into a line feed; the quote still leads
    assert first.startswith("'") and first[2:] == value[1:]


def test_a_badge_holding_a_semicolon_is_one_badge_on_export():
    names = frozenset({"Gold;Partner"})
    assert split_badges("Big Seller;Gold;Partner;Zen", names) == ("Big Seller", "Gold;Partner", "Zen")
    assert split_badges("Gold;Partner", names) == ("Gold;Partner",)
    assert split_badges("Gold;Partner") == ("Gold", "Partner")  # no program names it: plain split
    row = ScorecardRow("P1", "2026-Q1", 1.0, "Gold", "Gold", "Gold", "held", False, ("Big Seller", "Gold;Partner"))
    out = io.StringIO()
    exports.write_csv([row], out)
    badges = read_csv(out.getvalue())[1][8]
    assert len(badges.split(";")) == 2 and badges.startswith("Big Seller;Gold")


# ---------------------------------------------------------------------------- audit and what-if


@pytest.fixture
def reasons(hostile):
    """An override request for each storable corpus value as its reason (NUL is refused)."""
    pid = PARTNER_IDS[0]
    made = []
    for kind, value in STORABLE:
        if not value.strip():
            continue
        try:
            made.append(overrides.request(hostile, "ann", pid, "Gold", value, date(2026, 1, 1)))
        except ServiceError as exc:  # a refusal is fine; it must name the problem, not echo the raw text
            assert not raw_controls(str(exc)), (kind, str(exc))
    assert len(made) >= len(STORABLE) - 2
    return hostile


def test_audit_csv_has_no_formula_cell_and_text_has_no_terminal_control(reasons):
    lines = audit.entries(reasons, "ann")
    out = io.StringIO()
    audit.write_entries(lines, "csv", out)
    table = read_csv(out.getvalue())
    assert len(table) > len(FORMULAS)
    assert [c for row in table for c in row if formula_like(c)] == []
    shown = io.StringIO()
    audit.write_entries(lines, "text", shown)
    assert raw_controls(shown.getvalue()) == set()
    assert "\\x1b[2J" in shown.getvalue()  # shown, visibly
    assert shown.getvalue().count("\n") == len(lines)  # one line per entry: nothing breaks a line


def test_whatif_csv_has_no_formula_cell(hostile, tmp_path):
    scenario = tmp_path / "stricter.toml"
    scenario.write_text(
        PROGRAM.replace("[requirements.Silver]\nmin_score = 20", "[requirements.Silver]\nmin_score = 99")
    )
    result = scenarios.whatif(hostile, scenario, "2026-Q1")
    assert {m.partner_id for m in result.movers} & {p for p in PARTNER_IDS if formula_like(p)}
    out = io.StringIO()
    scenarios.write_whatif(result, "csv", out)
    table = read_csv(out.getvalue())
    assert len(table) > 1 and [c for row in table for c in row if formula_like(c)] == []


# ---------------------------------------------------------------------------- the database file


def test_no_output_path_may_be_the_database_in_use(engine, tmp_path, monkeypatch):
    db_file = Path(engine.url.database)
    monkeypatch.chdir(tmp_path)
    os.symlink(db_file, tmp_path / "link.db")
    os.link(db_file, tmp_path / "hard.db")
    (tmp_path / "sub").mkdir()
    for output in (str(db_file), db_file.name, "sub/../" + db_file.name, "link.db", "hard.db", f"{db_file}-wal"):
        with pytest.raises(ServiceError, match="refusing to write to .*: it is the database"):
            refuse_database_path(engine, output)
    refuse_database_path(engine, "scorecards.csv")  # anything else is fine


# ---------------------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@db.example/tiertui?password=Hunter2Secret",
        "postgresql+psycopg://postgres@db.example/tiertui?sslmode=require&password=Hunter2Secret",
        "postgresql+psycopg://postgres:Hunter2Secret@db.example/tiertui",
        "postgresql+psycopg://postgres:Hunter2@Secret@db.example/tiertui",
        "postgresql+psycopg://db.example/tiertui?user=postgres&PASSWORD=Hunter2Secret",
        "connection failed: host=db.example password=Hunter2Secret user=postgres",
        "connection failed: host=db.example password='Hunter2 Secret' user=postgres",
    ],
)
def test_a_password_is_never_shown(url):
    for shown in (redact(url), display_name(url), redact(f"cannot open {url}: refused")):
        assert "Hunter2" not in shown and "Secret" not in shown, shown
    assert "db.example" in redact(url)


def test_markup_and_escapes_are_kept_as_data(engine, tmp_path):
    values = MARKUP + ESCAPES + OVERWRITE
    path = write_csv_file(
        tmp_path / "p.csv", PARTNERS.split(","), [[f"H{i}", v, "EMEA", "Mia"] for i, v in enumerate(values)]
    )
    import_file(engine, "partners", path, "ann")
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT name FROM partner ORDER BY key"))]
    assert stored == [v.strip() for v in values]
    assert NUL  # the NUL class is refused at import (test above)
