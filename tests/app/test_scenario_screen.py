"""The What-if scenario screen: snapshots and Pilot tests against the small levelled test database."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from helpers import keys, settle
from rich.console import Console
from sqlmodel import Session, select

from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.dialogs import ConfirmScreen, PickScenarioScreen, PromptScreen
from tiertui.app.screens.scenario import ScenarioScreen, parse_number
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.app.widgets import VirtualTable
from tiertui.app.widgets.knob_row import KnobInput, KnobRow
from tiertui.scoring import parse_program
from tiertui.services import scenarios
from tiertui.services.programs import program_versions
from tiertui.storage.tables import AuditEntry
from tiertui.storage.tables import Scenario as SavedScenario

WIDE = (120, 40)
NARROW = (80, 24)
CERT_GATE = "Gold gate cert:sales"  # 13th value in the list: 12 downs from the first
TO_CERT_GATE = ["down"] * 12
EDIT_CERT_GATE = ("w", *TO_CERT_GATE, "enter", "backspace", "type:1", "enter")
BOTH = pytest.mark.parametrize("app_db", ["sqlite", "postgresql"], indirect=True)  # the Pilot tests


# ------------------------------------------------------------------ snapshots


def test_scenario_screen(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("w"))


def test_scenario_screen_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("w"))


def test_scenario_screen_after_edit(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys(*EDIT_CERT_GATE))


def test_scenario_screen_after_edit_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys(*EDIT_CERT_GATE))


SAVE_AS_LOOSE = (*EDIT_CERT_GATE, "ctrl+s", "type:loose")


def test_scenario_save_asks_for_a_name(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys(*SAVE_AS_LOOSE))


def test_scenario_open_lists_the_saved_ones(snap_compare, make_app):
    async def run(pilot):
        await keys(*SAVE_AS_LOOSE, "enter", "r", "ctrl+s", "type:as is", "enter")(pilot)
        with Session(pilot.app.engine) as session, session.begin():  # fixed times: the list shows them
            for n, saved in enumerate(session.exec(select(SavedScenario).order_by(SavedScenario.id)).all()):
                saved.created_at = saved.updated_at = datetime(2026, 1, 14, 9, 30 + n, tzinfo=UTC)
        await keys("ctrl+o")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_scenario_activate_asks_to_confirm(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys(*SAVE_AS_LOOSE, "enter", "A"))


# ------------------------------------------------------------------ helpers


async def open_screen(pilot) -> ScenarioScreen:
    await settle(pilot)
    await pilot.press("w")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ScenarioScreen)
    assert screen.result is not None
    return screen


def row(screen: ScenarioScreen, label: str) -> KnobRow:
    return next(r for r in screen.query(KnobRow) if r.entry.label == label)


async def focus_row(pilot, screen: ScenarioScreen, label: str) -> KnobRow:
    target = row(screen, label)
    target.focus()
    await settle(pilot)
    return target


async def edit(pilot, screen: ScenarioScreen, label: str, typed: str) -> None:
    await focus_row(pilot, screen, label)
    await pilot.press("enter")
    box = pilot.app.focused
    assert isinstance(box, KnobInput)
    box.value = ""
    await pilot.press(*typed, "enter")
    await settle(pilot)


def message(screen: ScenarioScreen) -> str:
    return str(screen.query_one("#scenario-message").render())


def shown(widget) -> str:
    """The text a Static shows (a Rich table included)."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def movers(screen: ScenarioScreen) -> list:
    table = screen.query_one("#movers", VirtualTable)
    return table.fetch([int(i) for i in table.ids])


# ------------------------------------------------------------------ opening and editing


