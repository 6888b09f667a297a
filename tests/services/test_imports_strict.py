"""Strict reading (spec v2 §2), certification renewals and yes/no flags on import.

Every case here was a silent guess before v2: a file that imported "successfully" with a partner
named ``\\ufeffpartner_id``, a second partner ``M1\\u200b``, blanked regions, an empty value where
a spreadsheet formula had never been calculated. Now each is a bad row or a bad file, named by
line and column, and nothing of the file is written.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
from db_builder import seat_team
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tiertui.services import programs
from tiertui.services.imports import ImportRejected, import_file
from tiertui.storage import open_engine, schema

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "fixtures" / "imports" / "program.toml"
FIRST_SCHEMA_DB = ROOT / "fixtures" / "databases" / "first-schema.db"
PARTNERS = "partner_id,name,region,parent_id,account_manager"
CERTS = "partner_id,person,certification,track,earned_on,expires_on"

FLAG_PROGRAM = """
[program]
name = "Flags"
frequency = "quarterly"
grace_periods = 1
at_risk_margin = 0.10
tiers = ["Registered", "Silver"]

[metrics.revenue]
label = "Revenue"
unit = "USD"

[metrics.msp]
label = "Managed service provider"
unit = "yes/no"

[[score]]
metric = "revenue"
points = 100
target = 1000

[requirements.Silver]
min_score = 50
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def rejected(engine, kind: str, path: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        import_file(engine, kind, path, "ana")
    return info.value


def where(exc: ImportRejected) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in exc.problems]


def seed(engine, tmp_path: Path) -> None:
    import_file(
        engine,
        "partners",
        write(tmp_path, "seed.csv", f"{PARTNERS}\nM1,Acme,EMEA,,Mia\nM2,Globex,APAC,M1,Raj\n"),
        "ana",
    )


def partners(engine) -> list[tuple]:
    return rows(engine, "SELECT partner_id, name, region, parent_id, account_manager FROM partner ORDER BY partner_id")


SEEDED = [("M1", "Acme", "EMEA", None, "Mia"), ("M2", "Globex", "APAC", "M1", "Raj")]


def xlsx(tmp_path: Path, name: str, table: list[list], sheet: str = "Partners") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for row in table:
        ws.append(row)
    path = tmp_path / name
    book.save(path)
    return path


# ---------------------------------------------------------------------------- quotes and widths


def test_an_unbalanced_quote_is_a_bad_row_not_one_swallowed_partner(engine, tmp_path):
    seed(engine, tmp_path)
    path = write(
        tmp_path,
        "p.csv",
        f'{PARTNERS}\nM5,Initech,EMEA,,Mia\nM6,"Acme,EMEA,,Mia\nM7,Hooli,NA,,Raj\nM8,Umbrella,NA,,Raj\n',
    )
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "name")]
    assert "quoted field is never closed" in str(exc)
    assert partners(engine) == SEEDED  # not "1 rows, 1 new"


def test_a_quote_closed_in_the_middle_of_a_field_is_a_bad_row(engine, tmp_path):
    path = write(tmp_path, "p.csv", f'{PARTNERS}\nM5,Initech,EMEA,,Mia\nM6,"Acme" EMEA,EMEA,,Mia\n')
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "name")]
    assert "unbalanced quote" in str(exc)


@pytest.mark.parametrize("cell, column", [('Acme "EMEA', "name"), ('12" screen', "name")])
def test_a_stray_quote_in_an_unquoted_field_is_a_bad_row(engine, tmp_path, cell, column):
    path = write(tmp_path, "p.csv", f'{PARTNERS}\nM5,Initech,EMEA,,Mia\nM6,{cell},EMEA,,Mia\nM7,"say ""hi""",NA,,Raj\n')
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, column)] and "unbalanced quote" in str(exc)
    fine = write(tmp_path, "ok.csv", f'{PARTNERS}\nM7,"say ""hi""",NA,,Raj\nM8,say "hi" twice,NA,,Raj\n')
    import_file(engine, "partners", fine, "ana")
    assert [r[1] for r in partners(engine)] == ['say "hi"', 'say "hi" twice']


