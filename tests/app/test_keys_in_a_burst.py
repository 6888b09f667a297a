"""Keys that arrive together (a held-down arrow, typing while the app is busy) are each handled, by the
widget the key before them focused. ``burst`` hands the app several keys at once, as its driver does
when it reads them in one go, without waiting in between as ``pilot.press`` does; the tests then
settle and check where every key went. Escape leaves the field first, then the screen."""

from __future__ import annotations

import pytest
from helpers import running, settle, steps
from textual import events

from tiertui.app.screens.audit import AuditScreen
from tiertui.app.screens.certifications import CertificationsScreen
from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.scenario import ScenarioScreen
from tiertui.app.widgets import VirtualTable
from tiertui.app.widgets.knob_row import KnobInput, KnobRow

CHARACTERS = {"down": None, "up": None, "enter": "\r", "escape": "\x1b"}


async def burst(pilot, *keys: str) -> None:
    """Post ``keys`` to the app in one go (no pause between them), then let everything settle."""
    for key in keys:
        pilot.app.post_message(events.Key(key, CHARACTERS.get(key, key if len(key) == 1 else None)))
    await settle(pilot)


def what_if(app) -> ScenarioScreen:
    """The what-if screen ``w`` opened, with its first result."""
    screen = app.screen
    assert isinstance(screen, ScenarioScreen) and screen.result is not None
    return screen


def labels(screen: ScenarioScreen) -> list[str]:
    return [r.entry.label for r in screen.query(KnobRow)]


async def test_down_keys_in_one_burst_each_move_the_focus_one_value(make_app):
    app = make_app()
    async with running(app, "w") as pilot:
        screen = what_if(app)
        assert app.focused.entry.label == labels(screen)[0]
        await burst(pilot, *["down"] * 12)
        assert app.focused.entry.label == labels(screen)[12] == "Gold gate cert:sales"
        await burst(pilot, "up", "up", "down")
        assert app.focused.entry.label == labels(screen)[11]


async def test_digits_and_enter_in_one_burst_edit_the_value(make_app):
    app = make_app()
    async with running(app, "w") as pilot:
        screen = what_if(app)
        silver = labels(screen).index("Silver min_score")
        await burst(pilot, *["down"] * silver, "4", "0", "enter")
        entry = next(r for r in screen.query(KnobRow) if r.entry.label == "Silver min_score").entry
        assert entry.value == 40  # both digits in the box, and Enter applied them
        assert (screen.result.moved_up, screen.result.moved_down) == (0, 10)
        assert isinstance(app.focused, KnobRow) and app.focused.entry.label == "Silver min_score"


async def test_m_and_down_keys_in_one_burst_move_the_movers_cursor(make_app):
    app = make_app()
    async with running(app, "w") as pilot:
        screen = what_if(app)
        gate = labels(screen).index("Gold gate cert:sales")
        await burst(pilot, *["down"] * gate, "enter")  # opens the box with 2
        await pilot.press("backspace", "1", "enter")
        await settle(pilot)
        assert screen.result.moved_up == 23
        table = screen.query_one("#movers", VirtualTable)
        await burst(pilot, "m", *["down"] * 7)
        assert app.focused is table and table.cursor == 7  # no Down went to the values
        assert "row 8 of 23" in str(screen.query_one("#movers-status").render())
        assert not any(
            r.entry.status != "same" and r.entry.label != "Gold gate cert:sales" for r in screen.query(KnobRow)
        )


async def test_slash_and_typing_in_one_burst_fill_the_partner_search(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        await burst(pilot, "slash", "n", "e", "t")
        assert app.screen.query_one("#search").value == "net"  # not one letter lost to the list
        assert "filters: text: net" in str(app.screen.query_one("#partner-status").render())


@pytest.mark.parametrize(
    "key, kind, box, typed, table",
    [
        ("h", AuditScreen, "#audit-text", "x", "#audit-table"),
        ("c", CertificationsScreen, "#cert-partner", "p", "#certs"),
    ],
    ids=["audit log", "certifications"],
)
async def test_escape_leaves_the_search_box_before_the_screen(make_app, key, kind, box, typed, table):
    app = make_app()
    async with running(app, key) as pilot:
        screen = app.screen
        assert isinstance(screen, kind)
        await burst(pilot, "slash", typed)
        assert app.focused is screen.query_one(box)
        await steps(pilot, "escape")
        assert app.screen is screen and app.focused is screen.query_one(table, VirtualTable)
        await steps(pilot, "escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_escape_in_a_value_being_edited_cancels_it_then_leaving_asks(make_app):
    app = make_app()
    async with running(app, "w") as pilot:
        screen = what_if(app)
        await burst(pilot, "3", "enter")  # grace periods = 3: an unsaved edit
        assert screen.dirty
        await burst(pilot, "7")
        assert isinstance(app.focused, KnobInput)
        await pilot.press("escape")  # cancels the edit of 7
        await settle(pilot)
        assert app.screen is screen and isinstance(app.focused, KnobRow)
        await pilot.press("escape")  # asks: the edit of 50 is not saved
        await settle(pilot)
        assert app.screen is not screen and screen.dirty