@BOTH
async def test_opens_from_dashboard_and_palette_with_no_edits(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        assert screen.result.moved_up == screen.result.moved_down == 0
        assert screen.result.tiers_before == screen.result.tiers_after
        assert screen.result.cost_before.total.total > 0  # the test program has benefits
        assert isinstance(app.focused, KnobRow) and app.focused.entry.label == "grace periods"
        assert all(r.entry.status == "same" for r in screen.query(KnobRow))
        assert "Partners per tier · 2025-Q4" in shown(screen.query_one("#tier-counts"))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        # the palette command
        from tiertui.app.commands import NavigationCommands

        assert any(action == "action_whatif" for _, action, _ in NavigationCommands.COMMANDS)
        app.action_whatif()
        await settle(pilot)
        assert isinstance(app.screen, ScenarioScreen)


@BOTH
async def test_reopening_reuses_the_partner_data_until_something_is_written(make_app):
    """The partner data read at the first visit is kept for the next (the figures come at once);
    after any write, by anyone (here another connection, as another process would), it is read again."""
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        first = (await open_screen(pilot)).session
        figures = shown(app.screen.query_one("#tier-counts"))
        await pilot.press("escape")
        await settle(pilot)
        again = await open_screen(pilot)
        assert again.session is first and shown(again.query_one("#tier-counts")) == figures
        await pilot.press("escape")
        await settle(pilot)
        scenarios.save_scenario(app.engine, "admin", "elsewhere", first.base_text)  # audited: a write
        third = await open_screen(pilot)
        assert third.session is not first and shown(third.query_one("#tier-counts")) == figures


@BOTH
async def test_edit_a_gate_and_see_the_movers(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await pilot.press(*TO_CERT_GATE)
        assert app.focused.entry.label == CERT_GATE
        await pilot.press("enter")
        assert isinstance(app.focused, KnobInput) and app.focused.value == "2"
        await pilot.press("backspace", "1", "enter")
        await settle(pilot)
        assert isinstance(app.focused, KnobRow) and app.focused.entry.label == CERT_GATE
        entry = row(screen, CERT_GATE).entry
        assert (entry.value, entry.original, entry.status) == (1, 2, "changed")
        assert str(row(screen, CERT_GATE).query_one(".knob-label").render()).startswith("✎")
        r = screen.result
        assert (r.moved_up, r.moved_down) == (23, 0)
        assert r.tiers_after["Gold"] == r.tiers_before["Gold"] + 23
        shown = movers(screen)
        assert len(shown) == 23 and all(m.direction == "up" and "cert:sales" in m.reason for m in shown)
        assert "(lowered from 2)" in shown[1].reason
        assert r.cost_after.total.total > r.cost_before.total.total
        assert "Movers: 23 ▲ up, 0 ▼ down" in str(screen.query_one("#movers-status").render())
        # Enter on a mover opens its scorecard
        screen.query_one("#movers", VirtualTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == shown[0].partner_id


@BOTH
async def test_typing_a_digit_starts_an_edit(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await focus_row(pilot, screen, "Silver min_score")
        await pilot.press("4", "0", "enter")
        await settle(pilot)
        assert row(screen, "Silver min_score").entry.value == 40
        assert (screen.result.moved_up, screen.result.moved_down) == (0, 10)
        assert all(m.to_tier == "Authorized" for m in movers(screen))


@BOTH
async def test_invalid_values_are_refused_with_a_message(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        before = screen.text
        await edit(pilot, screen, "Gold gate revenue", "lots")
        assert "Refused" in message(screen) and "'lots' is not a number" in message(screen)
        assert isinstance(app.focused, KnobInput)  # still editing, to correct it
        await pilot.press("escape")
        await settle(pilot)
        await edit(pilot, screen, "Gold discount", "10")
        assert "Refused" in message(screen) and "between 0 and 1" in message(screen)
        await pilot.press("escape")
        await settle(pilot)
        await focus_row(pilot, screen, "grace periods")
        await pilot.press("delete")
        await settle(pilot)
        assert "cannot be switched off" in message(screen)
        assert screen.text == before
        assert all(r.entry.status == "same" for r in screen.query(KnobRow))
        assert screen.result.moved_up == screen.result.moved_down == 0


@BOTH
async def test_escape_cancels_an_edit(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        before = screen.text
        await focus_row(pilot, screen, "Gold min_score")
        await pilot.press("enter", "9", "9")
        assert isinstance(app.focused, KnobInput)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen  # escape cancelled the edit, it did not leave the screen
        assert isinstance(app.focused, KnobRow) and app.focused.entry.label == "Gold min_score"
        assert not app.focused.editing
        assert screen.text == before and row(screen, "Gold min_score").entry.status == "same"
        assert "cancelled" in message(screen)


@BOTH
async def test_switch_a_gate_off_and_on_again(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await focus_row(pilot, screen, CERT_GATE)
        await pilot.press("delete")
        await settle(pilot)
        entry = row(screen, CERT_GATE).entry
        assert (entry.value, entry.status, entry.present) == (None, "off", False)
        assert '"cert:sales"' not in screen.text.split("[requirements.Gold]")[1].split("[")[0]
        assert screen.result.moved_up == 46
        assert all("switched off" in m.reason for m in movers(screen))
        assert str(row(screen, CERT_GATE).query_one(".knob-label").render()).startswith("✘")
        # Enter on a switched-off value brings it back
        await edit(pilot, screen, CERT_GATE, "2")
        assert row(screen, CERT_GATE).entry.status == "same"
        assert screen.result.moved_up == 0


@BOTH
async def test_filter_movers(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await edit(pilot, screen, "Gold maximum escalations", "8")
        await edit(pilot, screen, "Gold min_score", "50")
        r = screen.result
        assert (r.moved_up, r.moved_down) == (2, 3)
        from textual.widgets import Select

        await pilot.press("f")
        assert app.focused.id == "mover-region"
        screen.query_one("#mover-direction", Select).value = "down"
        await settle(pilot)
        assert [m.partner_id for m in movers(screen)] == [m.partner_id for m in r.filter(direction="down")]
        assert all(m.direction == "down" for m in movers(screen)) and len(movers(screen)) == 3
        screen.query_one("#mover-region", Select).value = "LATAM"
        await settle(pilot)
        assert [m.partner_id for m in movers(screen)] == ["P00046"]
        assert "showing 1" in str(screen.query_one("#movers-status").render())
        screen.query_one("#mover-manager", Select).value = "Ana Ruiz"
        await settle(pilot)
        assert movers(screen) == []
        await pilot.press("F")
        await settle(pilot)
        assert len(movers(screen)) == 5
        screen.query_one("#mover-type", Select).value = "Reseller"
        await settle(pilot)
        assert movers(screen) and all(m.partner_type == "Reseller" for m in movers(screen))
        await pilot.press("m")  # to the movers
        assert app.focused is screen.query_one("#movers", VirtualTable)
        await pilot.press("k")  # back to the values, at the first
        assert isinstance(app.focused, KnobRow) and app.focused.entry.label == "grace periods"


@BOTH
async def test_period_keys(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await edit(pilot, screen, CERT_GATE, "1")
        q4 = screen.result.moved_up
        await pilot.press("p")
        await settle(pilot)
        assert screen.result.period == "2025-Q3"
        assert "2025-Q3" in shown(screen.query_one("#tier-counts"))
        assert screen.result.moved_up != q4 or screen.result.tiers_after != screen.result.tiers_before
        await pilot.press("p", "p")
        await settle(pilot)
        assert screen.result.period == "2025-Q1"
        await pilot.press("p")
        await settle(pilot)
        assert screen.result.period == "2025-Q1" and "first period" in message(screen)
        await pilot.press("n", "n", "n", "n")
        await settle(pilot)
        assert screen.result.period == "2025-Q4" and "latest period" in message(screen)
        assert screen.result.moved_up == q4


@BOTH
async def test_reset_all_edits(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await edit(pilot, screen, CERT_GATE, "1")
        await edit(pilot, screen, "Silver min_score", "40")
        assert screen.edits() == 2
        await pilot.press("r")
        await settle(pilot)
        assert screen.text == screen.session.base_text and screen.edits() == 0
        assert screen.result.moved_up == screen.result.moved_down == 0


# ------------------------------------------------------------------ save, open, export, activate


async def save_as(pilot, name: str) -> None:
    await pilot.press("ctrl+s")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PromptScreen)
    await pilot.press(*name, "enter")
    await settle(pilot)


@BOTH
async def test_save_then_reopen(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert "No saved scenarios yet" in message(screen)
        await edit(pilot, screen, CERT_GATE, "1")
        await save_as(pilot, "loose")
        assert app.screen is screen and "Saved scenario loose" in message(screen)
        assert [s.name for s in scenarios.list_scenarios(app.engine)] == ["loose"]
        assert scenarios.open_scenario(app.engine, "loose").content == screen.text
        assert not screen.dirty
        await pilot.press("r")
        await settle(pilot)
        assert screen.dirty and screen.result.moved_up == 0
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, PickScenarioScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.scenario_name == "loose" and not screen.dirty
        assert screen.result.moved_up == 23 and row(screen, CERT_GATE).entry.value == 1


@BOTH
async def test_export_writes_a_program_file(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert app.screen is screen and "save the scenario under a name first" in message(screen)
        await edit(pilot, screen, CERT_GATE, "1")
        await save_as(pilot, "loose")
        await pilot.press("x")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PromptScreen)
        from textual.widgets import Input

        box = dialog.query_one(Input)
        assert box.value == "loose.toml"
        target = tmp_path / "out" / "loose.toml"
        target.parent.mkdir()
        box.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and "Exported" in message(screen)
        program = parse_program(target.read_text(), "loose.toml")
        assert list(program.tiers) == ["Authorized", "Silver", "Gold", "Platinum"]
        assert target.read_text() == screen.text


@BOTH
async def test_activate_creates_a_new_program_version(make_app):
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await edit(pilot, screen, CERT_GATE, "1")
        await pilot.press("A")
        await settle(pilot)
        assert app.screen is screen and "save the scenario under a name first" in message(screen)
        assert len(program_versions(app.engine)) == 1
        await save_as(pilot, "loose")
        await edit(pilot, screen, "Silver min_score", "40")
        await pilot.press("A")
        await settle(pilot)
        assert "unsaved edits" in message(screen) and len(program_versions(app.engine)) == 1
        await pilot.press("r")
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press("enter")  # reopen "loose" as saved
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert len(program_versions(app.engine)) == 1 and "Not activated" in message(screen)
        await pilot.press("A")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        versions = program_versions(app.engine)
        assert [(v.version, v.active) for v in versions] == [(1, False), (2, True)]
        assert "Gold" in versions[1].content and versions[0].content != versions[1].content
        with Session(app.engine) as session:
            entries = session.exec(select(AuditEntry).where(AuditEntry.action == "scenario.activate")).all()
        assert len(entries) == 1 and entries[0].actor == "dave"
        assert json.loads(entries[0].detail)["program_version"] == 2
        assert "now the active program" in message(screen) and "v2" in message(screen)
        assert "Press L to level" in message(screen)
        # the screen now compares against the new version: no edits, no movers
        assert screen.session.base_version == 2
        assert screen.edits() == 0 and screen.result.moved_up == screen.result.moved_down == 0


def test_parse_number():
    assert parse_number("800,000") == 800000
    assert parse_number(" 0.1 ") == 0.1
    assert parse_number("1_000") == 1000
    for bad in ("", "abc", "nan", "inf"):
        with pytest.raises(ValueError):
            parse_number(bad)


# ------------------------------------------------------------------ workers and screens that have gone


async def test_a_worker_reporting_to_a_screen_that_has_gone_is_ignored(make_app):
    """Issue #12: w, h, L (wait for done), Enter, ctrl+p a partner, Enter, g ended the app with
    "NoMatches: No nodes match '#scenario-status'": the what-if screen's loading worker, restarted by
    the levelling run, reported to the screen after g had removed it."""
    from helpers import palette_pick

    from tiertui.app.screens.jobs import JobScreen

    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ScenarioScreen)
        scenario = app.screen
        await pilot.press("h", "L")
        await settle(pilot)
        assert isinstance(app.screen, JobScreen) and app.screen.done
        await pilot.press("enter")
        await palette_pick(pilot, "P00042")
        assert isinstance(app.screen, ScorecardScreen)
        await pilot.press("enter", "g")
        # the scenario's reports (its session being read again) now land on a screen that has gone
        scenario.report(scenario._status, "late report")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert scenario.is_gone
    assert app.return_code in (None, 0)


async def test_escape_with_unsaved_edits_asks_before_leaving(make_app):
    from tiertui.app.screens.dialogs import ConfirmScreen

    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_screen(pilot)
        await edit(pilot, screen, "Gold min_score", "50")
        assert screen.dirty
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # asks; the edits are still there
        await pilot.press("escape")  # no: stay
        await settle(pilot)
        assert app.screen is screen and screen.dirty
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("enter")  # "Leave without saving"
        await settle(pilot)
        assert app.screen is not screen and not isinstance(app.screen, ConfirmScreen)
