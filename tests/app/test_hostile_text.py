"""Text from data is literal (issue #12, spec §4 "Safe output").

Partner names, regions, override reasons, the program's name and the user's name are data: the app
shows them as typed, brackets included, never as Rich/Textual markup, and never lets a control or
escape sequence reach the terminal. Each test puts a hostile corpus in the test database and walks a
screen with Pilot: no crash, the brackets on screen as typed, no ESC (or other control) on screen.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlparse

import pytest
from helpers import palette_pick, settle

from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.dialogs import NoteScreen
from tiertui.app.screens.overrides import OverridesScreen
from tiertui.app.screens.partners import PartnersScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.safe_text import visible

SIZE = (160, 50)

# markup of many shapes: closing tags, links, actions, styles, escapes, lone brackets
MARKUP = [
    "ACME [UK] Ltd",
    "[/bold] Orphan Close",
    "contract clause [/b] applies",
    "[link=http://evil.example]EMEA[/link]",
    "[@click=app.quit]Click Me[/]",
    "[bold red]Shouting",
    "Back\\[b]slash",
    "Empty [] and [[ brackets ]]",
    "Var $name [$x]",
    "[/x]",
]
# escapes and invisible characters: shown visibly, never written to the terminal
CONTROL = [
    "\x1b[2J\x1b[31mRED",
    "\x1b]0;pwned title\x07OSC",
    "Line one\rOVERWRITE",
    "Bidi \u202eesrever\u202c end",
    "Zero\u200bwidth\ufeffjoin",
    "Bell\x07 and NUL-ish \x01",
]
OTHER = [
    "Long " + "x" * 300,
    "数据 伙伴 🚀 Émile ☕",
]
NAMES = MARKUP + CONTROL + OTHER


def _path(url: str) -> str:
    return urlparse(url).path


@pytest.fixture
def hostile_db(sqlite_app_db: str) -> str:
    """The test database with the corpus as partner names (P00001…), regions, an override reason and
    the program's name."""
    db = sqlite3.connect(_path(sqlite_app_db))
    with db:
        for i, name in enumerate(NAMES, start=1):
            db.execute("UPDATE partner SET name = ? WHERE partner_id = ?", (name, f"P{i:05d}"))
        db.execute(
            "UPDATE partner SET region = ? WHERE partner_id = ?", ("[link=http://evil.example]EMEA[/link]", "P00003")
        )
        db.execute(
            "UPDATE tier_override SET reason = ? WHERE partner_key = (SELECT key FROM partner WHERE partner_id = ?)",
            ("contract clause [/b] applies", "P00003"),
        )
        db.execute(
            "UPDATE tier_override SET reason = ? WHERE partner_key = (SELECT key FROM partner WHERE partner_id = ?)",
            ("\x1b[2J\x1b[31mwipe [/x] it", "P00007"),
        )
    db.close()
    return sqlite_app_db


def rename_program(url: str) -> None:
    """The active program's name as "Helios [/x] [b]Program" (it crashed the dashboard at start)."""
    db = sqlite3.connect(_path(url))
    with db:
        (content,) = db.execute("SELECT content FROM program_version WHERE active = 1").fetchone()
        content = content.replace('name = "Helios Partner Program"', 'name = "Helios [/x] [b]Program"', 1)
        db.execute("UPDATE program_version SET content = ?, name = ? WHERE active = 1", (content, "Helios"))
    db.close()


@pytest.fixture
def make_hostile_app(hostile_db, tmp_path):
    from tiertui.app import TiertuiApp

    def factory(user: str = "dave"):
        return TiertuiApp(hostile_db, user, today=__import__("datetime").date(2026, 1, 15), blink=False,
                          config_dir=tmp_path / "config")  # fmt: skip

    return factory


