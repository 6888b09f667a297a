"""Safe output on the command line (spec v2 §4), run as a user runs it: the installed script.

Data is printed literally (no escape sequence reaches the terminal, a carriage return cannot
rewrite a line), no export may overwrite the database in use, a closed pipe ends quietly, long
messages are capped, and a password in a database URL is never printed or stored.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from cli_runner import TIERTUI, tiertui
from db_builder import seat_team, seed
from hostile_corpus import BIDI, ESCAPES, FORMULAS, MARKUP, OVERWRITE, formula_like, raw_controls

from tiertui.services import overrides, roles
from tiertui.services.demo import build_demo
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine

PASSWORD = "Hunter2Secret"
HOSTILE_USERS = ["\u202eevil", "\x9b31mred", "[b]bold[/b]"]  # names refuse only C0 controls


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    """A levelled database whose override reasons are the corpus' terminal attacks (pending ones)."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.db"
    engine = open_engine(f"sqlite:///{path}")
    seat_team(engine)
    seed(engine)
    run_levelling(engine, "ann")
    for reason in OVERWRITE + ESCAPES + BIDI + MARKUP + FORMULAS:
        if reason.strip():
            overrides.request(engine, "ann", "B2", "Gold", reason, date(2026, 1, 1))
    for name in HOSTILE_USERS:
        roles.add(engine, "ann", name, "viewer")
    engine.dispose()
    return path


def test_override_list_shows_reasons_literally_and_a_pending_override_stays_pending(hostile_db):
    out = tiertui("--db", f"sqlite:///{hostile_db}", "override", "list").stdout
    assert raw_controls(out) == set()
    lines = out.splitlines()
    assert len(lines) == len([r for r in OVERWRITE + ESCAPES + BIDI + MARKUP + FORMULAS if r.strip()])
    forged = [line for line in lines if "strategic" in line]
    assert len(forged) == 1 and forged[0].split()[1] == "pending"
    assert forged[0].endswith("strategic\\r    1  approved")  # shown, not obeyed
    assert any(line.endswith("\\x1b[2J\\x1b[31mRED") for line in lines)
    assert any("[link=http://evil.example]EMEA[/link]" in line for line in lines)  # brackets as they are
    assert all(line.split()[1] == "pending" for line in lines)


def test_audit_text_has_no_terminal_control_and_its_csv_no_formula(hostile_db):
    db = ("--db", f"sqlite:///{hostile_db}")
    out = tiertui(*db, "audit").stdout
    assert raw_controls(out) == set() and "\\x1b]0;title\\x07" in out
    table = list(csv.reader(io.StringIO(tiertui(*db, "audit", "--format", "csv").stdout, newline="")))
    assert len(table) > 10 and [c for row in table for c in row if formula_like(c)] == []


def test_users_and_errors_naming_them_print_literally(hostile_db):
    db = ("--db", f"sqlite:///{hostile_db}")
    out = tiertui(*db, "users").stdout
    assert raw_controls(out) == set()
    assert "\\u202eevil" in out and "\\x9b31mred" in out and "[b]bold[/b]" in out
    proc = tiertui(*db, "--user", "\u202eeve\x9b2J", "users", "add", "x", "--role", "viewer", check=False)
    assert proc.returncode == 1 and raw_controls(proc.stderr) == set() and "\\u202eeve" in proc.stderr


# ---------------------------------------------------------------------------- the database file


@pytest.fixture
def levelled(tmp_path) -> Path:
    path = tmp_path / "team.db"
    engine = open_engine(f"sqlite:///{path}")
    seat_team(engine)
    seed(engine)
    run_levelling(engine, "ann")
    engine.dispose()
    return path


def test_an_export_naming_the_database_is_refused_and_the_database_untouched(levelled, tmp_path):
    os.symlink(levelled, tmp_path / "link.db")
    before = levelled.read_bytes()
    db = ("--db", f"sqlite:///{levelled}")
    for output, fmt in (("team.db", "csv"), ("link.db", "xlsx"), ("./team.db-wal", "json"), (str(levelled), "csv")):
        proc = tiertui(
            *db, "export", "scorecards", "--period", "2026-Q2", "--format", fmt, "-o", output, check=False, cwd=tmp_path
        )
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"tiertui: error: refusing to write to {output}: it is the database")
    proc = tiertui(*db, "offline", "copy", "--to", "link.db", "--replace", check=False, cwd=tmp_path)
    assert proc.returncode == 1 and "refusing to write to link.db: it is the database file" in proc.stderr
    assert levelled.read_bytes() == before
    proc = tiertui(*db, "export", "scorecards", "--period", "2026-Q2", "-o", "out.csv", cwd=tmp_path)
    assert (tmp_path / "out.csv").read_text().startswith("partner_id,period,score")


