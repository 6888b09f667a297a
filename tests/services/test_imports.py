"""The importers (spec §2): what a channel manager sees when importing CSV and XLSX files."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from db_builder import seat_team
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tiertui.services import programs
from tiertui.services.errors import ServiceError
from tiertui.services.imports import KINDS, ImportRejected, ImportReport, RowProblem, import_file
from tiertui.storage import open_engine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"
PROGRAM = FIXTURES / "program.toml"
PARTNER_HEADER = "partner_id,name,region,country,partner_type,parent_id,account_manager,tier,tier_since"


def write(tmp_path: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding=encoding, newline="")
    return path


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def rejected(engine, kind: str, path: Path) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        import_file(engine, kind, path, "ana")
    return info.value


def problems(exc: ImportRejected) -> set[tuple[int, str]]:
    return {(p.line, p.column) for p in exc.problems}


def seed_partners(engine, tmp_path: Path, lines: str = "P1,Acme\nP2,Globex\nP3,Initech\n") -> None:
    import_file(engine, "partners", write(tmp_path, "seed.csv", "partner_id,name\n" + lines), "ana")


@pytest.fixture
def with_program(engine):
    programs.load_program_file(engine, PROGRAM, "ana")
    return engine


# ---------------------------------------------------------------------------- partners


def test_partners_import_stores_every_column_and_reports_counts(engine, tmp_path):
    path = write(
        tmp_path,
        "partners.csv",
        PARTNER_HEADER + "\n"
        "P1,Acme,EMEA,DE,Reseller,,Mia,Silver,2025-01-15\n"
        "P2,Acme Berlin,EMEA,DE,Reseller,P1,Mia,,\n",
    )
    report = import_file(engine, "partners", path, "ana")
    assert (report.kind, report.rows, report.inserted, report.updated) == ("partners", 2, 2, 0)
    assert report.text().startswith("partners.csv: 2 rows, 2 new, 0 updated")
    stored = rows(
        engine,
        "SELECT partner_id, name, region, country, partner_type, parent_id, account_manager, "
        "tier, tier_since FROM partner ORDER BY partner_id",
    )
    assert stored == [
        ("P1", "Acme", "EMEA", "DE", "Reseller", None, "Mia", "Silver", "2025-01-15"),
        ("P2", "Acme Berlin", "EMEA", "DE", "Reseller", "P1", "Mia", None, None),
    ]


def test_partners_reimport_updates_by_id_and_keeps_keys(engine, tmp_path):
    seed_partners(engine, tmp_path)
    keys_before = dict(rows(engine, "SELECT partner_id, key FROM partner"))
    path = write(tmp_path, "again.csv", "partner_id,name\nP2,Globex Corp\nP4,Umbrella\n")
    report = import_file(engine, "partners", path, "ana")
    assert (report.rows, report.inserted, report.updated) == (2, 1, 1)
    assert report.text() == "again.csv: 2 rows, 1 new, 1 updated (columns: name)"
    keys_after = dict(rows(engine, "SELECT partner_id, key FROM partner"))
    assert {k: keys_after[k] for k in keys_before} == keys_before
    assert rows(engine, "SELECT name FROM partner WHERE partner_id = 'P2'") == [("Globex Corp",)]
    assert len(keys_after) == 4


def test_a_column_absent_on_reimport_leaves_stored_values(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "a.csv", "partner_id,name,region,tier\nP1,Acme,EMEA,Gold\n"), "ana")
    import_file(engine, "partners", write(tmp_path, "b.csv", "partner_id,name,country\nP1,Acme AG,DE\n"), "ana")
    assert rows(engine, "SELECT name, region, country, tier FROM partner") == [("Acme AG", "EMEA", "DE", "Gold")]


def test_an_empty_cell_in_a_present_column_clears_the_value(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "a.csv", "partner_id,name,region,tier\nP1,Acme,EMEA,Gold\n"), "ana")
    import_file(engine, "partners", write(tmp_path, "b.csv", "partner_id,name,region,tier\nP1,Acme,,\n"), "ana")
    assert rows(engine, "SELECT region, tier FROM partner") == [("", None)]


def test_partners_required_values_and_dates_are_checked_by_line_and_column(engine, tmp_path):
    path = write(
        tmp_path,
        "partners.csv",
        PARTNER_HEADER + "\nP1,Acme,,,,,,,2025-13-01\n,Nameless,,,,,,,\nP3,,,,,,,,\nP4,Four,,,,,,,31/01/2025\n",
    )
    exc = rejected(engine, "partners", path)
    assert problems(exc) == {(2, "tier_since"), (3, "partner_id"), (4, "name"), (5, "tier_since")}
    assert "line 5, column tier_since: '31/01/2025' is not a date (use YYYY-MM-DD" in str(exc)
    assert str(exc).startswith("partners.csv: rejected, 4 problems:\n  line 2, column tier_since:")


def test_duplicate_partner_ids_name_the_earlier_line(engine, tmp_path):
    path = write(tmp_path, "partners.csv", "partner_id,name\nP1,Acme\nP2,Globex\nP1,Acme again\n")
    exc = rejected(engine, "partners", path)
    assert [str(p) for p in exc.problems] == ["line 4, column partner_id: partner 'P1' is already on line 2"]


def test_tiers_are_checked_against_the_active_program_with_a_suggestion(with_program, tmp_path):
    path = write(tmp_path, "partners.csv", "partner_id,name,tier\nP1,Acme,Gold\nP2,Globex,Silvr\nP3,Initech,\n")
    exc = rejected(with_program, "partners", path)
    assert [(p.line, p.column) for p in exc.problems] == [(3, "tier")]
    assert "'Silvr' is not a tier of program 'Import Test Program' (did you mean 'Silver'?)" in str(exc)


def test_any_tier_is_accepted_without_a_program(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "p.csv", "partner_id,name,tier\nP1,Acme,Diamond\n"), "ana")
    assert rows(engine, "SELECT tier FROM partner") == [("Diamond",)]


def test_parent_must_be_in_the_file_or_stored(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "p.csv", "partner_id,name,parent_id\nP5,Five,P1\nP6,Six,P5\nP7,Seven,P99\n")
    exc = rejected(engine, "partners", path)
    assert [str(p) for p in exc.problems] == [
        "line 4, column parent_id: parent 'P99' is neither in this file nor a stored partner"
    ]


def test_self_parent_is_an_error_naming_the_partner(engine, tmp_path):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name,parent_id\nP1,Acme,P1\n"))
    assert [str(p) for p in exc.problems] == ["line 2, column parent_id: partner 'P1' cannot be its own parent"]


def test_a_cycle_within_the_file_names_its_ids(engine, tmp_path):
    path = write(tmp_path, "p.csv", "partner_id,name,parent_id\nP0,Root,\nP1,A,P3\nP2,B,P1\nP3,C,P2\n")
    exc = rejected(engine, "partners", path)
    assert [str(p) for p in exc.problems] == ["line 3, column parent_id: parents form a cycle: P1 -> P3 -> P2 -> P1"]


def test_a_cycle_through_stored_partners_is_found(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "a.csv", "partner_id,name,parent_id\nA,A,\nB,B,A\nC,C,B\n"), "ana")
    exc = rejected(engine, "partners", write(tmp_path, "b.csv", "partner_id,name,parent_id\nA,A,C\n"))
    assert len(exc.problems) == 1
    message = str(exc.problems[0])
    assert message.startswith("line 2, column parent_id: parents form a cycle: A -> C -> B -> A")
    assert "'C', 'B' stored, not in this file" in message
    assert rows(engine, "SELECT parent_id FROM partner WHERE partner_id = 'A'") == [(None,)]


def test_reparenting_in_the_file_can_break_a_would_be_cycle(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "a.csv", "partner_id,name,parent_id\nA,A,\nB,B,A\n"), "ana")
    # B no longer under A, so A may now go under B.
    import_file(engine, "partners", write(tmp_path, "b.csv", "partner_id,name,parent_id\nB,B,\nA,A,B\n"), "ana")
    assert rows(engine, "SELECT partner_id, parent_id FROM partner ORDER BY partner_id") == [("A", "B"), ("B", None)]


def test_without_a_parent_column_stored_parents_stay(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "a.csv", "partner_id,name,parent_id\nA,A,\nB,B,A\n"), "ana")
    import_file(engine, "partners", write(tmp_path, "b.csv", "partner_id,name\nB,Bee\n"), "ana")
    assert rows(engine, "SELECT parent_id FROM partner WHERE partner_id = 'B'") == [("A",)]


# ---------------------------------------------------------------------------- headers and files


def test_unknown_column_is_named_with_a_suggestion(engine, tmp_path):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name,regoin\nP1,Acme,EMEA\n"))
    assert [(p.line, p.column) for p in exc.problems] == [(1, "regoin")]
    assert "unknown column (did you mean 'region'?)" in str(exc)


def test_missing_required_column_is_an_error(engine, tmp_path):
    exc = rejected(engine, "certifications", write(tmp_path, "c.csv", "partner_id,person,certification,earned_on\n"))
    assert [str(p) for p in exc.problems] == ["line 1, column track: required column is missing"]


def test_header_names_ignore_case_and_surrounding_spaces(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "p.csv", " Partner_ID , Name \nP1, Acme \n"), "ana")
    assert rows(engine, "SELECT partner_id, name FROM partner") == [("P1", "Acme")]


def test_header_only_file_imports_nothing(engine, tmp_path):
    report = import_file(engine, "partners", write(tmp_path, "p.csv", PARTNER_HEADER + "\n"), "ana")
    assert (report.rows, report.inserted, report.updated) == (0, 0, 0)


@pytest.mark.parametrize("content", ["", "\n\n", "\ufeff"])
def test_completely_empty_file_is_an_error(engine, tmp_path, content):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", content))
    assert "p.csv: rejected, 1 problem:" in str(exc)
    assert "the file is empty: expected a header row partner_id,name," in str(exc)


def test_trailing_empty_header_cells_from_spreadsheets_are_ignored(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "p.csv", "partner_id,name,,\nP1,Acme,,\n"), "ana")
    assert rows(engine, "SELECT partner_id FROM partner") == [("P1",)]


def test_an_empty_header_cell_between_columns_is_named(engine, tmp_path):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,,name\nP1,x,Acme\n"))
    assert [str(p) for p in exc.problems] == ["line 1, column #2: the header cell is empty: every column needs a name"]


def test_byte_order_mark_is_tolerated(engine, tmp_path):
    import_file(engine, "partners", write(tmp_path, "p.csv", "\ufeffpartner_id,name\nP1,Acme\n"), "ana")
    assert rows(engine, "SELECT partner_id FROM partner") == [("P1",)]


def test_blank_lines_are_skipped_but_line_numbers_stay_true(engine, tmp_path):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name\r\nP1,Acme\r\n\r\nP2,\r\n"))
    assert [(p.line, p.column) for p in exc.problems] == [(4, "name")]


def test_quoted_multiline_cells_keep_later_line_numbers_right(engine, tmp_path):
    path = write(tmp_path, "p.csv", 'partner_id,name\nP1,"Acme\nGmbH"\nP2,\n')
    exc = rejected(engine, "partners", path)
    assert [(p.line, p.column) for p in exc.problems] == [(4, "name")]


def test_not_utf8_names_the_line(engine, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("partner_id,name\nP1,Acme\nP2,Caf\u00e9\n".encode("latin-1"))
    exc = rejected(engine, "partners", path)
    assert [(p.line, p.column) for p in exc.problems] == [(3, "")]
    assert "not UTF-8" in str(exc)


def test_a_row_with_extra_cells_is_bad(engine, tmp_path):
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name\nP1,Acme,oops\nP2,Globex,\n"))
    # spec v2 strict reading: a row with more cells than the header is bad, even an empty extra cell
    assert [(p.line, p.column) for p in exc.problems] == [(2, "#3"), (3, "#3")]
    assert all("the row has 3 cells but the header has 2 columns" in p.message for p in exc.problems)


@pytest.mark.parametrize("name", ["partners.txt", "partners"])
def test_unknown_extension_is_a_clear_error(engine, tmp_path, name):
    path = write(tmp_path, name, "partner_id,name\nP1,Acme\n")
    with pytest.raises(ServiceError, match="use a .csv or .xlsx file"):
        import_file(engine, "partners", path, "ana")


def test_missing_file_and_unknown_kind_are_clear_errors(engine, tmp_path):
    with pytest.raises(ServiceError, match="no such file"):
        import_file(engine, "partners", tmp_path / "nope.csv", "ana")
    with pytest.raises(ServiceError, match="did you mean 'partners'"):
        import_file(engine, "partner", write(tmp_path, "p.csv", "partner_id,name\n"), "ana")
    assert KINDS == ("partners", "metrics", "certifications")


def test_message_lists_twenty_problems_then_counts_the_rest(engine, tmp_path):
    body = "".join(f"P{i},\n" for i in range(25))
    exc = rejected(engine, "partners", write(tmp_path, "p.csv", "partner_id,name\n" + body))
    lines = str(exc).splitlines()
    assert lines[0] == "p.csv: rejected, 25 problems:"
    assert lines[1] == "  line 2, column name: name is empty"
    assert lines[20] == "  line 21, column name: name is empty"
    assert lines[21:] == ["  ... and 5 more"]
    assert exc.total == 25 and len(exc.problems) == 25


# ---------------------------------------------------------------------------- XLSX


def write_xlsx(path: Path, table: list[list], leading_sheet_rows: int = 0) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in table:
        sheet.append(row)
    other = book.create_sheet("Notes")
    other.append(["ignored: only the first sheet is read"])
    book.save(path)
    return path


def test_xlsx_partners_with_typed_cells(engine, tmp_path):
    path = write_xlsx(
        tmp_path / "partners.xlsx",
        [
            ["partner_id", "name", "tier_since", "parent_id"],
            [1001, "Acme", datetime(2025, 3, 31), None],
            [1002, "Globex", date(2025, 4, 1), 1001],
        ],
    )
    report = import_file(engine, "partners", path, "ana")
    assert (report.rows, report.inserted) == (2, 2)
    assert rows(engine, "SELECT partner_id, tier_since, parent_id FROM partner ORDER BY partner_id") == [
        ("1001", "2025-03-31", None),
        ("1002", "2025-04-01", "1001"),
    ]


def test_xlsx_bad_rows_use_sheet_row_numbers(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write_xlsx(
        tmp_path / "metrics.xlsx",
        [
            ["partner_id", "period", "revenue"],
            ["P1", "2026-Q1", 1200.5],
            [None, None, None],
            ["P2", "2026-Q1", "lots"],
        ],
    )
    exc = rejected(engine, "metrics", path)
    assert [str(p) for p in exc.problems] == ["line 4, column revenue: 'lots' is not a number"]


def test_a_file_that_is_not_a_workbook_is_a_clear_error(engine, tmp_path):
    path = write(tmp_path, "p.xlsx", "partner_id,name\n")
    with pytest.raises(ServiceError, match="cannot read p.xlsx as an Excel workbook"):
        import_file(engine, "partners", path, "ana")


# ---------------------------------------------------------------------------- metrics


def metric_values(engine) -> dict[tuple[str, str, str], float]:
    found = rows(
        engine,
        "SELECT p.partner_id, m.period, m.metric, m.value FROM metric_value m JOIN partner p ON p.key = m.partner_key",
    )
    return {(pid, period, metric): value for pid, period, metric, value in found}


def test_wide_metrics_store_values_and_skip_empty_cells(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,revenue,mrr\nP1,2026-q1, 1000 ,20.5\nP2,2026-Q1,,-3e2\n")
    report = import_file(engine, "metrics", path, "ana")
    assert metric_values(engine) == {
        ("P1", "2026-Q1", "revenue"): 1000.0,
        ("P1", "2026-Q1", "mrr"): 20.5,
        ("P2", "2026-Q1", "mrr"): -300.0,
    }
    assert (report.rows, report.inserted, report.updated) == (2, 3, 0)
    assert report.detail == "wide metrics: revenue, mrr"
    assert report.text() == "m.csv: 2 rows, 3 values, 3 new, 0 updated (wide metrics: revenue, mrr)"


def test_wide_reimport_updates_and_empty_cell_keeps_stored_value(engine, tmp_path):
    seed_partners(engine, tmp_path)
    import_file(engine, "metrics", write(tmp_path, "a.csv", "partner_id,period,revenue,mrr\nP1,2026-Q1,10,20\n"), "ana")
    second = write(tmp_path, "b.csv", "partner_id,period,revenue,mrr\nP1,2026-Q1,11,\n")
    report = import_file(engine, "metrics", second, "ana")
    assert (report.inserted, report.updated) == (0, 1)
    assert metric_values(engine) == {("P1", "2026-Q1", "revenue"): 11.0, ("P1", "2026-Q1", "mrr"): 20.0}


def test_long_metrics_are_detected_by_their_header(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "long.csv", "partner_id,period,metric,value\nP1,2026-07,revenue,5\nP1,2026-07,nps,42\n")
    report = import_file(engine, "metrics", path, "ana")
    assert report.detail == "long metrics: nps, revenue"
    assert metric_values(engine) == {("P1", "2026-07", "revenue"): 5.0, ("P1", "2026-07", "nps"): 42.0}
    again = import_file(engine, "metrics", path, "ana")
    assert (again.inserted, again.updated) == (0, 2)


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "'abc' is not a number"),
        ("1,000", "'1,000' is not a number (write it without thousands separators"),
        ("NaN", "'NaN' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("-Infinity", "'-Infinity' is not a finite number"),
        ("1e999", "'1e999' is not a finite number"),
        ("1_000", "'1_000' is not a number"),
    ],
)
def test_bad_numbers_are_named_by_line_and_column(engine, tmp_path, value, message):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "m.csv", f'partner_id,period,revenue,mrr\nP1,2026-Q1,1,2\nP2,2026-Q1,3,"{value}"\n')
    exc = rejected(engine, "metrics", path)
    assert len(exc.problems) == 1
    assert str(exc.problems[0]).startswith(f"line 3, column mrr: {message}")


def test_long_bad_value_and_empty_value_are_named(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,metric,value\nP1,2026-Q1,revenue,x\nP1,2026-Q1,mrr,\n")
    exc = rejected(engine, "metrics", path)
    assert [(p.line, p.column) for p in exc.problems] == [(2, "value"), (3, "value")]


def test_periods_are_parsed_and_bad_ones_named(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,revenue\nP1,2026,1\nP2,2026-Q5,2\nP3,,3\n")
    exc = rejected(engine, "metrics", path)
    assert [(p.line, p.column) for p in exc.problems] == [(3, "period"), (4, "period")]
    assert "'2026-Q5' is not a period (use 2026-Q3, 2026-07 or 2026)" in str(exc)


def test_period_frequency_must_match_the_active_program(with_program, tmp_path):
    seed_partners(with_program, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,revenue\nP1,2026-Q3,1\nP2,2026-07,2\n")
    exc = rejected(with_program, "metrics", path)
    assert [str(p) for p in exc.problems] == [
        "line 3, column period: '2026-07' is a monthly period, but program 'Import Test Program' is quarterly"
    ]


def test_undeclared_wide_metric_names_the_column_with_a_suggestion(with_program, tmp_path):
    seed_partners(with_program, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,revenue,revnue\nP1,2026-Q1,1,2\n")
    exc = rejected(with_program, "metrics", path)
    assert [(p.line, p.column) for p in exc.problems] == [(1, "revnue")]
    assert "'revnue' is not a metric of program 'Import Test Program' (did you mean 'revenue'?)" in str(exc)


def test_undeclared_long_metric_names_the_cell(with_program, tmp_path):
    seed_partners(with_program, tmp_path)
    path = write(tmp_path, "m.csv", "partner_id,period,metric,value\nP1,2026-Q1,revenue,1\nP1,2026-Q1,esclations,2\n")
    exc = rejected(with_program, "metrics", path)
    assert [(p.line, p.column) for p in exc.problems] == [(3, "metric")]
    assert "(did you mean 'escalations'?)" in str(exc)


def test_any_metric_name_is_accepted_without_a_program(engine, tmp_path):
    seed_partners(engine, tmp_path)
    import_file(engine, "metrics", write(tmp_path, "m.csv", "partner_id,period,anything_goes\nP1,2026,7\n"), "ana")
    assert metric_values(engine) == {("P1", "2026", "anything_goes"): 7.0}


def test_metrics_need_a_stored_partner(engine, tmp_path):
    seed_partners(engine, tmp_path)
    exc = rejected(engine, "metrics", write(tmp_path, "m.csv", "partner_id,period,revenue\nP1,2026,1\nP9,2026,2\n"))
    assert [str(p) for p in exc.problems] == [
        "line 3, column partner_id: partner 'P9' is not stored: import it with the partners first"
    ]


def test_wide_duplicates_are_reported_only_where_values_collide(engine, tmp_path):
    seed_partners(engine, tmp_path)
    ok = "partner_id,period,revenue,mrr\nP1,2026-Q1,1,\nP1,2026-Q1,,2\n"
    import_file(engine, "metrics", write(tmp_path, "ok.csv", ok), "ana")
    assert metric_values(engine) == {("P1", "2026-Q1", "revenue"): 1.0, ("P1", "2026-Q1", "mrr"): 2.0}
    bad = "partner_id,period,revenue,mrr\nP1,2026-Q1,1,\nP2,2026-Q1,1,1\nP1,2026-q1,5,2\n"
    exc = rejected(engine, "metrics", write(tmp_path, "bad.csv", bad))
    assert [str(p) for p in exc.problems] == ["line 4, column revenue: P1 2026-Q1 revenue is already given on line 2"]


def test_long_duplicates_name_the_earlier_line(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(
        tmp_path, "m.csv", "partner_id,period,metric,value\nP1,2026,revenue,1\nP1,2026,mrr,1\nP1,2026,revenue,2\n"
    )
    exc = rejected(engine, "metrics", path)
    assert [str(p) for p in exc.problems] == ["line 4, column metric: P1 2026 revenue is already given on line 2"]


def test_wide_file_without_metric_columns_is_an_error(engine, tmp_path):
    exc = rejected(engine, "metrics", write(tmp_path, "m.csv", "partner_id,period\nP1,2026\n"))
    assert "no metric columns" in str(exc)


# ---------------------------------------------------------------------------- certifications

CERT_HEADER = "partner_id,person,certification,track,earned_on,expires_on"


def test_certifications_import_and_reimport_by_key(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(
        tmp_path,
        "c.csv",
        CERT_HEADER + "\nP1,Ann,Sales Pro,sales,2025-01-01,\nP1,Bob,Sales Pro,sales,2025-02-01,2027-02-01\n",
    )
    report = import_file(engine, "certifications", path, "ana")
    assert (report.rows, report.inserted, report.updated) == (2, 2, 0)
    again = write(
        tmp_path, "c2.csv", CERT_HEADER + "\nP1,Ann,Sales Pro,sales,2025-06-01,2026-06-01\nP2,Cy,Tech,uc,2025-01-01,\n"
    )
    report = import_file(engine, "certifications", again, "ana")
    # spec v2: the key holds earned_on, so Ann's renewal is a new row and her first one stays
    assert (report.inserted, report.updated) == (2, 0)
    assert rows(engine, "SELECT person, earned_on, expires_on FROM certification ORDER BY person, earned_on") == [
        ("Ann", "2025-01-01", None),
        ("Ann", "2025-06-01", "2026-06-01"),
        ("Bob", "2025-02-01", "2027-02-01"),
        ("Cy", "2025-01-01", None),
    ]
    same_key = write(tmp_path, "c3.csv", CERT_HEADER + "\nP1,Ann,Sales Pro,sales,2025-06-01,2026-12-01\n")
    report = import_file(engine, "certifications", same_key, "ana")
    assert (report.inserted, report.updated) == (0, 1)
    assert rows(engine, "SELECT expires_on FROM certification WHERE person = 'Ann' ORDER BY earned_on") == [
        (None,),
        ("2026-12-01",),
    ]


def test_certifications_check_required_values_dates_and_partner(engine, tmp_path):
    seed_partners(engine, tmp_path)
    path = write(
        tmp_path,
        "c.csv",
        CERT_HEADER + "\n"
        "P1,Ann,Sales Pro,sales,2025-01-01,2024-12-31\n"
        "P1,,Sales Pro,sales,2025-01-01,\n"
        "P1,Bob,Sales Pro,,2025-01-01,\n"
        "P1,Cy,Sales Pro,sales,,\n"
        "P1,Di,Sales Pro,sales,2025-02-30,\n"
        "PX,Ed,Sales Pro,sales,2025-01-01,\n"
        "P1,Ann,Sales Pro,sales,2025-01-01,\n",
    )
    exc = rejected(engine, "certifications", path)
    assert [(p.line, p.column) for p in exc.problems] == [
        (2, "expires_on"),
        (3, "person"),
        (4, "track"),
        (5, "earned_on"),
        (6, "earned_on"),
        (7, "partner_id"),
        (8, "certification"),
    ]
    text_ = str(exc)
    assert "line 2, column expires_on: expires_on 2024-12-31 is before earned_on 2025-01-01" in text_
    assert (
        "line 8, column certification: 'Ann' of partner 'P1' already has 'Sales Pro' earned on 2025-01-01 on line 2"
        in text_
    )


# ---------------------------------------------------------------------------- transactions and audit


def test_rejected_file_writes_nothing_and_good_file_is_audited(engine, tmp_path):
    seed_partners(engine, tmp_path)
    audits_before = rows(engine, "SELECT COUNT(*) FROM audit_entry")[0][0]
    bad = write(tmp_path, "bad.csv", "partner_id,name\nP1,Renamed\nP8,New\nP9,\n")
    rejected(engine, "partners", bad)
    assert rows(engine, "SELECT partner_id, name FROM partner ORDER BY partner_id") == [
        ("P1", "Acme"),
        ("P2", "Globex"),
        ("P3", "Initech"),
    ]
    assert rows(engine, "SELECT COUNT(*) FROM audit_entry")[0][0] == audits_before
    import_file(engine, "metrics", write(tmp_path, "m.csv", "partner_id,period,revenue\nP1,2026,5\nP2,2026,6\n"), "bo")
    actor, action, detail = rows(engine, "SELECT actor, action, detail FROM audit_entry ORDER BY id DESC LIMIT 1")[0]
    assert (actor, action) == ("bo", "import.metrics")
    assert json.loads(detail) == {
        "file": "m.csv",
        "rows": 2,
        "inserted": 2,
        "updated": 0,
        "detail": "wide metrics: revenue",
    }


def test_progress_is_reported_from_zero_to_one(engine, tmp_path):
    calls: list[tuple[float, str]] = []
    body = "".join(f"P{i},Partner {i}\n" for i in range(45_000))
    import_file(
        engine,
        "partners",
        write(tmp_path, "p.csv", "partner_id,name\n" + body),
        "ana",
        progress=lambda f, m: calls.append((f, m)),
    )
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(calls) > 3
    assert calls[-1][1] == "p.csv: 45,000 rows, 45,000 new, 0 updated (columns: name)"


def test_report_and_problem_types_are_plain_values():
    problem = RowProblem(7, "revenue", "'abc' is not a number")
    assert str(problem) == "line 7, column revenue: 'abc' is not a number"
    report = ImportReport("partners", "/x/partners.csv", 5000, 4990, 10, "")
    assert report.text() == "partners.csv: 5,000 rows, 4,990 new, 10 updated"


# ---------------------------------------------------------------------------- property: rejection changes nothing

GOOD_VALUES = st.sampled_from(["1", " 2.5 ", "-3", "1e3", ""])
BAD_VALUES = st.sampled_from(["abc", "1,000", "nan", "inf", "--1"])


def dump(db_file: Path) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        return list(conn.iterdump())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P3"]), st.sampled_from(["2026-Q1", "2026-Q2"]), GOOD_VALUES, GOOD_VALUES
        ),
        max_size=6,
    ),
    bad=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["value", "partner", "period"]), BAD_VALUES),
        min_size=1,
        max_size=3,
    ),
)
def test_a_rejected_import_leaves_the_database_file_unchanged(tmp_path_factory, good, bad):
    tmp_path = tmp_path_factory.mktemp("prop")
    db_file = tmp_path / "tiertui.db"
    engine = open_engine(f"sqlite:///{db_file}")
    seed_partners(engine, tmp_path)
    first = write(tmp_path, "first.csv", "partner_id,period,revenue,mrr\nP1,2026-Q1,1,2\n")
    import_file(engine, "metrics", first, "ana")
    engine.dispose()
    before_bytes, before_dump = db_file.read_bytes(), dump(db_file)

    lines = [",".join(r) for r in dict.fromkeys(good)]  # distinct good rows may still collide: that is bad too
    for position, kind, value in bad:
        if kind == "value":
            row = f'P1,2026-Q3,1,"{value}"'
        elif kind == "partner":
            row = f'"NOPE-{value}",2026-Q3,1,'
        else:
            row = f'P2,"{value}",1,'
        lines.insert(min(position, len(lines)), row)
    path = write(tmp_path, "mixed.csv", "partner_id,period,revenue,mrr\n" + "\n".join(lines) + "\n")
    engine = open_engine(f"sqlite:///{db_file}")
    with pytest.raises(ImportRejected):
        import_file(engine, "metrics", path, "ana")
    engine.dispose()
    assert dump(db_file) == before_dump
    assert db_file.read_bytes() == before_bytes


# ---------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_engine():
    import os

    from sqlmodel import SQLModel

    url = os.environ.get("TIERTUI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TIERTUI_TEST_POSTGRES_URL is not set")
    engine = open_engine(url, create=False)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    seat_team(engine)
    yield engine
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.postgres
def test_imports_round_trip_on_postgresql(pg_engine, tmp_path):
    engine = pg_engine
    partners = write(
        tmp_path, "p.csv", PARTNER_HEADER + "\nP1,Acme,EMEA,DE,Reseller,,Mia,Gold,2025-01-15\nP2,Globex,,,,P1,,,\n"
    )
    assert import_file(engine, "partners", partners, "ana").inserted == 2
    again = import_file(engine, "partners", write(tmp_path, "q.csv", "partner_id,name\nP2,Globex AG\n"), "ana")
    assert (again.inserted, again.updated) == (0, 1)
    assert rows(engine, "SELECT partner_id, parent_id, tier, tier_since FROM partner ORDER BY partner_id") == [
        ("P1", None, "Gold", date(2025, 1, 15)),
        ("P2", "P1", None, None),
    ]
    wide = write(tmp_path, "w.csv", "partner_id,period,revenue,mrr\nP1,2026-Q1,1,\nP2,2026-Q1,2,3\n")
    import_file(engine, "metrics", wide, "ana")
    long = write(tmp_path, "l.csv", "partner_id,period,metric,value\nP1,2026-Q1,revenue,9\n")
    long = import_file(engine, "metrics", long, "ana")
    assert (long.inserted, long.updated) == (0, 1)
    assert metric_values(engine) == {
        ("P1", "2026-Q1", "revenue"): 9.0,
        ("P2", "2026-Q1", "revenue"): 2.0,
        ("P2", "2026-Q1", "mrr"): 3.0,
    }
    certs = write(tmp_path, "c.csv", CERT_HEADER + "\nP1,Ann,Sales Pro,sales,2025-01-01,2026-01-01\n")
    assert import_file(engine, "certifications", certs, "ana").inserted == 1
    assert import_file(engine, "certifications", certs, "ana").updated == 1
    rejected(engine, "partners", write(tmp_path, "bad.csv", "partner_id,name,parent_id\nP1,Acme,P2\n"))
    assert rows(engine, "SELECT parent_id FROM partner WHERE partner_id = 'P1'") == [(None,)]