def screen_text(app) -> str:
    """Every character on the screen, line by line, as the terminal would get it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_clean(app) -> str:
    text = screen_text(app)
    for ch in ("\x1b", "\x07", "\r", "\u202e", "\u200b", "\x01"):
        assert ch not in text, f"{ch!r} reached the screen"
    return text


async def test_partner_list_shows_every_name_as_typed(make_hostile_app):
    app = make_hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, PartnersScreen)
        text = assert_clean(app)
        for name in MARKUP:
            assert name in text, name
        assert visible("\x1b[2J\x1b[31mRED") in text  # the escape shown as \x1b, not obeyed
        assert "Line one\\rOVERWRITE" in text
        assert "数据 伙伴 🚀" in text


@pytest.mark.parametrize("name", ["[/bold] Orphan Close", "ACME [UK] Ltd", "[bold red]Shouting", "Var $name [$x]"])
async def test_search_finds_a_name_with_brackets(make_hostile_app, name):
    app = make_hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l", "slash")
        for ch in name:
            await pilot.press(ch if ch != " " else "space")
        await settle(pilot)
        table = app.screen.query_one("#partners")
        names = [table.row_at(i).name for i in range(table.row_count)]
        assert name in names
        assert name in assert_clean(app)


@pytest.mark.parametrize("index", [1, 2, 3, 4, 11, 13, 15, 17])
async def test_scorecard_of_a_hostile_partner(make_hostile_app, index):
    name = NAMES[index - 1]
    app = make_hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_scorecard(f"P{index:05d}")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen)
        text = assert_clean(app)
        assert visible(name)[:40] in text
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert_clean(app)


async def test_override_reason_with_markup_opens_for_approvers(make_hostile_app):
    """An override reason "contract clause [/b] applies" crashed every approver opening the partner."""
    app = make_hostile_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_scorecard("P00003")
        await settle(pilot)
        text = assert_clean(app)
        assert "contract clause [/b] applies" in text
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OverridesScreen)
        text = assert_clean(app)
        assert "contract clause [/b]" in text
        assert "wipe [/x] it" in text


async def test_dialog_and_notification_titles_are_literal(make_hostile_app):
    app = make_hostile_app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        rows = app.screen.rows
        target = next(i for i, o in enumerate(rows) if o.partner_id == "P00007")
        for _ in range(target):
            await pilot.press("down")
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        text = assert_clean(app)
        assert "[@click=app.quit]Click Me[/]"[:20] in text or "P00007" in text
        for ch in "no [/b] way [link=x]":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OverridesScreen)
        assert_clean(app)


async def test_palette_finds_and_shows_hostile_names(make_hostile_app):
    app = make_hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"EMEA")
        await settle(pilot)
        assert_clean(app)  # the region "[link=…]EMEA[/link]" is in the hits' help
        await pilot.press("escape")
        await settle(pilot)
        await palette_pick(pilot, "Orphan")
        assert isinstance(app.screen, ScorecardScreen)
        assert "[/bold] Orphan Close" in assert_clean(app)


async def test_dashboard_shows_a_program_name_with_markup(make_hostile_app, hostile_db):
    rename_program(hostile_db)
    app = make_hostile_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "Helios [/x] [b]Program" in assert_clean(app)


async def test_user_name_with_markup_in_header_and_status(hostile_db, tmp_path):
    """The acting person's name is data too: shown as typed in the header and the overrides status."""
    from datetime import date

    from sqlmodel import Session

    from tiertui.app import TiertuiApp
    from tiertui.storage import open_engine
    from tiertui.storage.tables import AppUser

    engine = open_engine(hostile_db)
    with Session(engine) as session, session.begin():
        session.add(AppUser(name="[b]eve\x1b[31m", role="viewer", added_by="dave"))
    engine.dispose()
    app = TiertuiApp(hostile_db, "[b]eve\x1b[31m", today=date(2026, 1, 15), blink=False, config_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        text = assert_clean(app)
        assert "[b]eve\\x1b[31m" in text
