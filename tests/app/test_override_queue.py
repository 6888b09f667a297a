"""The override queue for daily use: earned and effective tiers beside the request, a request that
changes nothing said so, the request in full, Home/End, several decided at once, undo."""

from __future__ import annotations

from datetime import date

from helpers import running, settle
from hostile_corpus import raw_controls
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
    async with running(app, "o") as pilot:
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
    async with running(app, "o") as pilot:
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
    async with running(app, "o") as pilot:
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


# ------------------------------------------------------------------ what deciding changes; revocation


def move_to(app, override_id: int) -> None:
    table = app.screen.query_one(DataTable)
    ids = [str(table.get_row_at(r)[1]) for r in range(table.row_count)]
    table.move_cursor(row=ids.index(str(override_id)))


async def test_the_detail_pane_lists_each_period_approving_changes(make_app):
    app = make_app()
    reason = "Regional anchor\x1b[2J[bold]deal[/]"
    oid = overrides.request(app.engine, "alice", "P00005", "Platinum", reason, date(2025, 1, 1))
    async with running(app, "o") as pilot:
        await pilot.press("end")
        await settle(pilot)
        text = detail(app)
        assert f"#{oid} P00005" in text and "Approving changes 4 periods of P00005:" in text
        for quarter in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"):
            assert f"{quarter}: Gold → Platinum (earned Gold)" in text
        assert "Regional anchor\\x1b[2J[bold]deal[/]" in text and not raw_controls(text)  # literal
        await pilot.press("home")
        await settle(pilot)
        assert "Approving changes nothing: P00003 is Gold already in 2025-Q4." in detail(app)
    async with make_app().run_test(size=(80, 24)) as pilot:  # 80 columns: two periods, then how many more
        await settle(pilot)
        await pilot.press("o", "end")
        await settle(pilot)
        text = detail(app=pilot.app)
        assert "2025-Q2: Gold → Platinum" in text and "and 2 more periods (2025-Q4 last)" in text
        assert "2025-Q3: Gold" not in text


async def test_approve_as_one_approver_then_revoke_as_another_with_a_note(make_app):
    first = make_app(user="alice")
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        move_to(first, 2)  # bob's request for P00007
        await pilot.press("a")
        await settle(pilot)
        assert overrides.get(first.engine, 2).status == "approved" and tier_of(first, "P00007") == "Platinum"
    app = make_app(user="eve")  # another approver, on the same database
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o", "v")
        await settle(pilot)
        move_to(app, 2)
        await settle(pilot)
        assert "Revoking changes 1 period of P00007:" in detail(app)
        assert "2025-Q4: Platinum → Silver (earned Silver)" in detail(app)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        await pilot.press("enter")  # no note: refused in the dialog, nothing written
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen) and overrides.get(app.engine, 2).status == "approved"
        assert "A note is required to revoke." in str(app.screen.query_one("#prompt-problem", Static).render())
        for ch in "Deal fell through":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        await settle(pilot)
        view = overrides.get(app.engine, 2)
        assert (view.status, view.revoked_by, view.revoke_note) == ("revoked", "eve", "Deal fell through")
        assert tier_of(app, "P00007") == "Silver"  # re-levelled at once
        assert "Override #2 revoked: it no longer applies; P00007 is Silver in 2025-Q4." in message(app)
        row = [str(c) for c in app.screen.query_one(DataTable).get_row(str(2))]
        assert row[6] == "revoked" and row[-1] == "Deal fell through"
        assert "Revoked by eve at" in detail(app) and "Note: Deal fell through" in detail(app)
        assert "Approved by alice" in detail(app)
        assert [e.action for e in audit.entries(app.engine, "dave", partner_id="P00007")][0] == "override.revoke"


async def test_a_viewer_or_the_requester_is_refused_and_the_override_stays_approved(make_app):
    setup = make_app()
    overrides.decide(setup.engine, "alice", 2, approve=True, note="agreed")
    for user, refusal in (
        ("viv", "viv is a viewer; revoking overrides needs the approver role"),
        ("bob", "you requested override 2; someone else must revoke it"),
    ):
        app = make_app(user=user)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("o", "v")
            await settle(pilot)
            move_to(app, 2)
            await pilot.press("R")
            await settle(pilot)
            assert isinstance(app.screen, OverridesScreen)  # no note asked for
            assert refusal in message(app)
            assert overrides.get(app.engine, 2).status == "approved" and tier_of(app, "P00007") == "Platinum"


async def test_revoke_on_a_pending_request_says_only_an_approved_one_can_be(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o", "R")
        await settle(pilot)
        assert "Override #1 is pending: only an approved override can be revoked (v shows every override)." in (
            message(app)
        )
        assert overrides.get(app.engine, 1).status == "pending"


async def test_an_approval_shows_a_request_filed_meanwhile_by_someone_else(make_app):
    """The queue is drawn from the decision's own result first, then read again: a request filed
    by another manager while the queue was open appears with it; the approved one is gone."""
    app = make_app()
    async with running(app, "o") as pilot:
        table = app.screen.query_one(DataTable)
        assert [str(table.get_row_at(r)[1]) for r in range(table.row_count)] == ["1", "2", "3"]
        filed = overrides.request(
            app.engine, "bob", "P00020", "Gold", "Filed while the queue is open", date(2025, 10, 1)
        )
        await pilot.press("a")  # #1
        await settle(pilot)
        assert message(app).startswith("Override #1 approved")
        assert [str(table.get_row_at(r)[1]) for r in range(table.row_count)] == ["2", "3", str(filed)]
        assert "Filed while the queue is open" in str(table.get_row_at(2)[7])
