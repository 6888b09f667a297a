"""Pilot tests: every binding and flow of the app, against the small levelled test database."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from helpers import config_with_keys, palette_hits, palette_pick, running, settle, steps, type_text
from textual.app import App
from textual.widgets import DataTable, Input, Select, Static

from tiertui.app.screens.certifications import CertificationsScreen
from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.dialogs import NoteScreen
from tiertui.app.screens.help import HelpScreen
from tiertui.app.screens.jobs import JobScreen
from tiertui.app.screens.override_form import OverrideForm
from tiertui.app.screens.overrides import OverridesScreen
from tiertui.app.screens.partners import PartnersScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.app.widgets import Column, VirtualTable
from tiertui.scoring.natural import natural_sort_key
from tiertui.services import overrides
from tiertui.services.read import PartnerQuery
from tiertui.services.read import engine as reads

TODAY_REQUEST = date(2025, 10, 1)


def pytest_generate_tests(metafunc):
    """Every flow here on a SQLite file (the fast sqlite3 read path) and on PostgreSQL (the engine)."""
    if "app_db" in metafunc.fixturenames:
        metafunc.parametrize("app_db", ["sqlite", "postgresql"], indirect=True)


def rows(table: VirtualTable) -> list:
    """Every row of the table's list, as it shows them (read as its worker reads a page)."""
    return table.fetch([int(i) for i in table.ids])


async def test_dashboard_is_home_and_navigation_keys(make_app):
    app = make_app()
    async with running(app) as pilot:
        assert isinstance(app.screen, DashboardScreen)
        for key, kind in (("l", PartnersScreen), ("o", OverridesScreen), ("c", CertificationsScreen)):
            await steps(pilot, key)
            assert isinstance(app.screen, kind)
        await steps(pilot, "escape")
        assert isinstance(app.screen, OverridesScreen)
        await steps(pilot, "g")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("escape")  # nothing below home
        assert isinstance(app.screen, DashboardScreen)


@pytest.mark.parametrize(
    "figure, expected",
    [
        ("fig-demoted", dict(event="demoted")),
        ("fig-grace", dict(event="grace")),
        ("fig-at-risk", dict(at_risk=True)),
        ("fig-tier-2", dict(tier="Gold")),
    ],
)
async def test_dashboard_figures_open_filtered_lists(make_app, figure, expected):
    app = make_app()
    async with running(app) as pilot:
        data = reads.dashboard(app.engine, app.today)
        app.screen.query_one(f"#{figure}").focus()
        await steps(pilot, "enter")
        assert isinstance(app.screen, PartnersScreen)
        table = app.screen.query_one(VirtualTable)
        key = next(iter(expected))
        counts = {
            "event": {"demoted": data.demoted, "grace": data.grace},
            "at_risk": {True: data.at_risk},
            "tier": dict(data.tiers),
        }
        assert table.row_count == counts[key][expected[key]] > 0
        for row in rows(table):
            value = {"event": row.event, "at_risk": row.at_risk, "tier": row.tier}[key]
            assert value == expected[key]


async def test_dashboard_pending_and_expiring_figures(make_app):
    app = make_app()
    async with running(app) as pilot:
        await pilot.click("#fig-pending")
        await settle(pilot)
        assert isinstance(app.screen, OverridesScreen)
        await steps(pilot, "escape")
        app.screen.query_one("#fig-expiring").focus()
        await steps(pilot, "enter")
        assert isinstance(app.screen, CertificationsScreen)
        table = app.screen.query_one("#certs", VirtualTable)
        assert table.row_count == reads.dashboard(app.engine, app.today).expiring_certifications
        assert all(r.status == "expiring" and 0 <= r.days_left <= 90 for r in rows(table))