def test_a_short_row_is_a_bad_row_and_the_stored_values_stay(engine, tmp_path):
    seed(engine, tmp_path)
    path = write(tmp_path, "p.csv", f"{PARTNERS}\nM1,Acme Corp,EMEA,,Mia\nM2,Globex\n")
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "region")]
    assert "the row has 2 cells but the header has 5 columns" in str(exc)
    assert partners(engine) == SEEDED  # region, parent and manager not blanked


def test_a_long_row_is_a_bad_row(engine, tmp_path):
    path = write(tmp_path, "p.csv", f"{PARTNERS}\nM1,Acme,EMEA,,Mia,\nM2,Globex,APAC,,Raj\n")
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(2, "#6")]


def test_trailing_empty_header_cells_from_a_spreadsheet_still_read(engine, tmp_path):
    path = write(tmp_path, "p.csv", f"{PARTNERS},,\nM1,Acme,EMEA,,Mia,,\n")
    assert import_file(engine, "partners", path, "ana").inserted == 1


def test_a_quoted_field_with_commas_and_newlines_is_still_one_cell(engine, tmp_path):
    path = write(tmp_path, "p.csv", f'{PARTNERS}\nM1,"Acme, ""The Best""\nLtd",EMEA,,Mia\nM2,Globex,APAC,,Raj\n')
    import_file(engine, "partners", path, "ana")
    assert [r[:2] for r in partners(engine)] == [("M1", 'Acme, "The Best"\nLtd'), ("M2", "Globex")]


# ---------------------------------------------------------------------------- headers and ids


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_a_repeated_header_is_a_bad_row(engine, tmp_path, bom):
    path = write(tmp_path, "p.csv", f"\ufeff{PARTNERS}\nM1,Acme,EMEA,,Mia\n{bom}{PARTNERS}\nM2,Globex,APAC,,Raj\n")
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "")]
    assert "header row is repeated" in str(exc)
    assert partners(engine) == []  # no partner named "\ufeffpartner_id"


@pytest.mark.parametrize(
    "pid, what",
    [
        (" M1", "spaces before or after"),
        ("M1 ", "spaces before or after"),
        ("M1\u200b", "invisible character (\\u200b)"),
        ("\ufeffM1", "invisible character (\\ufeff)"),
        ("M\x071", "invisible character (\\x07)"),
        ("M1\t", "invisible character (\\t)"),
        ("M\u202e1", "invisible character (\\u202e)"),
        ("M1\u00a0", "invisible character (\\xa0)"),
    ],
)
def test_a_partner_id_with_invisible_or_surrounding_characters_is_a_bad_row(engine, tmp_path, pid, what):
    seed(engine, tmp_path)
    path = write(tmp_path, "p.csv", f'{PARTNERS}\nM3,Initech,EMEA,,Mia\n"{pid}",Acme again,EMEA,,Mia\n')
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "partner_id")]
    assert what in str(exc)
    assert partners(engine) == SEEDED  # no second M1
    # the same id as a parent, and in a metrics file
    path = write(tmp_path, "p2.csv", f'{PARTNERS}\nM3,Initech,EMEA,"{pid}",Mia\n')
    assert where(rejected(engine, "partners", path)) == [(2, "parent_id")]
    path = write(tmp_path, "m.csv", f'partner_id,period,revenue\n"{pid}",2026-Q1,5\n')
    exc = rejected(engine, "metrics", path)
    assert where(exc) == [(2, "partner_id")] and what in str(exc)


# ---------------------------------------------------------------------------- periods and encodings


