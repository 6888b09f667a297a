"""Start-up: what the app loads before its first frame, when it opens the engine, and how a failure
to open the database still reaches the person (one line, non-zero exit)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from helpers import settle
from textual.widgets import Static

from tiertui.app import TiertuiApp
from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.partners import PartnersScreen
from tiertui.app.widgets import VirtualTable
from tiertui.app.widgets.select_stub import SelectStub
from tiertui.services.read import FastReader
from tiertui.services.read import engine as reads
from tiertui.services.read.engine import EngineReader
from tiertui.storage import DatabaseError

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "numpy", "alembic", "pydantic")


def test_the_first_screens_load_no_database_library():
    """The app, its dashboard and partner list import without SQLAlchemy, SQLModel or numpy (about a
    second): those load in the start-up worker, after the first frame."""
    code = (
        "import sys\n"
        "import tiertui.app\n"
        "from tiertui.app.screens import dashboard, partners\n"
        "from tiertui.app.widgets import VirtualTable\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_a_current_sqlite_file_is_read_at_once_and_the_engine_opens_in_the_background(app_db, tmp_path):
    app = TiertuiApp(app_db, "dave", blink=False, config_dir=tmp_path / "config")
    assert isinstance(app.reader, FastReader)
    assert app._engine is None  # nothing opened yet: no SQLAlchemy on the way to the first frame
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert app._engine is not None  # opened once the dashboard had its figures
        assert app.startup_error is None
        assert reads.dashboard(app.engine, app.today) == app.reader.dashboard(app.today)
        await pilot.press("l")
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        assert table.row_count == 120
        assert not app.screen.query(SelectStub)  # the real filter Selects replaced their stand-ins


async def test_the_engine_opens_on_first_use_if_the_worker_has_not(app_db, tmp_path):
    app = TiertuiApp(app_db, "dave", blink=False, config_dir=tmp_path / "config")
    assert app._engine is None
    engine = app.engine  # e.g. a screen that needs it before the start-up worker ran
    assert engine is app.engine and app._engine is engine
    engine.dispose()


def test_other_databases_open_before_the_app_as_before(tmp_path):
    """No fast path (a new file, another backend): the engine opens in the constructor, so a bad URL or
    an outdated schema is refused before the app starts, with the one-line message as before."""
    with pytest.raises(DatabaseError, match="not a database URL"):
        TiertuiApp("this is not a url", "dave", config_dir=tmp_path / "config")
    old = tmp_path / "old.db"
    shutil.copy(ROOT / "fixtures" / "databases" / "first-schema.db", old)
    with pytest.raises(DatabaseError, match="tiertui db upgrade"):
        TiertuiApp(f"sqlite:///{old}", "dave", config_dir=tmp_path / "config")
    fresh = TiertuiApp(f"sqlite:///{tmp_path / 'new.db'}", "dave", config_dir=tmp_path / "config")
    assert isinstance(fresh.reader, EngineReader) and fresh._engine is not None
    fresh._engine.dispose()


async def test_a_failure_to_open_in_the_background_ends_the_app_with_the_error(app_db, tmp_path, monkeypatch):
    import tiertui.storage

    def refuse(url=None, **_):
        raise DatabaseError("cannot open the test database: the disk is on fire")

    monkeypatch.setattr(tiertui.storage, "open_engine", refuse)
    app = TiertuiApp(app_db, "dave", blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert app.return_code == 1
    assert isinstance(app.startup_error, DatabaseError) and "on fire" in str(app.startup_error)


def test_run_raises_the_start_up_error_so_the_command_line_prints_it(monkeypatch):
    import tiertui.app as app_package

    class Failing:
        def __init__(self, *args, **kwargs):
            self.startup_error = DatabaseError("cannot open it")
            self.return_code = 1

        def run(self):
            pass

    monkeypatch.setattr(app_package, "TiertuiApp", Failing)
    monkeypatch.setattr("tiertui.app.upgrade.offer_upgrade", lambda url: None, raising=False)
    with pytest.raises(DatabaseError, match="cannot open it"):
        app_package.run("sqlite:///x.db", "dave")


async def test_the_partner_list_shows_its_first_page_then_the_rest(app_db, tmp_path):
    """The first page of keys is shown as soon as the database has it, the rest follows; in between
    the status says it is counting, and the list is the same as the engine's."""
    app = TiertuiApp(app_db, "dave", blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = PartnersScreen()
        await app.push_screen(screen)
        await settle(pilot)
        table = screen.query_one(VirtualTable)
        expected = reads.partner_keys(app.engine, screen.partner_query).tolist()
        assert list(table.ids) == expected
        assert not screen.counting
        assert "120 partners" in str(screen.query_one("#partner-status", Static).content)


@pytest.mark.parametrize("user, role", [("viv", "viewer"), ("alice", "approver"), ("dave", "admin")])
async def test_the_app_knows_the_role_of_whoever_opens_it(app_db, tmp_path, user, role):
    app = TiertuiApp(app_db, user, blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert (app.role, app.startup_error, app.is_running) == (role, None, True)


async def test_someone_who_is_not_a_user_of_the_database_is_told_who_can_add_them(app_db, tmp_path):
    from tiertui.services.roles import RoleRefused, people

    app = TiertuiApp(app_db, "zed", blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert app.return_code == 1
    assert isinstance(app.startup_error, RoleRefused)
    assert str(app.startup_error) == (
        "zed is not a user of this database; opening tiertui needs the viewer role "
        "(admin, ana, ann, bo, carol or 3 more, the admins, can add you: tiertui users add zed --role viewer)"
    )
    assert "zed" not in {p.name for p in people(app.engine)}  # and nothing was written for them


def test_on_a_database_read_through_the_engine_the_role_is_settled_before_the_first_frame(app_db, tmp_path):
    """A team database (anything the sqlite3 fast path does not read) opens its engine in the
    constructor: a stranger is refused there, before any of its data is on screen."""
    from tiertui.services.roles import RoleRefused

    fresh = TiertuiApp(f"sqlite:///{tmp_path / 'new.db'}", "dave", config_dir=tmp_path / "config")
    assert fresh.role == "admin"  # the first person to open a new SQLite file
    fresh._engine.dispose()
    through_engine = f"{app_db}?timeout=30"  # options in the URL: read through the engine, as a server is
    known = TiertuiApp(through_engine, "alice", config_dir=tmp_path / "config")
    assert isinstance(known.reader, EngineReader) and known.role == "approver"
    known._engine.dispose()
    with pytest.raises(RoleRefused, match="^zed is not a user of this database; opening tiertui needs the viewer"):
        TiertuiApp(through_engine, "zed", config_dir=tmp_path / "config")


async def test_the_header_names_the_person_and_the_database_file(app_db, tmp_path):
    app = TiertuiApp(app_db, "alice", blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.sub_title == "alice · app.db"
        assert "alice · app.db" in str(app.screen.query_one("HeaderTitle").render())


async def test_the_header_names_a_team_database_without_its_password(pg_app_db, tmp_path):
    from sqlalchemy.engine import make_url

    with_password = make_url(pg_app_db).set(password="s3cr:t@x").render_as_string(hide_password=False)
    team = TiertuiApp(with_password, "alice", blink=False, config_dir=tmp_path / "config")
    url = make_url(pg_app_db)
    assert team.sub_title == f"alice · {url.username}@{url.host}:{url.port}/{url.database}"
    async with team.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = str(team.screen.query_one("HeaderTitle").render())
        assert f"alice · {url.username}@{url.host}" in shown and "s3cr" not in shown


async def test_a_database_on_read_only_media_opens_read_only_and_the_header_says_so(app_db, tmp_path):
    """What `tiertui` opens for a file it cannot write (tiertui.locations.read_only_url): the app
    shows the data, and its header says read-only; the file is left exactly as it was."""
    from tiertui.locations import is_read_only_url

    path = Path(app_db.removeprefix("sqlite:///"))
    before = path.read_bytes()
    url = f"sqlite:///file:{path}?mode=ro&uri=true&immutable=1"  # the file is writable here: as for read-only media
    assert is_read_only_url(url)
    app = TiertuiApp(url, "dave", blink=False, config_dir=tmp_path / "config")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.sub_title == f"dave · {path.name} · read-only"
        assert app.role == "admin"
        screen = PartnersScreen()
        await app.push_screen(screen)
        await settle(pilot)
        assert "120 partners" in str(screen.query_one("#partner-status", Static).content)
    assert app.return_code in (None, 0) and app.startup_error is None
    assert path.read_bytes() == before


async def test_the_figures_read_while_the_app_imports_are_in_its_first_frame(app_db, tmp_path):
    """``tiertui`` starts reading the dashboard's figures before it imports Textual (EarlyDashboard):
    the dashboard is composed with them, so its first frame has the figures, with no read of its own."""
    from tiertui.app.widgets.figure import Figure
    from tiertui.services.read.early import EarlyDashboard

    reader = FastReader.open(app_db)
    assert reader is not None
    early = EarlyDashboard(app_db, reader.dashboard(date.today()).today)
    assert early.reader() is not None
    expected = reader.dashboard(early.today)
    early._read.wait(30)
    app = TiertuiApp(app_db, "dave", today=early.today, blink=False, config_dir=tmp_path / "config", early=early)
    assert app.reader is early.reader()  # one reader: the one that read the figures
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the first frame: no worker has reported yet
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        shown = {f.label: f.value for f in screen.query(Figure)}
        assert shown["pending overrides"] == expected.pending_overrides
        assert [shown[tier] for tier, _ in expected.tiers] == [count for _, count in expected.tiers]
        assert f"{expected.partners:,} partners" in str(screen.query_one("#dashboard-title", Static).content)
        assert not [w for w in app.workers if w.group == "dashboard-load"]  # not read a second time
        assert early.take(early.today) is None  # taken once: later loads read afresh
        await settle(pilot)
        assert app.focused is not None and app.focused.id == "fig-tier-3"  # the highest tier, as before
        reader.close()


def test_the_early_read_leaves_other_databases_to_the_app(tmp_path):
    """A team database, a file to upgrade or a path with no file: no reader, no figures, nothing created."""
    from tiertui.services.read.early import EarlyDashboard

    old = tmp_path / "old.db"
    shutil.copy(ROOT / "fixtures" / "databases" / "first-schema.db", old)
    for url in ("postgresql+psycopg://nobody@127.0.0.1:1/none", f"sqlite:///{old}", f"sqlite:///{tmp_path / 'no.db'}"):
        early = EarlyDashboard(url, date(2026, 12, 1))
        assert early.reader() is None and early.take(date(2026, 12, 1), wait=30) is None
    assert not (tmp_path / "no.db").exists()


async def test_early_figures_for_another_day_are_not_used(app_db, tmp_path):
    from tiertui.services.read.early import EarlyDashboard

    early = EarlyDashboard(app_db, date(2026, 1, 1))
    early._read.wait(30)
    app = TiertuiApp(app_db, "dave", today=date(2026, 12, 1), blink=False, config_dir=tmp_path / "config", early=early)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen._early is None
        assert "today 2026-12-01" in str(app.screen.query_one("#dashboard-title", Static).content)
