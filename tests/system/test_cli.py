"""The command line, run as a user runs it: the installed `tiertui` script in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from cli_runner import tiertui
from db_builder import PROGRAM

PARTNERS = """partner_id,name,region,country,partner_type,parent_id,account_manager,tier,tier_since
A1,Acme,EMEA,DE,VAR,,Lena,Gold,2024-01-01
B2,Bluepeak,LATAM,BR,VAR,,Lena,,
C3,Cirrus,EMEA,FR,MSP,A1,Omar,,
D4,Dynamo,NA,US,VAR,,Omar,,
"""
METRICS = """partner_id,period,revenue,csat
A1,2026-Q1,400,
C3,2026-Q1,200,
B2,2026-Q1,300,
A1,2026-Q2,100,
C3,2026-Q2,100,
B2,2026-Q2,300,95
D4,2026-Q2,850,91
"""
CERTS = "partner_id,person,certification,track,earned_on,expires_on\n" + "".join(
    f"A1,person {i},UC Expert,uc,2020-01-01,\n" for i in range(4)
)


def _write_inputs(folder: Path) -> Path:
    (folder / "program.toml").write_text(PROGRAM)
    (folder / "partners.csv").write_text(PARTNERS)
    (folder / "metrics.csv").write_text(METRICS)
    (folder / "certs.csv").write_text(CERTS)
    return folder


@pytest.fixture
def workdir(tmp_path):
    return _write_inputs(tmp_path)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A database filled through the CLI once per module (each start of tiertui costs about a second)."""
    folder = _write_inputs(tmp_path_factory.mktemp("inputs"))
    db = ["--db", f"sqlite:///{folder / 'template.db'}"]
    loaded = tiertui(*db, "program", "load", str(folder / "program.toml")).stdout
    assert "Loaded 'Test' as version 1 (active)." in loaded.splitlines()
    for name, role in (("bob", "approver"), ("cy", "approver")):  # ann loaded first: she is the admin
        assert tiertui(*db, "users", "add", name, "--role", role).stdout == f"Added {name} as {role}.\n"
    for kind, name in [("partners", "partners.csv"), ("metrics", "metrics.csv"), ("certifications", "certs.csv")]:
        tiertui(*db, "import", kind, str(folder / name))
    return folder / "template.db"


@pytest.fixture
def levelled(imported, tmp_path):
    """A private copy of the imported database, for one test."""
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copy(imported, copy)
    return ["--db", f"sqlite:///{copy}"]


EXPECTED_Q2 = """partner_id,period,score,qualified_tier,earned_tier,effective_tier,event,at_risk,badges
A1,2026-Q2,52.00,Silver,Gold,Gold,grace,true,
B2,2026-Q2,18.00,Authorized,Authorized,Authorized,held,false,Happy Customers
C3,2026-Q2,6.00,Authorized,Authorized,Authorized,held,false,
D4,2026-Q2,51.00,Silver,Silver,Silver,promoted,false,Big Seller;Happy Customers
"""
# A1: group revenue 100 + 100 = 200 -> 12 points, 4 uc people -> 40: 52; Gold needs revenue 500: Silver only,
#     grace 1 of 1 keeps Gold, and grace is at risk.  B2: 300 -> 18 < 20: Authorized; csat 95 >= 90: a badge.
# C3: 100 -> 6.  D4: 850 -> 51, no uc people so not Gold: Silver (promoted from Authorized); both badges, by name.


def test_level_prints_a_summary_and_export_matches_the_spec_columns(levelled):
    out = tiertui(*levelled, "level").stdout
    assert "Levelled 4 partners over 2 periods (2026-Q1 to 2026-Q2)" in out
    assert "promoted 1, demoted 0, in grace 1, at risk 1" in out
    assert tiertui(*levelled, "export", "scorecards", "--period", "2026-Q2").stdout == EXPECTED_Q2


