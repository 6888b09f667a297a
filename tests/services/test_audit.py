"""The audit log read back: services.audit.entries on SQLite and PostgreSQL, and `tiertui audit`.

The log is filled by real service calls (load a program, import, level, request, edit, approve and
reject overrides), never by hand, except for entries whose time matters (`--since`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from db_builder import PROGRAM
from sqlmodel import Session

from tiertui.services import audit, overrides, programs, roles
from tiertui.services.errors import ServiceError
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine
from tiertui.storage.tables import AuditEntry

TIERTUI = str(Path(sys.executable).with_name("tiertui"))

PARTNERS = """partner_id,name,region,country,partner_type,parent_id,account_manager,tier,tier_since
A1,Acme,EMEA,DE,VAR,,Lena,Gold,2024-01-01
B2,Bluepeak,LATAM,BR,VAR,,Lena,,
C3,Cirrus,EMEA,FR,MSP,A1,Omar,,
"""
METRICS = """partner_id,period,revenue,csat
A1,2026-Q1,400,
B2,2026-Q1,300,
C3,2026-Q1,200,
A1,2026-Q2,100,
B2,2026-Q2,300,95
C3,2026-Q2,100,
"""

# Newest first: what the fixture's service calls leave in the log (after the people were added).
WRITES = [
    "override.reject",
    "override.edit",
    "override.request",
    "override.approve",
    "override.request",
    "level.run",
    "import.metrics",
    "import.partners",
    "program.activate",
]


def add_people(engine, admin: str, **people: str) -> None:
    """Make sure ``admin`` is an admin and ``people`` (name=role) are users.

    On a database with nobody yet, ``admin`` becomes its admin (SQLite: as its first user;
    PostgreSQL: by adding themself, as a team's first admin does); people already there keep their role.
    """
    existing = {p.name for p in roles.people(engine)}
    if not existing and engine.dialect.name != "sqlite":
        roles.add(engine, admin, admin, "admin")
    assert roles.current_role(engine, admin) == "admin"
    for name, role in people.items():
        if name not in existing:
            roles.add(engine, admin, name, role)


def fill(engine, folder: Path) -> dict:
    """People, a program, two imports, a levelling run and two overrides: B2's approved, A1's
    edited then rejected. Returns the override ids."""
    add_people(engine, "ann", bob="approver", cy="manager", vic="viewer")
    (folder / "program.toml").write_text(PROGRAM)
    (folder / "partners.csv").write_text(PARTNERS)
    (folder / "metrics.csv").write_text(METRICS)
    programs.load_program_file(engine, folder / "program.toml", "ann")
    import_file(engine, "partners", folder / "partners.csv", "ann")
    import_file(engine, "metrics", folder / "metrics.csv", "ann")
    run_levelling(engine, "ann")
    b2 = overrides.request(engine, "cy", "B2", "Gold", "launch partner", date(2026, 4, 1))
    overrides.decide(engine, "bob", b2, True, "agreed")
    a1 = overrides.request(engine, "cy", "A1", "Platinum", "strategic", date(2026, 4, 1))
    overrides.edit(engine, "cy", a1, "Gold", "strategic account", date(2026, 4, 1), date(2026, 12, 31))
    overrides.decide(engine, "bob", a1, False, "no contract yet")
    return {"B2": b2, "A1": a1}


def add_entry(engine, at: datetime, action: str = "note.add", entity: str = "", entity_id: str = "", **detail):
    """An entry written directly, with an explicit time (or as an older tiertui wrote it)."""
    with Session(engine) as session, session.begin():
        session.add(
            AuditEntry(
                at=at,
                actor="old",
                action=action,
                entity=entity,
                entity_id=entity_id,
                detail=json.dumps(detail, sort_keys=True),
            )
        )


@pytest.fixture
def logged(any_engine, tmp_path):
    return any_engine, fill(any_engine, tmp_path)


# ---------------------------------------------------------------------------- the service


def test_every_write_is_logged_newest_first_with_a_one_line_summary(logged):
    engine, ids = logged
    lines = audit.entries(engine, "vic")
    actions = [line.action for line in lines]
    assert actions[: len(WRITES)] == WRITES
    assert set(actions[len(WRITES) :]) == {"user.add"}  # ann (SQLite: as first user), bob, cy, vic
    assert [line.id for line in lines] == sorted((line.id for line in lines), reverse=True)
    assert all(a.at >= b.at for a, b in zip(lines, lines[1:]))
    assert all(line.at.tzinfo is not None and line.at.utcoffset() == timedelta(0) for line in lines)
    assert all("\n" not in line.summary and len(line.summary) < 250 for line in lines)
    by_action = {}
    for line in lines:
        by_action.setdefault(line.action, line)
    b2, a1 = ids["B2"], ids["A1"]
    assert by_action["override.approve"].summary == (
        f"approved override {b2} for B2 (Gold): pending -> approved; note: agreed"
    )
    assert by_action["override.reject"].summary == (
        f"rejected override {a1} for A1 (Gold): pending -> rejected; note: no contract yet"
    )
    assert by_action["override.edit"].summary == (
        f"edited override {a1} for A1: expires_on – -> 2026-12-31; reason strategic -> strategic account; "
        "tier Platinum -> Gold"
    )
    assert [line.summary for line in lines if line.action == "override.request"] == [
        f"requested override {a1} for A1: Platinum from 2026-04-01, open-ended; reason: strategic",
        f"requested override {b2} for B2: Gold from 2026-04-01, open-ended; reason: launch partner",
    ]
    assert by_action["override.approve"].detail["before"] == {"status": "pending"}
    assert by_action["override.approve"].detail["after"] == {"status": "approved", "note": "agreed"}
    assert by_action["override.approve"].actor == "bob" and by_action["override.approve"].partner_id == "B2"
    # bulk writes: counts and the gist, not the rows
    assert by_action["import.partners"].summary.startswith(
        "imported partners from partners.csv: 3 rows (3 new, 0 updated); columns: name"
    )
    assert by_action["import.metrics"].summary.startswith("imported metrics from metrics.csv: 6 rows")
    level = by_action["level.run"].summary
    assert level.startswith(
        "levelled 3 partners over 2 periods (2026-Q1 to 2026-Q2) with Test v1; latest period 2026-Q2:"
    )
    assert "promoted" in level and "Platinum" not in level  # the tier counts stay in the detail
    assert by_action["program.activate"].summary == "activated program 'Test' version 1 from program.toml"
    assert "added vic as viewer" in {line.summary for line in lines if line.action == "user.add"}


def test_partner_filter_finds_the_partner_and_its_overrides_and_nothing_else(logged):
    engine, ids = logged
    b2 = audit.entries(engine, "vic", partner_id="B2")
    assert [(line.action, line.entity_id) for line in b2] == [
        ("override.approve", str(ids["B2"])),
        ("override.request", str(ids["B2"])),
    ]
    assert all(line.partner_id == "B2" for line in b2)
    a1 = audit.entries(engine, "vic", partner_id="A1")
    assert [line.action for line in a1] == ["override.reject", "override.edit", "override.request"]
    assert all(line.entity_id == str(ids["A1"]) for line in a1)
    assert audit.entries(engine, "vic", partner_id="C3") == []
    assert [line.id for line in audit.entries(engine, "vic", partner_id="b2")] == [line.id for line in b2]  # any case


def test_partner_filter_finds_entries_without_a_partner_id_and_of_deleted_overrides(logged):
    engine, ids = logged
    now = datetime.now(UTC).replace(microsecond=0)
    # as tiertui wrote decisions before they named the partner: found through tier_override.partner_key
    add_entry(
        engine,
        now,
        "override.approve",
        "override",
        str(ids["B2"]),
        before={"status": "pending"},
        after={"status": "approved", "note": ""},
    )
    add_entry(engine, now, "partner.rename", "partner", "B2", before={"name": "Blue"}, after={"name": "Bluepeak"})
    # an override since deleted (a replaced demo database): found by the partner id in its detail
    add_entry(
        engine,
        now,
        "override.request",
        "override",
        "999",
        partner_id="B2",
        tier="Silver",
        reason="old",
        starts_on="2025-01-01",
        expires_on=None,
    )
    # an entry about an override id from before the present override with that id: not B2's
    add_entry(
        engine,
        now - timedelta(days=400),
        "override.reject",
        "override",
        str(ids["B2"]),
        before={"status": "pending"},
        after={"status": "rejected", "note": "old"},
    )
    lines = audit.entries(engine, "vic", partner_id="B2")
    assert [line.action for line in lines] == [
        "override.request",
        "partner.rename",
        "override.approve",
        "override.approve",
        "override.request",
    ]
    assert lines[2].summary == f"approved override {ids['B2']} for B2 (Gold): pending -> approved"
    assert lines[0].summary.startswith("requested override 999 for B2: Silver")
    assert lines[1].summary == "partner.rename partner B2"
    assert not any(line.partner_id == "B2" for line in audit.entries(engine, "vic", partner_id="A1"))


def test_an_unknown_partner_is_an_error(logged):
    engine, _ = logged
    for wanted in ("ZZ9", "", "B2\x00"):
        with pytest.raises(ServiceError, match="no partner"):
            audit.entries(engine, "vic", partner_id=wanted)


def test_since_starts_at_midnight_utc_and_limit_keeps_the_newest(logged):
    engine, _ = logged
    add_entry(engine, datetime(2020, 1, 1, 23, 59, 59, tzinfo=UTC), entity_id="late on the 1st")
    add_entry(engine, datetime(2020, 1, 2, 0, 0, tzinfo=UTC), entity_id="midnight of the 2nd")
    everything = audit.entries(engine, "vic")
    assert [line.entity_id for line in everything[-2:]] == ["midnight of the 2nd", "late on the 1st"]  # by time, not id
    from_the_2nd = audit.entries(engine, "vic", since=date(2020, 1, 2))
    assert from_the_2nd[-1].entity_id == "midnight of the 2nd"
    assert len(audit.entries(engine, "vic", since=date(2020, 1, 2))) == len(everything) - 1
    assert len(audit.entries(engine, "vic", since=date(2020, 1, 1))) == len(everything)
    first_day = everything[len(everything) - 3].at.date()  # of the entries written by the fixture
    recent = audit.entries(engine, "vic", since=first_day)
    assert len(recent) == len(everything) - 2 and not any(line.actor == "old" for line in recent)
    assert audit.entries(engine, "vic", since=everything[0].at.date() + timedelta(days=1)) == []
    assert [line.id for line in audit.entries(engine, "vic", limit=3)] == [line.id for line in everything[:3]]
    assert [line.action for line in audit.entries(engine, "vic", partner_id="A1", limit=1)] == ["override.reject"]
    assert [line.action for line in audit.entries(engine, "vic", actions=["override.approve", "import"])] == [
        "override.approve",
        "import.metrics",
        "import.partners",
    ]


def test_reading_needs_the_viewer_role(logged):
    engine, _ = logged
    assert audit.entries(engine, "vic")  # a viewer reads it all
    with pytest.raises(
        roles.RoleRefused, match="mallory is not a user of this database; reading the audit log needs the viewer role"
    ):
        audit.entries(engine, "mallory")


def test_a_fresh_sqlite_file_is_readable_by_its_first_user(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert [line.summary for line in audit.entries(engine, "ann")] == [
            "added ann as admin (first person to use this database)"
        ]
    finally:
        engine.dispose()


def test_text_csv_and_json_output():
    at = datetime(2026, 1, 15, 9, 30, 59, tzinfo=UTC)
    lines = [
        audit.AuditLine(
            2,
            at,
            "bob",
            "override.approve",
            "override",
            "7",
            {"before": {"status": "pending"}, "after": {"status": "approved", "note": "ok"}},
            "approved override 7 for B2 (Gold): pending -> approved; note: ok",
            "B2",
        ),
        audit.AuditLine(
            1,
            at - timedelta(days=1),
            "alexandra",
            "program.activate",
            "program",
            "1",
            {"name": "Test", "version": 1},
            "activated program 'Test' version 1",
            None,
        ),
    ]
    out = io.StringIO()
    audit.write_entries(lines, "text", out)
    assert out.getvalue() == (
        "2026-01-15 09:30  bob               approved override 7 for B2 (Gold): pending -> approved; note: ok\n"
        "2026-01-14 09:30  alexandra         activated program 'Test' version 1\n"
    )
    out = io.StringIO()
    audit.write_entries(lines, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert rows[1][:8] == [
        "2",
        "2026-01-15T09:30:59Z",
        "bob",
        "override.approve",
        "override",
        "7",
        "B2",
        "approved override 7 for B2 (Gold): pending -> approved; note: ok",
    ]
    assert json.loads(rows[1][8])["after"] == {"note": "ok", "status": "approved"} and rows[2][6] == ""
    out = io.StringIO()
    audit.write_entries(lines, "json", out)
    data = json.loads(out.getvalue())
    assert data[0]["at"] == "2026-01-15T09:30:59Z" and data[0]["detail"]["before"] == {"status": "pending"}
    assert data[1]["partner_id"] is None
    out = io.StringIO()
    audit.write_entries([], "text", out)
    assert out.getvalue() == "No audit entries.\n"


def test_detail_rows_pair_before_and_after():
    line = audit.AuditLine(
        1,
        datetime(2026, 1, 1, tzinfo=UTC),
        "cy",
        "override.edit",
        "override",
        "3",
        {
            "partner_id": "A1",
            "before": {"tier": "Platinum", "expires_on": None},
            "after": {"tier": "Gold", "expires_on": "2026-12-31"},
        },
        "",
        "A1",
    )
    changes, rest = audit.detail_rows(line)
    assert changes == [("tier", "Platinum", "Gold"), ("expires_on", "–", "2026-12-31")]
    assert rest == [("partner_id", "A1")]


# ---------------------------------------------------------------------------- the command line


def tiertui(*args, user="vic", check=True):
    env = {**os.environ, "TIERTUI_USER": user}
    proc = subprocess.run([TIERTUI, *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"tiertui {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture
def cli_db(engine, db_url, tmp_path):
    ids = fill(engine, tmp_path)
    ids["entries"] = len(audit.entries(engine, "vic"))
    engine.dispose()
    return ["--db", db_url], ids


LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d  \S+ +\S.*$")


def test_cli_text_one_line_per_entry_newest_first(cli_db):
    db, ids = cli_db
    out = tiertui(*db, "audit").stdout.splitlines()
    assert len(out) == ids["entries"] and all(LINE.match(line) for line in out)
    assert re.search(
        f"  bob +rejected override {ids['A1']} for A1 \\(Gold\\): pending -> rejected; note: no contract yet$", out[0]
    )
    assert re.search("  ann +activated program 'Test' version 1 from program.toml$", out[len(WRITES) - 1])
    assert tiertui(*db, "audit", "--limit", "2").stdout.splitlines() == out[:2]
    b2 = tiertui(*db, "audit", "--partner", "B2").stdout.splitlines()
    assert len(b2) == 2 and all(f"override {ids['B2']} for B2" in line for line in b2)
    first_day, last_day = date.fromisoformat(out[-1][:10]), date.fromisoformat(out[0][:10])
    assert tiertui(*db, "audit", "--since", str(first_day)).stdout.splitlines() == out
    assert tiertui(*db, "audit", "--since", str(last_day + timedelta(days=1))).stdout == "No audit entries.\n"


def test_cli_json_and_csv(cli_db):
    db, ids = cli_db
    data = json.loads(tiertui(*db, "audit", "--partner", "A1", "--format", "json").stdout)
    assert [d["action"] for d in data] == ["override.reject", "override.edit", "override.request"]
    assert data[0]["detail"]["after"] == {"status": "rejected", "note": "no contract yet"}
    assert data[1]["detail"]["before"]["tier"] == "Platinum" and data[1]["detail"]["after"]["tier"] == "Gold"
    assert all(d["partner_id"] == "A1" and d["entity_id"] == str(ids["A1"]) for d in data)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data[0]["at"])
    rows = list(csv.DictReader(io.StringIO(tiertui(*db, "audit", "--format", "csv", "--limit", "1").stdout)))
    assert len(rows) == 1 and rows[0]["action"] == "override.reject" and rows[0]["partner_id"] == "A1"


@pytest.mark.parametrize(
    "args, user, code, message",
    [
        (["audit", "--since", "2026-13-01"], "vic", 2, "argument --since: '2026-13-01' is not a date (use YYYY-MM-DD)"),
        (["audit", "--limit", "0"], "vic", 2, "argument --limit: must be at least 1, not 0"),
        (["audit", "--partner", "ZZ9"], "vic", 1, "tiertui: error: no partner 'ZZ9'"),
        (
            ["audit"],
            "mallory",
            1,
            "mallory is not a user of this database; reading the audit log needs the viewer role",
        ),
    ],
)
def test_cli_errors_are_one_line(cli_db, args, user, code, message):
    db, _ = cli_db
    proc = tiertui(*db, *args, user=user, check=False)
    assert proc.returncode == code
    assert message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
