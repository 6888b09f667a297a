"""Designations and program versions in the rest of the app (issue 14, spec v2 §3.8, §3.11, §3.12):
the partner list filters by designation held (and a saved view keeps it), the certifications'
lapse risk names the designations a partner would lose, and a partner's history across a program
change says the version changed and maps the tier names rather than showing a move."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from helpers import SIZE, keys, palette_pick, running, settle, steps
from rich.console import Console
from textual.widgets import Select, Static

from tiertui.app import TiertuiApp
from tiertui.app.screens.partners import PartnersScreen
from tiertui.app.views import load_views
from tiertui.app.widgets import VirtualTable
from tiertui.services.demo import build_demo
from tiertui.services.exports import scorecard_rows
from tiertui.storage import open_engine

TODAY = date(2026, 11, 30)


def shown(widget: Static, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def rows(table: VirtualTable) -> list:
    return table.fetch([int(i) for i in table.ids])


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> Path:
    """The demo with its 2026 version: Authorized renamed Registered, six designations, protection."""
    path = tmp_path_factory.mktemp("designations") / "demo.db"
    engine = open_engine(f"sqlite:///{path}")
    try:
        build_demo(engine, partners=150, seed=2026, user="dave")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def demo_url(demo_template: Path, tmp_path: Path) -> str:
    import shutil

    target = tmp_path / "demo.db"
    shutil.copy(demo_template, target)
    return f"sqlite:///{target}"


def holders(url: str, period: str) -> dict[str, set[str]]:
    engine = open_engine(url)
    try:
        found: dict[str, set[str]] = {}
        for row in scorecard_rows(engine, period):
            for name in row.designations or ():
                found.setdefault(name, set()).add(row.partner_id)
        return found
    finally:
        engine.dispose()


def make(url: str, tmp_path: Path) -> TiertuiApp:
    return TiertuiApp(url, "dave", today=TODAY, blink=False, config_dir=tmp_path / "config")


# --------------------------------------------------------------------------- the partner list's filter


async def test_the_partner_list_filters_by_designation_held_and_a_saved_view_keeps_it(demo_url, tmp_path):
    held = holders(demo_url, "2026-Q3")
    app = make(demo_url, tmp_path)
    async with running(app, "l") as pilot:
        screen = app.screen
        assert isinstance(screen, PartnersScreen)
        table = screen.query_one(VirtualTable)
        assert table.row_count == 150
        await pilot.press("f")
        await pilot.press(*["tab"] * 6)
        assert app.focused.id == "designation"
        await pilot.press("enter")  # open the list of designations
        await settle(pilot)
        await pilot.press("down", "enter")  # the first: Cloud Specialist
        await settle(pilot)
        assert screen.partner_query.designation == "Cloud Specialist"
        found = {r.partner_id for r in rows(table)}
        assert found == held["Cloud Specialist"] and 0 < len(found) < 150
        status = shown(screen.query_one("#partner-status", Static))
        assert f"{len(found)} partners" in status and "designation: Cloud Specialist" in status
        # with another filter: both hold
        screen.query_one("#tier", Select).value = "Gold"
        await settle(pilot)
        gold = rows(table)
        assert {r.partner_id for r in gold} < found and all(r.tier == "Gold" for r in gold)
        screen.query_one("#tier", Select).clear()
        await settle(pilot)
        # V saves the view with its designation; the palette reopens it
        table.focus()
        await steps(pilot, "V")
        await pilot.press(*"cloud", "enter")
        await settle(pilot)
        assert load_views(tmp_path / "config")["cloud"].designation == "Cloud Specialist"
        await steps(pilot, "g")
        await palette_pick(pilot, "view: cloud")
        reopened = app.screen
        assert isinstance(reopened, PartnersScreen) and reopened is not screen
        assert {r.partner_id for r in rows(reopened.query_one(VirtualTable))} == held["Cloud Specialist"]
        assert reopened.query_one("#designation", Select).value == "Cloud Specialist"
        # x clears it with the rest
        reopened.query_one(VirtualTable).focus()
        await steps(pilot, "x")
        assert reopened.partner_query.designation is None
        assert reopened.query_one(VirtualTable).row_count == 150


# --------------------------------------------------------------------------- snapshots

NARROW = (80, 24)


def _open_history(pid: str):
    async def run(pilot) -> None:
        await settle(pilot)
        pilot.app.open_scorecard(pid)
        await settle(pilot)
        await steps(pilot, "H")

    return run


async def _designation_filter(pilot) -> None:
    await settle(pilot)
    await steps(pilot, "l")
    pilot.app.screen.query_one("#designation", Select).value = "Contact Center Expert"
    await settle(pilot)
    pilot.app.screen.query_one(VirtualTable).focus()
    await settle(pilot)


@pytest.mark.parametrize("size", [SIZE, NARROW], ids=["wide", "narrow"])
def test_snapshot_history_across_the_change_a_rename(snap_compare, demo_url, tmp_path, size):
    assert snap_compare(make(demo_url, tmp_path), terminal_size=size, run_before=_open_history("P000001"))


@pytest.mark.parametrize("size", [SIZE, NARROW], ids=["wide", "narrow"])
def test_snapshot_history_across_the_change_a_real_move(snap_compare, demo_url, tmp_path, size):
    assert snap_compare(make(demo_url, tmp_path), terminal_size=size, run_before=_open_history("P000053"))


@pytest.mark.parametrize("size", [SIZE, NARROW], ids=["wide", "narrow"])
def test_snapshot_partner_list_filtered_by_designation(snap_compare, demo_url, tmp_path, size):
    assert snap_compare(make(demo_url, tmp_path), terminal_size=size, run_before=_designation_filter)


# --------------------------------------------------------------------------- lapse risk and designations


def test_lapse_risk_names_the_designations_that_would_be_lost(demo_url):
    from tiertui.services.read.engine import lapse_risk

    engine = open_engine(demo_url)
    try:
        report = lapse_risk(engine, TODAY)
    finally:
        engine.dispose()
    assert report.period == "2026-Q4"
    rows = {(r.partner_id, r.track): r for r in report.rows}
    # P000108: two people certified in cloud today, one at 2026-12-31; Cloud Specialist's gate is
    # 2 cloud people (with cloud_mrr 15,000, met): no longer met, though kept one more period; its
    # tier (Registered, the entry tier) has no gate to lose
    r = rows[("P000108", "cloud")]
    assert (r.now, r.at_period_end, r.lapsing) == (2, 1, 1)
    assert r.designations == ("Cloud Specialist",) and not r.gate
    assert r.designation_words == "Cloud Specialist (kept 1 more period)"
    # P000150: its one contact center person lapses; Contact Center Expert (gate 1) has no keep-window
    r = rows[("P000150", "contact_center")]
    assert (r.now, r.at_period_end) == (1, 0) and r.designation_words == "Contact Center Expert"


async def test_the_lapse_risk_tab_shows_the_designations_lost(demo_url, tmp_path):
    from textual.widgets import DataTable

    app = make(demo_url, tmp_path)
    async with running(app, "c", "t"):
        table = app.screen.query_one("#lapse-table", DataTable)
        cells = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert "Cloud Specialist (kept 1 more period)" in cells["P000108"]
        assert "Contact Center Expert" in cells["P000150"]
        status = shown(app.screen.query_one("#lapse-status", Static))
        assert "4 would lose a designation" in " ".join(status.split())


@pytest.mark.parametrize("size", [SIZE, NARROW], ids=["wide", "narrow"])
def test_snapshot_lapse_risk_with_designations(snap_compare, demo_url, tmp_path, size):
    assert snap_compare(make(demo_url, tmp_path), terminal_size=size, run_before=keys("c", "t"))


# --------------------------------------------------------------------------- hostile designation names

HOSTILE_NAMES = [
    "[link=http://evil.example]EMEA[/link]",  # hostile_corpus.MARKUP
    "[bold red on white]loud[/]",
    "\x1b[2J\x1b[31mRED",  # hostile_corpus.ESCAPES
    "ok\rEVIL",  # hostile_corpus.OVERWRITE
]


async def test_hostile_designation_names_show_literally_in_the_filter(sqlite_app_db, tmp_path):
    import json

    from tiertui.safe_text import visible
    from tiertui.scoring import parse_program
    from tiertui.services.programs import store_program

    text = (Path(__file__).parent / "program.toml").read_text()
    for name in HOSTILE_NAMES:  # each met with a CSAT of 70 or more
        text += f"\n[[designations]]\nname = {json.dumps(name)}\ngates = {{ csat = 70 }}\n"
    engine = open_engine(sqlite_app_db)
    try:
        store_program(engine, parse_program(text, "hostile.toml"), "dave", "hostile.toml")
    finally:
        engine.dispose()
    app = TiertuiApp(sqlite_app_db, "dave", today=date(2026, 1, 15), blink=False, config_dir=tmp_path / "c")
    async with running(app, "l") as pilot:
        screen = app.screen
        select = screen.query_one("#designation", Select)
        for name in HOSTILE_NAMES:
            select.value = name
            await settle(pilot)
            assert screen.partner_query.designation == name
            found = rows(screen.query_one(VirtualTable))
            assert 0 < len(found) < 120  # the partners with a CSAT of 70 or more
            screen_text = "\n".join(
                "".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()
            )
            for ch in ("\x1b", "\r"):
                assert ch not in screen_text
            assert visible(name)[:20] in screen_text  # shown as typed (escapes visible), not obeyed
