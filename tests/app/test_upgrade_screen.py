"""Opening an older database offers the schema upgrade (issue 5): app/upgrade.py.

On a copy of ``fixtures/databases/first-schema.db`` (revision 0001): ``u`` upgrades it (a backup
copy first, every row kept) and the app goes on to the dashboard; Escape or ``q`` quits and leaves
the file byte for byte as it was; a failed upgrade is shown and changes nothing further.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from db_builder import back_to_the_first_revision
from db_builder import sqlite_revision as revision

import tiertui.app
from tiertui.app import TiertuiApp, upgrade
from tiertui.app.upgrade import (
    Outcome,
    UpgradeApp,
    UpgradeScreen,
    offer_upgrade,
    outdated,
)
from tiertui.storage import DatabaseError, open_engine, schema
from tiertui.storage.schema import SchemaOutdated

FIRST_SCHEMA_DB = Path(__file__).resolve().parents[2] / "fixtures" / "databases" / "first-schema.db"
WIDE = (120, 40)


@pytest.fixture
def old_db(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the first-schema fixture; the working directory is its folder (the URL is relative,
    so the screen shows the same path in every run)."""
    target = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA_DB, target)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return target


URL = "sqlite:///old.db"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path) -> dict[str, Counter]:
    """Every row of every first-schema table (the columns revision 0001 has), as a multiset per table."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: Counter(conn.execute(f'SELECT {", ".join(sorted(columns))} FROM "{table}"').fetchall())
            for table, columns in schema.FIRST_SCHEMA.items()
        }
    finally:
        conn.close()


def driven(monkeypatch, cls, script) -> list:
    """Make ``cls.run()`` run headless at 120x40 with ``script`` as the person at the keyboard; returns
    the list of apps it ran."""
    original = cls.run
    ran = []

    def run(self, *args, **kwargs):
        ran.append(self)
        return original(self, headless=True, size=WIDE, auto_pilot=script)

    monkeypatch.setattr(cls, "run", run)
    return ran


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def shown(app) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query("Static"))


# ------------------------------------------------------------------------------ what is offered


def test_an_older_file_is_recognised_without_changing_a_byte(old_db):
    before = digest(old_db)
    target = outdated(URL)
    assert target is not None
    assert (target.current, target.head) == ("0001", schema.HEAD)
    every = [r.revision for r in reversed(list(schema._scripts().walk_revisions()))]
    assert [rev for rev, _ in target.steps] == every[1:]
    assert all(what for _, what in target.steps)
    assert target.backup_name == "old.backup-YYYYMMDD-HHMMSS.db"
    assert digest(old_db) == before
    assert sorted(p.name for p in old_db.parent.iterdir() if p.is_file()) == ["old.db"]  # no -wal, no -shm


def test_nothing_is_offered_for_a_current_new_or_unreadable_database(tmp_path):
    current = f"sqlite:///{tmp_path / 'current.db'}"
    open_engine(current).dispose()
    assert outdated(current) is None
    assert outdated(f"sqlite:///{tmp_path / 'new.db'}") is None
    assert not (tmp_path / "new.db").exists()
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert outdated(f"sqlite:///{tmp_path / 'junk.db'}") is None  # the app's own open says what is wrong
    assert outdated("sqlite://") is None
    newer = tmp_path / "newer.db"
    shutil.copyfile(current.removeprefix("sqlite:///"), newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.close()
    assert outdated(f"sqlite:///{newer}") is None  # made by a newer tiertui: the app refuses it as before


def test_the_pg_dump_reminder_names_the_database_never_the_password():
    from sqlalchemy.engine import make_url

    command = upgrade._pg_dump(make_url("postgresql+psycopg://ann:s3cr%40t@db.example.com:5433/team db"))
    assert command == (
        "pg_dump --format=custom --file='team db-before-upgrade.dump' --host=db.example.com "
        "--port=5433 --username=ann 'team db'"
    )


# ------------------------------------------------------------------------------ upgrading


async def test_u_upgrades_with_a_backup_and_keeps_every_row(old_db):
    before = rows(old_db)
    app = UpgradeApp(outdated(URL))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UpgradeScreen)
        text = shown(app)
        assert "0001" in text and schema.HEAD in text and "old.backup-YYYYMMDD-HHMMSS.db" in text
        await pilot.press("u")
        await settle(pilot)
    outcome = app.return_value
    assert outcome is not None and outcome.upgraded and outcome.error is None
    assert outcome.backup is not None and outcome.backup.exists()
    assert outcome.backup.parent.resolve() == old_db.parent.resolve()
    assert outcome.backup.name.startswith("old.backup-") and outcome.backup.suffix == ".db"
    assert revision(old_db) == schema.HEAD
    assert rows(old_db) == before
    assert revision(outcome.backup) == "0001" and rows(outcome.backup) == before


async def test_enter_upgrades_too(old_db):
    app = UpgradeApp(outdated(URL))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    assert app.return_value is not None and app.return_value.upgraded
    assert revision(old_db) == schema.HEAD


def test_after_the_upgrade_the_app_opens_on_the_dashboard(old_db, monkeypatch, capsys):
    """The whole start, as ``tiertui`` runs it: the offer, ``u``, then the app on the upgraded file."""
    before = rows(old_db)
    seen = {}

    async def person_presses_u(pilot):
        await settle(pilot)
        seen["offer"] = type(pilot.app.screen).__name__
        await pilot.press("u")
        await settle(pilot)

    async def look_at_the_dashboard(pilot):
        await settle(pilot)
        seen["app"] = type(pilot.app.screen).__name__
        await pilot.press("ctrl+q")

    offers = driven(monkeypatch, UpgradeApp, person_presses_u)
    apps = driven(monkeypatch, TiertuiApp, look_at_the_dashboard)

    assert tiertui.app.run(URL, "dave") == 0

    assert len(offers) == 1 and len(apps) == 1
    assert seen == {"offer": "UpgradeScreen", "app": "DashboardScreen"}
    after = rows(old_db)
    assert revision(old_db) == schema.HEAD
    # every row survived; the one new row: dave, the first person to open the upgraded file, became its admin
    assert {t: c for t, c in after.items() if t != "audit_entry"} == {
        t: c for t, c in before.items() if t != "audit_entry"
    }
    added = after["audit_entry"] - before["audit_entry"]
    assert before["audit_entry"] <= after["audit_entry"] and len(added) == 1
    assert "first person to use this database" in str(next(iter(added)))
    [backup] = old_db.parent.glob("old.backup-*.db")
    printed = capsys.readouterr().out
    assert f"from revision 0001 to {schema.HEAD}" in printed and backup.name in printed


def test_a_current_database_opens_without_an_offer(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'current.db'}"
    open_engine(url).dispose()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    async def quit_at_once(pilot):
        await settle(pilot)
        await pilot.press("ctrl+q")

    offers = driven(monkeypatch, UpgradeApp, quit_at_once)
    apps = driven(monkeypatch, TiertuiApp, quit_at_once)
    assert tiertui.app.run(url, "dave") == 0
    assert offers == [] and len(apps) == 1


# ------------------------------------------------------------------------------ declining


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_escape_or_q_quits_leaving_the_file_byte_for_byte_unchanged(old_db, key):
    before = digest(old_db)
    app = UpgradeApp(outdated(URL))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
    assert app.return_value == Outcome(False)
    assert digest(old_db) == before
    assert sorted(p.name for p in old_db.parent.iterdir() if p.is_file()) == ["old.db"]


def test_declining_refuses_with_the_one_line_message_and_opens_no_app(old_db, monkeypatch):
    before = digest(old_db)

    async def person_presses_escape(pilot):
        await settle(pilot)
        await pilot.press("escape")

    driven(monkeypatch, UpgradeApp, person_presses_escape)
    apps = driven(monkeypatch, TiertuiApp, None)
    with pytest.raises(SchemaOutdated) as caught:
        tiertui.app.run(URL, "dave")
    assert "tiertui db upgrade" in str(caught.value) and "0001" in str(caught.value)
    assert apps == []
    assert digest(old_db) == before


# ------------------------------------------------------------------------------ failing


async def test_a_failed_upgrade_is_shown_and_nothing_further_happens(old_db, monkeypatch):
    before = digest(old_db)
    calls = []

    def broken(target):
        calls.append(target)
        raise DatabaseError("disk I/O error (simulated)")

    monkeypatch.setattr(upgrade, "upgrade_now", broken)
    app = UpgradeApp(outdated(URL))
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert "The upgrade failed: disk I/O error (simulated)" in shown(app)
        await pilot.press("u", "enter")  # no second attempt
        await settle(pilot)
        assert len(calls) == 1
        await pilot.press("escape")
        await settle(pilot)
    assert app.return_value == Outcome(False, error="disk I/O error (simulated)")
    assert digest(old_db) == before


def test_a_failed_upgrade_ends_with_the_error(old_db, monkeypatch):
    monkeypatch.setattr(upgrade, "upgrade_now", lambda target: (_ for _ in ()).throw(RuntimeError("boom")))

    async def person(pilot):
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("q")

    driven(monkeypatch, UpgradeApp, person)
    with pytest.raises(DatabaseError, match="the upgrade of sqlite:///old.db failed: RuntimeError: boom"):
        offer_upgrade(URL)


# ------------------------------------------------------------------------------ PostgreSQL


async def test_postgresql_reminds_to_pg_dump_and_upgrades(postgres_url):
    engine = open_engine(postgres_url)
    back_to_the_first_revision(engine)  # empty, then the first schema only
    engine.dispose()
    target = outdated(postgres_url)
    assert target is not None and target.current == "0001" and target.backup_name is None
    assert target.pg_dump is not None and target.pg_dump.startswith("pg_dump --format=custom")
    app = UpgradeApp(target)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        assert "pg_dump" in shown(app)
        await pilot.press("u")
        await settle(pilot)
    assert app.return_value == Outcome(True)
    engine = open_engine(postgres_url)  # opens as a current database now
    assert schema.status(engine).current == schema.HEAD
    engine.dispose()


# ------------------------------------------------------------------------------ how it looks


def test_snapshot_upgrade_offer(snap_compare, old_db):
    assert snap_compare(UpgradeApp(outdated(URL)), terminal_size=WIDE)