async def test_dashboard_r_refreshes_the_figures_and_space_opens_one(make_app):
    app = make_app()
    async with running(app) as pilot:
        pending = app.screen.query_one("#fig-pending")
        before = pending.value
        assert before == 3
        overrides.request(app.engine, "bob", "P00020", "Gold", "Another team member asked", TODAY_REQUEST)
        await steps(pilot, "r")
        assert app.screen.query_one("#fig-pending").value == before + 1
        app.screen.query_one("#fig-pending").focus()
        await steps(pilot, "space")
        assert isinstance(app.screen, OverridesScreen)
        assert app.screen.query_one("#override-table", DataTable).row_count == before + 1


async def test_page_keys_move_the_cursor_a_screenful(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        table = app.screen.query_one(VirtualTable)
        visible = table.size.height - 1  # below its header row
        await pilot.press("pagedown")
        assert visible - 2 <= table.cursor <= visible + 1 and table.scroll_offset.y > 0
        await pilot.press("pagedown", "pageup")
        assert visible - 2 <= table.cursor <= visible + 1


async def test_type_to_filter_is_case_insensitive_on_id_and_name(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        table = app.screen.query_one(VirtualTable)
        assert table.row_count == 120
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await type_text(pilot, "NETworks")
        found = rows(table)
        assert found and all("networks" in r.name.lower() for r in found)
        app.screen.query_one("#search", Input).value = ""
        await settle(pilot)
        await type_text(pilot, "p0001")
        assert {r.partner_id for r in rows(table)} == {f"P0001{i}" for i in range(10)}
        await pilot.press("enter")  # back to the table
        assert app.focused is table
        await steps(pilot, "enter")
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00010"


async def test_newest_keystroke_wins(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        await pilot.press("slash", *"acme")  # no settling between keys: searches overlap
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        assert app.screen.partner_query.text == "acme"
        assert table.row_count and all("acme" in r.name.lower() for r in rows(table))


async def test_filters_by_select(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        screen = app.screen
        await pilot.press("f")
        assert app.focused.id == "tier"
        await pilot.press("enter")  # open the list of tiers
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        tier = screen.partner_query.tier
        assert tier in ("Authorized", "Silver", "Gold", "Platinum")
        table = screen.query_one(VirtualTable)
        assert table.row_count and all(r.tier == tier for r in rows(table))
        for widget_id, value, attr in (
            ("region", "LATAM", "region"),
            ("type", "MSP", "partner_type"),
            ("manager", "Ana Ruiz", "account_manager"),
        ):
            screen.query_one(f"#{widget_id}", Select).value = value
            await settle(pilot)
            assert all(getattr(r, attr) == value for r in rows(table))
        screen.query_one("#risk", Select).value = "yes"
        await settle(pilot)
        assert all(r.at_risk for r in rows(table))
        table.focus()
        await steps(pilot, "x")
        assert screen.partner_query == PartnerQuery(sort=screen.partner_query.sort)
        assert table.row_count == 120


async def test_sorting_keys_and_header_click(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        screen = app.screen
        table = screen.query_one(VirtualTable)
        await pilot.press("s")  # name
        await settle(pilot)
        names = [r.name for r in rows(table)]  # natural order (see test_natural_order_app.py)
        assert screen.partner_query.sort == "name" and names == sorted(names, key=natural_sort_key)
        await steps(pilot, "S")
        assert [r.name for r in rows(table)] == sorted(names, key=natural_sort_key, reverse=True)
        for _ in range(5):  # region, type, manager, tier, score
            await steps(pilot, "s")
        assert screen.partner_query.sort == "score" and screen.partner_query.descending
        scores = [r.score for r in rows(table)]
        assert scores == sorted(scores, reverse=True)
        # a click on the "Region" header sorts by region; a second click reverses it
        await pilot.click(VirtualTable, offset=(30, 0))
        await settle(pilot)
        assert screen.partner_query.sort == "region"
        regions = [r.region for r in rows(table)]
        assert regions == sorted(regions)
        await pilot.click(VirtualTable, offset=(30, 0))
        await settle(pilot)
        assert screen.partner_query.descending


async def test_tier_sort_uses_tier_order(make_app):
    app = make_app()
    async with running(app) as pilot:
        app.open_partners(PartnerQuery(sort="tier", descending=True))
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        order = ["Authorized", "Silver", "Gold", "Platinum"]
        ranks = [order.index(r.tier) for r in rows(table)]
        assert ranks == sorted(ranks, reverse=True)


async def test_cursor_keys_and_mouse(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        table = app.screen.query_one(VirtualTable)
        await pilot.press("down", "down", "up")
        assert table.cursor == 1
        await pilot.press("end")
        assert table.cursor == 119
        assert table.scroll_offset.y > 0
        await pilot.press("pageup")
        assert table.cursor < 119
        await pilot.press("home")
        assert table.cursor == 0 and table.scroll_offset.y == 0
        await pilot.click(VirtualTable, offset=(5, 3))  # third row: highlight
        assert table.cursor == 2
        await pilot.click(VirtualTable, offset=(5, 3))  # again: open
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00003"


async def test_palette_finds_partner_by_name_in_three_keys(make_app):
    app = make_app()
    async with running(app, "o") as pilot:  # the palette works from any screen
        await palette_pick(pilot, "harbor it 7")  # ctrl+p, the name, down, enter
        assert isinstance(app.screen, ScorecardScreen)
        assert app.screen.partner_id == "P00007"


async def test_palette_finds_partner_by_id(make_app):
    app = make_app()
    async with running(app) as pilot:
        await palette_pick(pilot, "P00042")
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00042"


async def test_scorecard_period_keys(make_app):
    app = make_app()
    async with running(app) as pilot:
        app.open_scorecard("P00007")
        await settle(pilot)
        screen = app.screen
        assert screen.period == "2025-Q4"
        await steps(pilot, "left")
        assert screen.period == "2025-Q3" and screen.data.card.period == "2025-Q3"
        await steps(pilot, "left_square_bracket")
        assert screen.period == "2025-Q2"
        await pilot.press("right_square_bracket", "right")
        await settle(pilot)
        assert screen.period == "2025-Q4"
        await pilot.press("right")  # no later period: stays
        await settle(pilot)
        assert screen.period == "2025-Q4"


async def test_scorecard_parent_key(make_app):
    app = make_app()
    async with running(app) as pilot:
        app.open_scorecard("P00027")
        await settle(pilot)
        assert app.screen.data.info.parent_id == "P00004"
        await steps(pilot, "u")
        assert app.screen.partner_id == "P00004"
        assert [s.partner_id for s in app.screen.data.subsidiaries] == ["P00027"]


async def test_approve_updates_effective_tier_at_once(make_app):
    app = make_app()  # dave
    async with running(app, "o") as pilot:
        table = app.screen.query_one(DataTable)
        await pilot.press("down")  # #2: bob asks Platinum for P00007 (now Silver)
        assert app.screen.selected().id == 2
        await steps(pilot, "a")
        assert overrides.get(app.engine, 2).status == "approved"
        assert "P00007 is now Platinum" in str(app.screen.query_one("#override-message").render())
        assert table.row_count == 2
        await steps(pilot, "escape", "l")
        row = next(r for r in rows(app.screen.query_one(VirtualTable)) if r.partner_id == "P00007")
        assert row.tier == "Platinum" and row.overridden


async def test_reject_asks_for_a_note(make_app):
    app = make_app()
    async with running(app, "o", "r") as pilot:
        assert isinstance(app.screen, NoteScreen)
        await pilot.press("enter")  # empty note: refused
        await settle(pilot)
        assert isinstance(app.screen, NoteScreen)
        await type_text(pilot, "No signed contract")
        await steps(pilot, "enter")
        assert isinstance(app.screen, OverridesScreen)
        view = overrides.get(app.engine, 1)
        assert view.status == "rejected" and view.note == "No signed contract" and view.decided_by == "dave"


async def test_reject_cancelled_leaves_request_pending(make_app):
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o", "r")
        await settle(pilot)
        await steps(pilot, "escape")
        assert isinstance(app.screen, OverridesScreen)
        assert overrides.get(app.engine, 1).status == "pending"


async def test_own_request_is_refused_with_a_clear_message(make_app):
    app = make_app(user="alice")
    async with running(app) as pilot:
        await pilot.press("o", "a")
        await settle(pilot)
        message = str(app.screen.query_one("#override-message").render())
        assert "you requested override 1" in message and "someone else" in message
        assert overrides.get(app.engine, 1).status == "pending"
        await steps(pilot, "r")
        assert not isinstance(app.screen, NoteScreen)
        assert overrides.get(app.engine, 1).status == "pending"


async def test_enter_opens_partner_and_all_toggle(make_app):
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("o", "down", "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00012"
        await pilot.press("escape", "v")
        await settle(pilot)
        assert app.screen.show_all and len(app.screen.rows) == 3


async def test_override_form_validates_as_you_type_and_files(make_app):
    app = make_app()
    async with running(app) as pilot:
        app.open_scorecard("P00001")
        await settle(pilot)
        await steps(pilot, "r")
        form = app.screen
        assert isinstance(form, OverrideForm)
        submit = form.query_one("#submit")
        assert submit.disabled
        problems = lambda: str(form.query_one("#problems").render())  # noqa: E731
        assert "choose a tier" in problems() and "reason is required" in problems()
        await pilot.press("enter", "down", "enter")  # pick the first tier offered (the top one)
        await settle(pilot)
        assert form.query_one("#tier", Select).value == "Platinum"
        assert "choose a tier" not in problems()
        await pilot.press("tab")
        await type_text(pilot, "Key account")
        assert "reason" not in problems()
        assert not submit.disabled
        await pilot.press("tab", "tab")
        await type_text(pilot, "2025-13-01")
        assert "not a date" in problems() and submit.disabled
        await pilot.press(*["backspace"] * 10)
        await type_text(pilot, "2025-12-31")
        assert "before the start" in problems()
        await pilot.press(*["backspace"] * 10)
        await type_text(pilot, "2026-12-31")
        assert not submit.disabled
        await steps(pilot, "ctrl+s")
        assert isinstance(app.screen, ScorecardScreen)
        mine = [o for o in overrides.list_overrides(app.engine, "pending", "P00001")]
        assert len(mine) == 1 and mine[0].tier == "Platinum" and mine[0].requested_by == "dave"
        assert str(mine[0].expires_on) == "2026-12-31"
        assert app.screen.data.overrides[0].status == "pending"
        # edit it: e opens the form filled in
        await steps(pilot, "e")
        form = app.screen
        assert isinstance(form, OverrideForm) and form.query_one("#reason", Input).value == "Key account"
        await type_text(pilot, " renewal")
        await steps(pilot, "ctrl+s")
        assert overrides.list_overrides(app.engine, "pending", "P00001")[0].reason == "Key account renewal"


async def test_override_form_cancel(make_app):
    app = make_app()
    async with running(app) as pilot:
        app.open_scorecard("P00001")
        await settle(pilot)
        await steps(pilot, "r", "escape")
        assert isinstance(app.screen, ScorecardScreen)
        await pilot.press("e")  # nothing of mine to edit
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen)


async def test_certification_filters_and_lapse_risk(make_app):
    app = make_app()
    async with running(app, "c") as pilot:
        screen = app.screen
        table = screen.query_one("#certs", VirtualTable)
        total = table.row_count
        assert total > 0
        screen.query_one("#track", Select).value = "tech"
        await settle(pilot)
        assert table.row_count < total and all(r.track == "tech" for r in rows(table))
        screen.query_one("#status", Select).value = "expired"
        await settle(pilot)
        assert all(r.status == "expired" for r in rows(table))
        await pilot.press("slash")
        await type_text(pilot, "p00001")
        assert all(r.partner_id.startswith("P00001") for r in rows(table))
        table.focus()
        await steps(pilot, "x")
        assert table.row_count == total
        for status, days in (("expiring30", 30), ("expiring60", 60), ("expiring90", 90)):
            screen.query_one("#status", Select).value = status
            await settle(pilot)
            assert all(r.status == "expiring" and r.days_left <= days for r in rows(table))
        await steps(pilot, "t")
        lapse = screen.query_one("#lapse-table", DataTable)
        report = reads.lapse_risk(app.engine, app.today)
        assert lapse.row_count == len(report.rows) > 0
        assert app.focused is lapse
        await steps(pilot, "enter")
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == report.rows[0].partner_id


async def test_certifications_open_with_the_list_and_compute_the_lapse_risk_when_its_tab_is_shown(make_app):
    """The list and its count come first; the lapse risk (every partner's next-period gates) is worked
    out only when its tab is shown, and again there after the data changed."""
    app = make_app()
    async with running(app, "c") as pilot:
        screen = app.screen
        table = screen.query_one("#certs", VirtualTable)
        status = str(screen.query_one("#cert-status", Static).render())
        assert f"{table.row_count:,} certifications · today" in status and "counting" not in status
        assert [r.partner_id for r in rows(table)] == sorted(r.partner_id for r in rows(table))
        assert not screen.query("#lapse-table")  # not even made: its tab is not shown
        await steps(pilot, "t")
        lapse = screen.query_one("#lapse-table", DataTable)
        report = reads.lapse_risk(app.engine, app.today)
        assert lapse.row_count == len(report.rows) > 0
        assert "would fall below" in str(screen.query_one("#lapse-status", Static).render())
        await pilot.press("t")
        app.data_changed()
        await settle(pilot)
        assert screen.lapse_version != screen.loaded_version  # the list read again, the lapse risk not yet
        await steps(pilot, "t")
        assert screen.lapse_version == screen.loaded_version
        assert lapse.row_count == len(report.rows)


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_the_keys_of_the_screen(make_app, key):
    app = make_app()
    async with running(app, "o", key) as pilot:
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows()}
        assert {"overrides.approve", "overrides.reject", "app.help", "app.back"} <= ids
        await steps(pilot, "escape")
        assert isinstance(app.screen, OverridesScreen)


async def test_keymap_from_toml(make_app, tmp_path):
    app = make_app(
        config_dir=config_with_keys(tmp_path, '[keys]\n"overrides.approve" = "y"\n\n[app]\ntheme = "nord"\n')
    )
    async with running(app) as pilot:
        assert app.theme == "nord"
        await pilot.press("o", "down", "a")
        await settle(pilot)
        assert overrides.get(app.engine, 2).status == "pending"  # a is no longer approve
        await steps(pilot, "y")
        assert overrides.get(app.engine, 2).status == "approved"


async def test_broken_config_is_reported_not_fatal(make_app, tmp_path):
    app = make_app(config_dir=config_with_keys(tmp_path, "[keys\n"))
    async with running(app):
        assert isinstance(app.screen, DashboardScreen)
        assert app.config.problems


async def test_levelling_runs_in_a_worker_with_progress(make_app):
    app = make_app()
    async with running(app) as pilot:
        await pilot.press("L")
        assert isinstance(app.screen, JobScreen)
        await settle(pilot)
        job = app.screen
        assert job.done and "Levelled 120 partners" in str(job.query_one("#job-result").render())
        await steps(pilot, "enter")
        assert isinstance(app.screen, DashboardScreen)


async def test_import_dialog_rejects_missing_file(make_app, tmp_path):
    app = make_app()
    async with running(app, "I") as pilot:
        await type_text(pilot, str(tmp_path / "nope.csv"))
        await steps(pilot, "enter")
        assert "no file" in str(app.screen.query_one("#import-problem").render())
        await steps(pilot, "escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_theme_switches_from_the_palette(make_app):
    """ctrl+p, "theme", Enter lists the themes; typing one and Enter switches the app to it."""
    app = make_app()
    async with running(app) as pilot:
        assert app.theme != "nord"
        await pilot.press("ctrl+p", *"theme")
        hits = await palette_hits(pilot)
        assert "theme" in str(hits.get_option_at_index(0).prompt).lower()
        await pilot.press("enter")
        await pilot.press(*"nord")
        hits = await palette_hits(pilot)
        assert "nord" in str(hits.get_option_at_index(0).prompt).lower()
        await steps(pilot, "enter")
        assert app.theme == "nord"
        assert isinstance(app.screen, DashboardScreen)


async def test_an_approval_does_not_block_the_keys(make_app, monkeypatch):
    """While an approval is being written (held open here until the test lets it go), a key is
    handled at once: the decision runs in a worker, not on the event loop."""
    import asyncio
    import threading

    from tiertui.app.screens import overrides as screen_module

    writing, go_on, written = threading.Event(), threading.Event(), threading.Event()
    decide = overrides.decide

    def held_decide(*args, **kwargs):
        writing.set()
        go_on.wait(5)  # on the event loop (as it was), this would hold every key for 5 s
        try:
            return decide(*args, **kwargs)
        finally:
            written.set()

    monkeypatch.setattr(screen_module.overrides, "decide", held_decide)
    app = make_app()
    async with running(app, "o") as pilot:
        await pilot.press("down", "a")  # #2: bob asks Platinum for P00007
        for _ in range(200):
            if writing.is_set():
                break
            await asyncio.sleep(0.01)
        assert writing.is_set()
        await pilot.press("question_mark")  # handled while the approval is still being written
        assert isinstance(app.screen, HelpScreen)
        assert not written.is_set()  # the key came first
        await pilot.press("escape")
        go_on.set()
        await settle(pilot)
        assert overrides.get(app.engine, 2).status == "approved"
        assert "P00007 is now Platinum" in str(app.screen.query_one("#override-message").render())


async def test_an_approval_reads_the_queue_once(make_app, monkeypatch):
    """An approval is one round: the decision, then the queue read once for the repaint (it was read
    a second time when the screen reloaded after its own write)."""
    from tiertui.app.screens import overrides as screen_module

    calls = []
    list_overrides = overrides.list_overrides

    def counted(*args, **kwargs):
        calls.append(args[1:])
        return list_overrides(*args, **kwargs)

    monkeypatch.setattr(screen_module.overrides, "list_overrides", counted)
    app = make_app()
    async with running(app, "o") as pilot:
        assert len(calls) == 1
        await pilot.press("down", "a")
        await settle(pilot)
        assert overrides.get(app.engine, 2).status == "approved"
        assert len(calls) == 2
        assert app.screen.query_one(DataTable).row_count == 2


async def test_an_approval_repaints_the_queue_before_reading_it_again(make_app, monkeypatch):
    """The queue is repainted from the decision's own result (the row gone from the pending list,
    the partner's re-levelled tier in the message) while the read of the whole queue, held open
    here, has not come back; that read then repaints it the same way."""
    import asyncio
    import threading

    from tiertui.app.screens import overrides as screen_module

    reading, go_on = threading.Event(), threading.Event()
    list_overrides = overrides.list_overrides
    calls = []

    def held(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the re-read after the decision
            reading.set()
            go_on.wait(5)
        return list_overrides(*args, **kwargs)

    monkeypatch.setattr(screen_module.overrides, "list_overrides", held)
    app = make_app()
    async with running(app, "o") as pilot:
        table = app.screen.query_one(DataTable)
        before = table.row_count
        await pilot.press("down", "a")  # #2: bob asks Platinum for P00007
        for _ in range(300):
            if reading.is_set() and table.row_count == before - 1:
                break
            await asyncio.sleep(0.01)
        assert reading.is_set() and not go_on.is_set()
        assert table.row_count == before - 1
        assert "P00007 is now Platinum" in str(app.screen.query_one("#override-message").render())
        go_on.set()
        await settle(pilot)
        assert table.row_count == before - 1 and len(calls) == 2


async def test_scorecard_periods_read_once(make_app, monkeypatch):
    """[ and ] show a period read before at once, without reading the database again."""
    from tiertui.app.screens import scorecard as screen_module

    calls = []
    partner_scorecard = reads.partner_scorecard

    def counted(engine, partner_id, period, today):
        calls.append(period)
        return partner_scorecard(engine, partner_id, period, today)

    monkeypatch.setattr(screen_module.reads, "partner_scorecard", counted)
    app = make_app()
    async with running(app) as pilot:
        app.open_scorecard("P00007")
        await settle(pilot)
        screen = app.screen
        assert screen.period == "2025-Q4" and len(calls) == 1
        await steps(pilot, "left_square_bracket")
        assert screen.period == "2025-Q3" and len(calls) == 2
        await pilot.press("right_square_bracket", "left_square_bracket", "right_square_bracket")
        assert screen.period == "2025-Q4" and len(calls) == 2  # no worker: at once
        assert "2025-Q4" in str(screen.query_one("#identity").render())


class TableApp(App):
    """A bare app around a VirtualTable over 100,000 ids with a counting fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[tuple[int, int]] = []

    def compose(self):
        def fetch(ids):
            self.fetched.append((ids[0], len(ids)))
            return [(i, f"Partner {i}") for i in ids]

        yield VirtualTable(
            [Column("id", "ID", 8), Column("name", "Name", 20, flex=True)],
            fetch,
            lambda row, key: __import__("rich.text").text.Text(str(row[0] if key == "id" else row[1])),
        )

    def on_mount(self):
        self.query_one(VirtualTable).set_ids(np.arange(100_000))
        self.query_one(VirtualTable).focus()


async def test_virtual_table_fetches_only_visible_pages():
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.fetched == [(0, 100)]
        await pilot.press("end")
        await pilot.pause()
        table = app.query_one(VirtualTable)
        assert table.cursor == 99_999
        assert app.fetched[-1] == (99_900, 100)
        assert len(app.fetched) <= 3
        await pilot.press("pageup")
        await pilot.pause()
        assert table.current_row == (table.cursor, f"Partner {table.cursor}")


async def test_the_audit_log_shows_every_write_and_a_decision_at_once(make_app):
    from tiertui.app.screens.audit import AuditDetailScreen, AuditScreen

    app = make_app(user="alice")
    async with running(app) as pilot:
        pending = overrides.list_overrides(app.engine, status="pending")
        bob = next(o for o in pending if o.requested_by == "bob")
        overrides.decide(app.engine, "alice", bob.id, True, "Agreed")
        await steps(pilot, "h")
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one("#audit-table", VirtualTable)
        lines = rows(table)
        assert [line.at for line in lines] == sorted((line.at for line in lines), reverse=True)
        assert lines[0].action == "override.approve" and lines[0].actor == "alice"
        assert lines[0].partner_id == bob.partner_id
        assert [line.action for line in lines].count("override.request") == 3
        await steps(pilot, "enter")
        assert isinstance(app.screen, AuditDetailScreen) and app.screen.line.id == lines[0].id
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_a_yes_no_requirement_reads_yes_or_no_on_the_scorecard(tmp_path):
    """The demo's "Joint business plan on file" is a flag (unit "yes/no"): the requirements table
    says yes or no, and "missing" when it is not met; never 0, 1 or the unit's name."""
    import io

    from rich.console import Console

    from tiertui.app import TiertuiApp
    from tiertui.services.demo import build_demo
    from tiertui.storage import open_engine

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = open_engine(url)
    try:
        build_demo(engine, partners=80, seed=3, user="dave")
    finally:
        engine.dispose()
    app = TiertuiApp(url, "dave", blink=False, config_dir=tmp_path / "config")
    async with running(app) as pilot:
        seen = {True: 0, False: 0}
        for number in range(1, 81):
            app.open_scorecard(f"P{number:06d}")
            await settle(pilot)
            screen = app.screen
            flags = [c for c in screen.data.card.checks if c.metric == "business_plan"]
            console = Console(width=160, record=True, file=io.StringIO())
            console.print(screen.query_one("#requirements", Static).content)
            lines = [line.split() for line in console.export_text().splitlines() if "Joint business plan" in line]
            assert len(lines) == len(flags)
            for check, words in zip(flags, lines):
                value = "yes" if check.value >= 1 else "no"
                met = ["✔", "met,", "close"] if check.close else ["✔", "met"]
                tail = [value, "yes", *met] if check.met else [value, "yes", "✘", "not", "met", "missing"]
                assert words[-len(tail) :] == tail, words
                seen[check.met] += 1
            app.pop_screen()
            await settle(pilot)
            if seen[True] and seen[False]:
                break
        assert seen[True] and seen[False]  # both a met and an unmet flag were read off the screen


async def test_virtual_table_draws_placeholders_while_a_page_is_fetched():
    """A page the table does not have is fetched in a worker: meanwhile its lines are placeholders
    and keys are handled; the rows are drawn when they come."""
    import threading

    from rich.text import Text

    gate = threading.Event()

    class SlowApp(App):
        def compose(self):
            def fetch(ids):
                gate.wait(10)  # a slow database
                return [(i, f"Partner {i}") for i in ids]

            yield VirtualTable(
                [Column("id", "ID", 8), Column("name", "Name", 20, flex=True)],
                fetch,
                lambda row, key: Text(str(row[0] if key == "id" else row[1])),
            )

    def shown(app) -> str:
        return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

    app = SlowApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(VirtualTable)
        table.focus()
        table.set_ids(list(range(1000)))
        await pilot.pause()
        assert table.row_at(0) is None
        assert " …" in shown(app) and "Partner 0" not in shown(app)
        await pilot.press("down", "down")
        assert table.cursor == 2  # the keys did not wait for the database
        gate.set()
        await settle(pilot)
        assert table.row_at(0) == (0, "Partner 0")
        assert "Partner 2" in shown(app)


async def test_find_a_partner_matches_every_word_in_any_order(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        table = app.screen.query_one(VirtualTable)
        await pilot.press("slash")
        await type_text(pilot, "systems BLUE")  # the name is "Blue Systems 1": words in any order
        found = rows(table)
        assert "P00001" in {r.partner_id for r in found}
        assert all("blue" in r.name.lower() and "systems" in r.name.lower() for r in found)
        app.screen.query_one("#search", Input).value = ""
        await settle(pilot)
        await type_text(pilot, "latam ana")  # region and account manager
        found = rows(table)
        assert found and all(r.region == "LATAM" and r.account_manager == "Ana Ruiz" for r in found)
        # the palette: the same rules, best first
        await pilot.press("escape")
        await palette_pick(pilot, "systems blue 1")
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00001"


async def test_escape_clears_the_search_then_leaves_it_then_the_screen(make_app):
    app = make_app()
    async with running(app, "l") as pilot:
        screen = app.screen
        table = screen.query_one(VirtualTable)
        await pilot.press("slash")
        await type_text(pilot, "harbor")
        assert table.row_count < 120
        await pilot.press("escape")  # clears the text: the whole list again, still in the box
        await settle(pilot)
        box = screen.query_one("#search", Input)
        assert app.screen is screen and box.value == "" and app.focused is box and table.row_count == 120
        await pilot.press("escape")  # leaves the box for the list
        assert app.screen is screen and app.focused is table
        await pilot.press("escape")  # and only then the screen
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
