"""The override queue for daily use: earned and effective tiers beside the request, a request that
changes nothing said so, the request in full, Home/End, several decided at once, undo."""

from __future__ import annotations

from helpers import settle
from textual.widgets import DataTable, Static

from tiertui.app.screens.dialogs import NoteScreen
from tiertui.app.screens.overrides import OverridesScreen
from tiertui.services import audit, overrides
from tiertui.services.read import engine as reads

SIZE = (120, 40)


def message(app) -> str:
    return str(app.screen.query_one("#override-message", Static).render())


def detail(app) -> str:
    return str(app.screen.query_one("#override-detail", Static).render())


def tier_of(app, partner_id: str) -> str | None:
    return reads.partners_by_id(app.engine, [partner_id], reads.latest_period(app.engine))[0].tier


async def test_rows_show_earned_and_effective_tier_and_a_request_that_changes_nothing(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        first = [str(c) for c in table.get_row_at(0)]
        assert first[1:4] == ["1", "P00003", "Gold = no change"]  # P00003 is Gold already
        assert first[4] == "Gold" and first[5] in ("Gold", "Silver", "Platinum", "Authorized")
        assert "Approving changes nothing" in detail(app) and "Strategic launch partner" in detail(app)
        await pilot.press("end")  # the last request, not a sideways scroll
        assert table.cursor_row == table.row_count - 1 and table.scroll_offset.x == 0
        assert "#3 P00012" in detail(app) and "Requested by carol" in detail(app)
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_batch_approve_with_one_refusal_by_the_four_eyes_rule_then_undo(make_app):
    app = make_app(user="carol")  # an approver who requested #3 herself
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OverridesScreen)
        await pilot.press("space", "space", "space")  # marks #1, #2, #3 (the cursor moves down)
        assert screen.marked == {1, 2, 3}
        assert "3 marked" in detail(app)
        await pilot.press("a")
        await settle(pilot)
        assert [overrides.get(app.engine, i).status for i in (1, 2, 3)] == ["approved", "approved", "pending"]
        text = message(app)
        assert "2 overrides approved (#1, #2)" in text and "Refused 1: #3: you requested override 3" in text
        assert tier_of(app, "P00007") == "Platinum"
        assert len(audit.entries(app.engine, "carol", actions=["override.approve"])) == 2  # each one audited
        await pilot.press("u")  # undo my last decision (#2): pending again, the partner re-levelled
        await settle(pilot)
        assert overrides.get(app.engine, 2).status == "pending"
        assert overrides.get(app.engine, 1).status == "approved"
        assert "#2 is pending again" in message(app)
        assert tier_of(app, "P00007") == "Silver"
        assert len(audit.entries(app.engine, "carol", actions=["override.undo"])) == 1
        await pilot.press("u")  # nothing left to undo
        await settle(pilot)
        assert "nothing to undo" in message(app)


async def test_batch_reject_takes_one_note_and_decided_requests_show_it(make_app):
    app = make_app()  # dave
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("space", "space", "r")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        for ch in "No budget":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        await settle(pilot)
        assert [overrides.get(app.engine, i).note for i in (1, 2)] == ["No budget", "No budget"]
        await pilot.press("v")  # all requests: decided ones show their note
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        notes = [str(table.get_row_at(r)[-1]) for r in range(table.row_count)]
        assert notes.count("No budget") == 2