def test_an_xlsx_export_holds_no_formula(tmp_path):
    path = tmp_path / "f.db"
    engine = open_engine(f"sqlite:///{path}")
    seat_team(engine)
    ids = [f for f in FORMULAS if f == f.strip()]
    seed(
        engine,
        [(pid, "n", "EMEA", "VAR", None, None) for pid in ids],
        [(pid, "2026-Q1", "revenue", 300) for pid in ids],
    )
    run_levelling(engine, "ann")
    engine.dispose()
    tiertui(
        "--db",
        f"sqlite:///{path}",
        "export",
        "scorecards",
        "--period",
        "2026-Q1",
        "--format",
        "xlsx",
        "-o",
        str(tmp_path / "s.xlsx"),
    )
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    cells = [c for row in book.active.iter_rows() for c in row]
    assert len(cells) > 9 * len(ids)
    assert [c.coordinate for c in cells if c.data_type == "f" or formula_like(c.value)] == []


# ---------------------------------------------------------------------------- pipes and long messages


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    engine = open_engine(f"sqlite:///{path}")
    seat_team(engine)
    build_demo(engine, partners=3000, seed=7, user="ann")
    engine.dispose()
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_closed_pipe_ends_quietly(big_db, fmt):
    """``tiertui export ... | head -c 100``: the reader goes away; no traceback, nothing on stderr."""
    proc = subprocess.Popen(
        [TIERTUI, "--db", f"sqlite:///{big_db}", "export", "scorecards", "--period", "2026-Q3", "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TIERTUI_USER": "ann"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""


def test_a_ten_thousand_deep_parent_cycle_gives_a_short_message(tmp_path):
    n = 10_000
    lines = [f"P{i:05d},Partner {i},P{(i + 1) % n:05d}" for i in range(n)]
    (tmp_path / "p.csv").write_text("partner_id,name,parent_id\n" + "\n".join(lines) + "\n")
    proc = tiertui("--db", f"sqlite:///{tmp_path / 'c.db'}", "import", "partners", str(tmp_path / "p.csv"), check=False)
    assert proc.returncode == 1
    assert len(proc.stderr) < 2_000, len(proc.stderr)
    assert "parents form a cycle of 10,000 partners: P00000 -> P00001 -> " in proc.stderr
    assert "(9,990 more) -> P00000" in proc.stderr


# ---------------------------------------------------------------------------- passwords


def test_a_password_in_the_query_string_is_never_printed_or_stored(postgres_url, tmp_path):
    url = f"{postgres_url}?password={PASSWORD}"
    outputs = []
    engine = open_engine(postgres_url)
    seat_team(engine)
    seed(engine)
    engine.dispose()
    outputs.append(tiertui("--db", url, "db", "upgrade", check=False))
    outputs.append(tiertui("--db", url, "level"))
    copy = tmp_path / "trip.db"
    outputs.append(tiertui("--db", url, "offline", "copy", "--to", str(copy)))
    outputs.append(tiertui("--db", url, "audit"))
    outputs.append(tiertui("--db", url, "audit", "--format", "json"))
    # connection errors: an unreachable port, a database that does not exist
    host = postgres_url.rsplit("/", 1)[0]
    outputs.append(tiertui("--db", f"{host.replace(':5432', ':1')}/nowhere?password={PASSWORD}", "level", check=False))
    outputs.append(tiertui("--db", f"{host}/no_such_database_x?password={PASSWORD}", "level", check=False))
    outputs.append(
        tiertui("--db", f"{host}/no_such_database_x?sslmode=disable&password={PASSWORD}", "db", "upgrade", check=False)
    )
    for proc in outputs:
        assert PASSWORD not in proc.stdout and PASSWORD not in proc.stderr, (proc.args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert outputs[-1].returncode != 0 and outputs[-2].returncode != 0
    assert copy.exists() and PASSWORD.encode() not in copy.read_bytes()
    with sqlite3.connect(copy) as conn:
        sources = [r[0] for r in conn.execute("SELECT source FROM offline_copy")]
    assert sources and all("password=***" in s for s in sources)