def test_export_to_files_in_json_and_xlsx(levelled, tmp_path):
    tiertui(*levelled, "level")
    tiertui(
        *levelled, "export", "scorecards", "--period", "2026-q2", "--format", "json", "-o", str(tmp_path / "s.json")
    )
    data = json.loads((tmp_path / "s.json").read_text())
    words = {k: data[0].pop(k) for k in ("next_tier", "gap", "at_risk_reasons")}
    assert words["next_tier"] == "Platinum" and words["gap"]
    assert words["at_risk_reasons"][:2] == [
        "Below Gold requirements (1 of 1 grace period used): demoted next period unless it qualifies again",
        "Score: 52.00, close to the Gold minimum of 50 (at risk below 55)",
    ]
    assert data[0] == {
        "partner_id": "A1",
        "period": "2026-Q2",
        "score": 52.0,
        "qualified_tier": "Silver",
        "earned_tier": "Gold",
        "effective_tier": "Gold",
        "event": "grace",
        "at_risk": True,
        "badges": [],
        "provisional": True,  # (v2 §3.13) not published
    }
    assert data[3]["badges"] == ["Big Seller", "Happy Customers"]
    tiertui(
        *levelled, "export", "scorecards", "--period", "2026-Q2", "--format", "xlsx", "-o", str(tmp_path / "s.xlsx")
    )
    from openpyxl import load_workbook

    rows = [
        [c if c is not None else "" for c in r]
        for r in load_workbook(tmp_path / "s.xlsx").active.iter_rows(values_only=True)
    ]
    expected = list(csv.reader(io.StringIO(EXPECTED_Q2)))
    assert rows[0] == expected[0]
    assert [r[0] for r in rows[1:]] == ["A1", "B2", "C3", "D4"]
    assert rows[1][2] == 52.0 and rows[1][7] == "true"


def test_override_flow_with_the_four_eyes_rule(levelled):
    tiertui(*levelled, "level")
    proc = tiertui(
        *levelled, "override", "request", "B2", "Gold", "--reason", "launch partner", "--starts", "2026-04-01"
    )
    oid = proc.stdout.strip()
    assert oid.isdigit()
    own = tiertui(*levelled, "override", "approve", oid, check=False)  # ann requested it
    assert own.returncode == 1
    assert own.stderr == f"tiertui: error: you requested override {oid}; someone else must approve it\n"
    ok = tiertui(*levelled, "--user", "bob", "override", "approve", oid, "--note", "agreed")
    assert ok.stdout == f"Override {oid} for B2 (Gold) approved by bob.\n"
    export = tiertui(*levelled, "export", "scorecards", "--period", "2026-Q2").stdout
    assert "B2,2026-Q2,18.00,Authorized,Authorized,Gold,held,false,Happy Customers" in export
    again = tiertui(*levelled, "override", "reject", oid, "--note", "no", user="cy", check=False)
    assert again.returncode == 1 and f"override {oid} is already approved by bob at" in again.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["export", "scorecards", "--period", "2026-Q7"], 2 - 1, "'2026-Q7' is not a period"),
        (
            ["override", "request", "B2", "Gold", "--reason", "x", "--starts", "01/04/2026"],
            2,
            "argument --starts: '01/04/2026' is not a date (use YYYY-MM-DD)",
        ),
        (["override", "approve", "999"], 1, "no override 999"),
        (["import", "partners", "missing.csv"], 1, "missing.csv"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    ],
)
def test_errors_are_one_line_on_stderr_with_no_traceback(levelled, args, code, message):
    proc = tiertui(*levelled, *args, check=False)
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_bad_program_file_is_rejected_with_line_and_suggestion(workdir, db_url):
    bad = workdir / "bad.toml"
    bad.write_text(PROGRAM.replace("[requirements.Platinum]", "[requirements.Platnum]"))
    proc = tiertui("--db", db_url, "program", "load", str(bad), check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("tiertui: error: bad.toml, line ")
    assert "requirements.Platnum: unknown tier 'Platnum' (did you mean 'Platinum'?)" in proc.stderr


def test_database_from_environment_and_default_location(workdir, tmp_path):
    env_db = f"sqlite:///{tmp_path / 'env.db'}"
    tiertui("program", "load", str(workdir / "program.toml"), env={"TIERTUI_DATABASE_URL": env_db})
    assert (tmp_path / "env.db").exists()
    home = tmp_path / "home"
    env = {"XDG_DATA_HOME": str(home / "data"), "HOME": str(home), "TIERTUI_DATABASE_URL": ""}
    tiertui("program", "load", str(workdir / "program.toml"), env=env)
    assert (home / "data" / "tiertui" / "tiertui.db").exists()


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+psycopg://ann:s3cret@127.0.0.1:1/x", "ann:***@127.0.0.1:1/x"),
        ("postgresql+psycopg://ann:s3c@ret@127.0.0.1:1/x", "write an @ in a user name or password as %40"),
        ("postgresql+psycopg://ann:s3c/ret@127.0.0.1:1/x", "ann:***@127.0.0.1:1/x"),  # an unencoded /
        ("postgresql+psycopg://ann:s3cret", "not a database URL (postgresql+psycopg://…)"),  # no host: a "port"
    ],
)
def test_a_password_in_the_database_url_is_never_printed(url, shown):
    proc = tiertui("--db", url, "level", check=False)
    assert proc.returncode == 1
    for part in ("s3c", "ret"):
        assert part not in proc.stderr + proc.stdout
    assert shown in proc.stderr and proc.stderr.count("\n") == 1


