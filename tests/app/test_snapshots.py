"""Snapshots of every screen at 120x40 and the main ones at 80x24 (fixed data, fixed today)."""

from __future__ import annotations

from helpers import keys

WIDE = (120, 40)
NARROW = (80, 24)


def test_dashboard(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys())


def test_dashboard_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys())


def test_partner_list(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("l"))


def test_partner_list_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("l"))


def test_partner_list_search_and_sort(snap_compare, make_app):
    assert snap_compare(
        make_app(),
        terminal_size=WIDE,
        run_before=keys("l", "slash", "type:net", "enter", "s", "s", "s", "s", "s", "s", "S"),
    )


def test_partner_list_from_dashboard_figure(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.screen.query_one("#fig-grace").focus()
        await keys("enter")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_scorecard(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("l", "down", "enter"))


def test_scorecard_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("l", "down", "enter"))


def test_scorecard_parent_with_subsidiaries(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.open_scorecard("P00004")
        await keys("end")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_scorecard_previous_period(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.open_scorecard("P00007")
        await keys("left", "left")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_override_form_invalid(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.open_scorecard("P00001")
        await keys("r", "tab", "tab", "tab", "type:2026-13-01")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_overrides_queue(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("o"))


def test_overrides_queue_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("o"))


def request_over_four_quarters(app) -> None:
    """#4: alice asks Platinum for P00005 (Authorized or Silver) from 2025-01-01: every quarter changes."""
    from datetime import date

    from tiertui.services import overrides

    overrides.request(app.engine, "alice", "P00005", "Platinum", "Regional anchor [bold]deal[/]", date(2025, 1, 1))


def test_overrides_queue_effect(snap_compare, make_app):
    """The detail pane of #4: the four periods approving it changes, each from what to what."""

    async def run(pilot):
        request_over_four_quarters(pilot.app)
        await keys("o", "end")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_overrides_queue_effect_narrow(snap_compare, make_app):
    """At 80x24 two periods are spelled out, then "and 2 more periods"."""

    async def run(pilot):
        request_over_four_quarters(pilot.app)
        await keys("o", "end")(pilot)

    assert snap_compare(make_app(), terminal_size=NARROW, run_before=run)


def test_overrides_revoke_asks_for_note(snap_compare, make_app):
    """Approved #2 (bob's request, approved by alice), all overrides shown, R: the note dialog says
    what revoking changes."""

    async def run(pilot):
        from sqlalchemy import text

        from tiertui.services import overrides

        overrides.decide(pilot.app.engine, "alice", 2, approve=True, note="agreed")
        with pilot.app.engine.begin() as conn:  # a fixed time on screen
            conn.execute(text("UPDATE tier_override SET decided_at = '2026-01-14 09:30:00' WHERE id = 2"))
        await keys("o", "v")(pilot)
        table = pilot.app.screen.query_one("#override-table")
        table.move_cursor(row=[str(c) for c in (table.get_row_at(r)[1] for r in range(table.row_count))].index("2"))
        await keys("R")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_overrides_own_request_refused(snap_compare, make_app):
    assert snap_compare(make_app(user="alice"), terminal_size=WIDE, run_before=keys("o", "a"))


def test_reject_asks_for_note(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("o", "r", "type:No contract yet"))


def test_certifications(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("c"))


def test_certifications_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("c"))


def test_certifications_lapse_risk(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("c", "t"))


def test_help(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("o", "question_mark"))


def test_levelling_job(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("L"))


def test_import_dialog_with_a_missing_file(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("I", "type:no-such-file.csv", "enter"))


def test_scorecard_history(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("l", "down", "enter", "H"))


def test_scorecard_history_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("l", "down", "enter", "H"))


def test_dashboard_tier_mix_narrow(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.screen.query_one("#dashboard").scroll_end(animate=False)
        await keys()(pilot)

    assert snap_compare(make_app(), terminal_size=NARROW, run_before=run)