@pytest.mark.parametrize("period", ["0000-Q1", "1899-Q4", "3000-Q1", "0000-01", "0099", "10000-Q1"])
def test_a_period_outside_1900_to_2999_is_a_bad_row(engine, tmp_path, period):
    seed(engine, tmp_path)
    path = write(tmp_path, "m.csv", f"partner_id,period,revenue\nM1,2026-Q1,5\nM2,{period},7\n")
    exc = rejected(engine, "metrics", path)
    assert where(exc) == [(3, "period")]
    assert "unexpected" not in str(exc)
    long = write(tmp_path, "l.csv", f"partner_id,period,metric,value\nM1,{period},revenue,5\n")
    assert where(rejected(engine, "metrics", long)) == [(2, "period")]


def test_the_first_and_last_years_are_periods(engine, tmp_path):
    seed(engine, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,revenue\nM1,1900-Q1,5\nM2,2999-Q4,7\n")
    assert import_file(engine, "metrics", path, "ana").inserted == 2


@pytest.mark.parametrize(
    "data, found",
    [
        ("partner_id,name\nM1,Müller\n".encode("cp1252"), "byte 0xfc is not UTF-8"),
        ("partner_id,name\nM1,Müller\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_a_file_that_is_not_utf8_says_so_and_names_the_encoding(engine, tmp_path, data, found):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", data))
    message = str(exc)
    assert "not UTF-8" in message and found in message and "save it as UTF-8" in message
    assert partners(engine) == []


def test_a_utf8_file_with_a_bom_reads(engine, tmp_path):
    path = write(tmp_path, "p.csv", "\ufeffpartner_id,name\nM1,Müller\n".encode())
    import_file(engine, "partners", path, "ana")
    assert rows(engine, "SELECT partner_id, name FROM partner") == [("M1", "Müller")]


def test_the_error_lists_the_first_twenty_bad_rows_by_line_and_column(engine, tmp_path):
    bad = "".join(f"M{i}\u200b,Name{i}\n" for i in range(25))
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name\n" + bad))
    listed = str(exc).splitlines()
    assert listed[0] == "p.csv: rejected, 25 problems:"
    assert [line.split(":")[0].strip() for line in listed[1:21]] == [
        f"line {n}, column partner_id" for n in range(2, 22)
    ]
    assert listed[21].strip() == "... and 5 more"


# ---------------------------------------------------------------------------- spreadsheets


def test_an_xlsx_formula_without_a_saved_value_names_the_sheet_and_cell(engine, tmp_path):
    seed(engine, tmp_path)
    path = xlsx(
        tmp_path,
        "p.xlsx",
        [["partner_id", "name", "region"], ["M1", "Acme", "EMEA"], ["M2", "=UPPER(B2)", "APAC"]],
        sheet="Team list",
    )
    exc = rejected(engine, "partners", path)
    assert set(where(exc)) == {(3, "name")}  # the formula, and so an empty name
    assert "sheet 'Team list', cell B3 holds a formula (=UPPER(B2)) with no saved value" in str(exc)
    assert partners(engine) == SEEDED  # not a partner with an empty name, nor "=UPPER(B2)"


def test_xlsx_strict_reading_names_lines_and_columns(engine, tmp_path):
    seed(engine, tmp_path)
    path = xlsx(
        tmp_path,
        "p.xlsx",
        [
            ["partner_id", "name", "region"],
            ["M3", "Initech", "EMEA"],
            ["M1\u200b", "Acme again", "EMEA"],
            ["partner_id", "name", "region"],
            ["M4", "Hooli", "NA", "extra"],
        ],
    )
    exc = rejected(engine, "partners", path)
    assert where(exc) == [(3, "partner_id"), (4, ""), (5, "#4")]
    metrics = xlsx(tmp_path, "m.xlsx", [["partner_id", "period", "revenue"], ["M1", "0000-Q1", 5]])
    assert where(rejected(engine, "metrics", metrics)) == [(2, "period")]
    assert partners(engine) == SEEDED


def test_an_xlsx_with_saved_formula_values_imports_the_values(engine, tmp_path):
    """A workbook saved by a spreadsheet program holds each formula's value: that value is imported."""
    path = xlsx(tmp_path, "p.xlsx", [["partner_id", "name"], ["M1", "=UPPER(B2)"]])
    # write the cached value the way Excel saves it: <f> and <v> in the same cell
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    cell = b'<c r="B2"><f>UPPER(B2)</f><v /></c>'
    assert cell in members[sheet]
    members[sheet] = members[sheet].replace(cell, b'<c r="B2" t="str"><f>UPPER(B2)</f><v>ACME</v></c>')
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    import_file(engine, "partners", path, "ana")
    assert rows(engine, "SELECT partner_id, name FROM partner") == [("M1", "ACME")]


# ---------------------------------------------------------------------------- renewals


def test_a_renewal_is_a_new_row_and_the_history_stays(engine, tmp_path):
    seed(engine, tmp_path)
    first = write(tmp_path, "c1.csv", f"{CERTS}\nM1,Ann,Sales Pro,sales,2024-01-10,2025-01-10\n")
    import_file(engine, "certifications", first, "ana")
    renewal = write(tmp_path, "c2.csv", f"{CERTS}\nM1,Ann,Sales Pro,sales,2025-01-05,2026-01-05\n")
    report = import_file(engine, "certifications", renewal, "ana")
    assert (report.inserted, report.updated) == (1, 0)
    assert rows(engine, "SELECT person, earned_on, expires_on FROM certification ORDER BY earned_on") == [
        ("Ann", "2024-01-10", "2025-01-10"),
        ("Ann", "2025-01-05", "2026-01-05"),
    ]
    # the same four-part key again updates that row only
    again = write(tmp_path, "c3.csv", f"{CERTS}\nM1,Ann,Sales Pro,sales,2025-01-05,2027-01-05\n")
    assert import_file(engine, "certifications", again, "ana").updated == 1
    assert rows(engine, "SELECT expires_on FROM certification ORDER BY earned_on") == [("2025-01-10",), ("2027-01-05",)]


def test_a_certification_key_twice_in_one_file_is_an_error(engine, tmp_path):
    seed(engine, tmp_path)
    path = write(
        tmp_path,
        "c.csv",
        f"{CERTS}\nM1,Ann,Sales Pro,sales,2024-01-10,\nM1,Ann,Sales Pro,sales,2025-01-10,\n"
        "M1,Ann,Sales Pro,sales,2024-01-10,2026-01-01\n",
    )
    exc = rejected(engine, "certifications", path)
    assert where(exc) == [(4, "certification")]
    assert "earned on 2024-01-10 on line 2" in str(exc)
    assert rows(engine, "SELECT COUNT(*) FROM certification") == [(0,)]


def test_the_first_schema_fixture_upgrades_to_renewals_keeping_every_certification(tmp_path):
    path = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_DB, path)
    select = "SELECT id, partner_key, person, certification, track, earned_on, expires_on FROM certification"
    with sqlite3.connect(path) as conn:
        before = Counter(conn.execute(select).fetchall())
        pid, person, cert, track, earned = conn.execute(
            "SELECT p.partner_id, person, certification, track, earned_on FROM certification c "
            "JOIN partner p ON p.key = c.partner_key ORDER BY c.id LIMIT 1"
        ).fetchone()
    conn.close()
    assert len(before) > 50
    engine = open_engine(f"sqlite:///{path}", create=False)
    schema.upgrade(engine, backup=False)
    assert schema.status(engine).current == schema.HEAD
    with engine.connect() as conn:
        after = Counter(tuple(r) for r in conn.exec_driver_sql(select))
    assert after == before
    seat_team(engine)
    renewal = write(tmp_path, "c.csv", f"{CERTS}\n{pid},{person},{cert},{track},2031-02-03,\n")
    assert import_file(engine, "certifications", renewal, "ana").inserted == 1
    with engine.connect() as conn:
        held = conn.exec_driver_sql(
            f"SELECT earned_on FROM certification WHERE person = '{person}' AND certification = '{cert}' "
            "ORDER BY earned_on"
        ).all()
    assert [r[0] for r in held] == sorted({earned, "2031-02-03"})
    engine.dispose()


# ---------------------------------------------------------------------------- flags


@pytest.fixture
def flags(engine, tmp_path):
    program = write(tmp_path, "flags.toml", FLAG_PROGRAM)
    programs.load_program_file(engine, program, "ana")
    seed(engine, tmp_path)
    return engine


@pytest.mark.parametrize("value", ["2", "0.5", "-1", "yes", "1.0001"])
def test_a_yes_no_flag_takes_only_0_or_1(flags, tmp_path, value):
    wide = write(tmp_path, "m.csv", f"partner_id,period,revenue,msp\nM1,2026-Q1,5,1\nM2,2026-Q1,7,{value}\n")
    exc = rejected(flags, "metrics", wide)
    assert where(exc) == [(3, "msp")]
    long = write(tmp_path, "l.csv", f"partner_id,period,metric,value\nM1,2026-Q1,msp,0\nM2,2026-Q1,msp,{value}\n")
    assert where(rejected(flags, "metrics", long)) == [(3, "value")]
    assert rows(flags, "SELECT COUNT(*) FROM metric_value") == [(0,)]


def test_flags_0_and_1_import_and_other_metrics_take_any_number(flags, tmp_path):
    wide = write(tmp_path, "m.csv", "partner_id,period,revenue,msp\nM1,2026-Q1,5.5,1\nM2,2026-Q1,-7,0\n")
    assert import_file(flags, "metrics", wide, "ana").inserted == 4
    assert rows(flags, "SELECT metric, value FROM metric_value WHERE metric = 'msp' ORDER BY value") == [
        ("msp", 0.0),
        ("msp", 1.0),
    ]


# ---------------------------------------------------------------------------- nothing written


def _bad_file(reason: str, good: list[str], at: int) -> tuple[str, str | bytes]:
    """A partners CSV (or a metrics CSV for a period) with one strict-reading problem at row ``at``."""
    rows_ = [f"N{i},Name {n}" for i, n in enumerate(good)]
    bad = {
        "quote": 'X1,"Never closed',
        "short": "X1",
        "long": "X1,Name,extra",
        "header": "\ufeffpartner_id,name",
        "space": "X1 ,Name",
        "zero-width": "X\u200b1,Name",
        "bom": "\ufeffX1,Name",
        "control": "X\x1b1,Name",
    }
    if reason == "period":
        lines = [f"M1,{2000 + i}-Q1,{i}" for i in range(len(good))]
        lines.insert(at % (len(lines) + 1), "M2,0000-Q1,1")
        return "metrics", "partner_id,period,revenue\n" + "\n".join(lines) + "\n"
    if reason == "encoding":
        return "partners", ("partner_id,name\n" + "\n".join([*rows_, "X1,Müller"]) + "\n").encode("cp1252")
    if reason == "quote":
        rows_.append(bad[reason])  # runs to the end of the file wherever it starts; put it last
    else:
        rows_.insert(at % (len(rows_) + 1), bad[reason])
    return "partners", "partner_id,name\n" + "\n".join(rows_) + "\n"


REASONS = ["quote", "short", "long", "header", "space", "zero-width", "bom", "control", "period", "encoding"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    reason=st.sampled_from(REASONS),
    good=st.lists(st.text(alphabet="abcxyz ", min_size=1, max_size=8).map(str.strip).filter(bool), max_size=6),
    at=st.integers(min_value=0, max_value=10),
)
def test_a_rejected_import_leaves_the_database_byte_for_byte_as_it_was(tmp_path, reason, good, at):
    path = tmp_path / "db.sqlite"
    if not path.exists():
        engine = open_engine(f"sqlite:///{path}")
        seat_team(engine)
        seed(engine, tmp_path)
        engine.dispose()  # the last connection checkpoints the WAL into the file
    before = path.read_bytes()
    kind, content = _bad_file(reason, good, at)
    file = write(tmp_path, f"bad-{reason}.csv", content)
    engine = open_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(ImportRejected):
            import_file(engine, kind, file, "ana")
    finally:
        engine.dispose()
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