def test_whatif_lists_the_movers_of_a_scenario(levelled, tmp_path):
    tiertui(*levelled, "level")
    scenario = tmp_path / "stricter.toml"
    scenario.write_text(
        PROGRAM.replace("[requirements.Silver]\nmin_score = 20", "[requirements.Silver]\nmin_score = 55")
    )
    out = tiertui(*levelled, "whatif", str(scenario), "--period", "2026-Q2", "--format", "csv").stdout
    rows = list(csv.reader(io.StringIO(out)))
    # Only D4 moves: its 51 points no longer reach Silver (55). A1 (52) would not qualify either, but it is
    # Gold in its one grace period under both programs, so its effective tier does not change.
    assert rows[0] == ["partner_id", "from_tier", "to_tier", "reason"]
    assert [r[:3] for r in rows[1:]] == [["D4", "Silver", "Authorized"]]
    assert "55" in rows[1][3]
    text = tiertui(*levelled, "whatif", str(scenario), "--period", "2026-Q2").stdout
    assert "D4" in text
    bad = tiertui(*levelled, "whatif", str(tmp_path / "missing.toml"), check=False)
    assert bad.returncode == 1 and "missing.toml" in bad.stderr and "Traceback" not in bad.stderr


def test_an_older_database_is_refused_until_db_upgrade_which_backs_it_up_first(tmp_path):
    import shutil

    old = tmp_path / "old.db"
    shutil.copy(Path(__file__).resolve().parents[2] / "fixtures" / "databases" / "first-schema.db", old)
    db = ["--db", f"sqlite:///{old}"]
    refused = tiertui(*db, "level", check=False)
    assert refused.returncode == 1 and "tiertui db upgrade" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    upgraded = tiertui(*db, "db", "upgrade").stdout
    assert "from revision 0001 to" in upgraded and "Backup copy:" in upgraded
    assert len(list(tmp_path.glob("old.backup-*.db"))) == 1
    assert "Levelled 20 partners" in tiertui(*db, "level").stdout
    assert "already at schema revision" in tiertui(*db, "db", "upgrade").stdout


def _session_of_commands(url: str, folder: Path, trip: Path) -> list[str]:
    """Every command, as a team would run them, on the database at ``url``: what each printed."""
    db = ["--db", url]
    said = []

    def run(*args, user="ann", code=0):
        proc = tiertui(*db, *args, user=user, check=False)
        assert proc.returncode == code, (args, proc.stderr)
        stderr = "".join(line for line in proc.stderr.splitlines(True) if "made a new database" not in line)
        said.append((proc.stdout + stderr).replace(url, "URL"))  # a SQLite file is made, a server's is there
        return proc.stdout

    # the first admin of a team database adds themself; a SQLite file made ann its admin when she first used it
    run("users", "add", "ann", "--role", "admin", code=1 if url.startswith("sqlite") else 0)
    said.pop()
    run("users", "add", "bob", "--role", "approver")
    run("users", "add", "viv", "--role", "viewer")
    run("program", "load", str(folder / "program.toml"))
    for kind, name in [("partners", "partners.csv"), ("metrics", "metrics.csv"), ("certifications", "certs.csv")]:
        run("import", kind, str(folder / name))
    run("level")
    run("program", "list")
    run("export", "scorecards", "--period", "2026-Q2", user="viv")
    run("export", "scorecards", "--period", "2026-Q1", "--format", "json", user="viv")
    oid = run("override", "request", "B2", "Gold", "--reason", "launch partner", "--starts", "2026-04-01").strip()
    run("override", "approve", oid, code=1)  # four eyes
    run("override", "approve", oid, "--note", "agreed", user="bob")
    run("override", "reject", oid, "--note", "late", user="bob", code=1)  # already approved by bob
    run("override", "request", "C3", "Silver", "--reason", "viewer tries", "--starts", "2026-04-01", user="viv", code=1)
    run("override", "list")
    run("export", "scorecards", "--period", "2026-Q2", user="viv")
    scenario = folder / "stricter.toml"
    scenario.write_text(
        PROGRAM.replace("[requirements.Silver]\nmin_score = 20", "[requirements.Silver]\nmin_score = 55")
    )
    run("whatif", str(scenario), "--period", "2026-Q2", "--format", "csv", user="viv")
    run("users", "set", "viv", "manager")
    run("users", "remove", "viv", user="bob", code=1)  # an approver is no admin
    road = run(
        "override", "request", "C3", "Silver", "--reason", "on the road", "--starts", "2026-04-01", user="viv"
    ).strip()
    run("offline", "copy", "--to", str(trip), user="bob")  # bob holds the copy: his work in it is synced
    trip_db = ["--db", f"sqlite:///{trip}"]
    tiertui(*trip_db, "override", "approve", road, "--note", "fine", user="bob")
    run("offline", "sync", str(trip))
    run("override", "list")
    run("level")
    run("export", "scorecards", "--period", "2026-Q2", user="viv")
    run("db", "upgrade")
    audit = run("audit", "--format", "csv", user="viv")
    rows = list(csv.reader(io.StringIO(audit)))
    assert "added ann as admin" in ",".join(rows[-1])  # the oldest: said apart, as ann became admin apart
    said[-1] = "\n".join(",".join(row[1:]) for row in rows[:-1])  # without the times
    run("users")
    moments = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)?|\bin \d+(\.\d+)? s\b")
    copy_ids = re.compile(r"\b[0-9a-f]{16}\b")  # an offline copy's random id
    days = re.compile(r"(added by \S+ )\d{4}-\d\d-\d\d")  # tiertui users
    return [days.sub(r"\1DAY", copy_ids.sub("COPY", moments.sub("TIME", text))) for text in said]


def test_every_command_says_the_same_on_postgresql_as_on_sqlite(tmp_path, postgres_url):
    """The whole command line on a team database (PostgreSQL) and on a SQLite file: the same output,
    line for line (times and the database's own name aside)."""
    folder = _write_inputs(tmp_path)
    on_sqlite = _session_of_commands(f"sqlite:///{tmp_path / 'team.db'}", folder, tmp_path / "trip-a.db")
    on_postgres = _session_of_commands(postgres_url, folder, tmp_path / "trip-b.db")
    assert len(on_sqlite) == len(on_postgres) == 29
    for mine, theirs in zip(on_sqlite, on_postgres):
        assert mine.replace("trip-a.db", "TRIP") == theirs.replace("trip-b.db", "TRIP")
    assert (
        "C3,2026-Q2,6.00,Authorized,Authorized,Silver,held,false," in on_postgres[-4]
    )  # the trip's approval came home
