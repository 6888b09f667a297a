"""The Audit screen: every key (h from anywhere, h on a scorecard, the command palette, / p x filters,
Enter for one entry in full, s to its partner, Escape back) and snapshots at 120x40 and 80x24.

Its own small database, written by real service calls by a fixed cast, with the entries' times
then set to fixed minutes (the log records the wall clock): snapshots never show the real time.
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from helpers import keys, palette_pick, settle
from rich.console import Console
from sqlalchemy import update
from sqlmodel import Session, select

from tiertui.app.screens import audit as audit_screen
from tiertui.app.screens.audit import AuditDetailScreen, AuditScreen
from tiertui.app.screens.dashboard import DashboardScreen
from tiertui.app.screens.help import HelpScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.app.widgets import VirtualTable
from tiertui.services import overrides, programs, roles
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine
from tiertui.storage.tables import AuditEntry

HERE = Path(__file__).resolve().parent
TODAY = date(2026, 1, 15)  # as the other app tests
SIZE = WIDE = (120, 40)
NARROW = (80, 24)
FIRST_ENTRY = datetime(2026, 1, 14, 8, 30, tzinfo=UTC)
CAST = {"alice": "manager", "bob": "manager", "carol": "approver", "dave": "approver", "vic": "viewer"}

REGIONS = ("EMEA", "NA", "LATAM", "APAC")
NAMES = (
    "Acme Systems",
    "Blue Networks",
    "Cedar Solutions",
    "Delta IT",
    "Echo Partners",
    "Falcon Cloud",
    "Granite Digital",
    "Harbor Systems",
    "Iris Networks",
    "Juniper Solutions",
    "Kestrel IT",
    "Lumen Partners",
)


def build(folder: Path) -> str:
    """A levelled database of 12 partners with an audit log of 16 entries at fixed times."""
    url = f"sqlite:///{folder / 'audit.db'}"
    engine = open_engine(url)
    try:
        if not roles.people(engine):
            assert roles.current_role(engine, "setup") == "admin"  # a fresh SQLite file: its first user
        existing = {p.name for p in roles.people(engine)}
        for name, role in CAST.items():
            if name not in existing:
                roles.add(engine, "setup", name, role)
        programs.load_program_file(engine, HERE / "program.toml", "setup")
        partners = folder / "partners.csv"
        partners.write_text(
            "partner_id,name,region,country,partner_type,parent_id,account_manager,tier,tier_since\n"
            + "".join(
                f"P{i:05d},{name},{REGIONS[i % 4]},,Reseller,,Ana Ruiz,Silver,2024-01-01\n"
                for i, name in enumerate(NAMES, start=1)
            )
        )
        metrics = folder / "metrics.csv"
        metrics.write_text(
            "partner_id,period,revenue,deals,csat,escalations\n"
            + "".join(
                f"P{i:05d},{period},{200_000 * i + 50_000 * q},{3 * i + q},{70 + 2 * i},{i % 5}\n"
                for i in range(1, len(NAMES) + 1)
                for q, period in enumerate(("2025-Q3", "2025-Q4"))
            )
        )
        import_file(engine, "partners", partners, "setup")
        import_file(engine, "metrics", metrics, "setup")
        run_levelling(engine, "setup")
        gold = overrides.request(engine, "alice", "P00003", "Gold", "Strategic launch partner", date(2025, 10, 1))
        overrides.decide(engine, "dave", gold, True, "Agreed at the quarterly review")
        platinum = overrides.request(
            engine, "bob", "P00007", "Platinum", "Signed enterprise agreement", date(2025, 10, 1)
        )
        overrides.edit(
            engine,
            "bob",
            platinum,
            "Gold",
            "Signed enterprise agreement; Gold first",
            date(2025, 10, 1),
            date(2026, 12, 31),
        )
        overrides.decide(engine, "carol", platinum, False, "No contract yet")
        overrides.request(engine, "alice", "P00012", "Silver", "Merger pending", date(2025, 7, 1))
        with Session(engine) as session, session.begin():  # the log's times: fixed, 7 minutes apart
            ids = session.exec(select(AuditEntry.id).order_by(AuditEntry.id)).all()
            for n, entry_id in enumerate(ids):
                session.exec(
                    update(AuditEntry)
                    .where(AuditEntry.id == entry_id)
                    .values(at=FIRST_ENTRY + timedelta(minutes=7 * n))
                )
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def audit_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("audit")
    build(folder)
    return folder / "audit.db"


@pytest.fixture
def make_app(audit_template: Path, tmp_path: Path):
    """``make_app(user="dave")``: the app on a private copy of the audit test database."""
    from tiertui.app import TiertuiApp

    target = tmp_path / "audit.db"
    shutil.copy(audit_template, target)
    for suffix in ("-wal", "-shm"):
        extra = Path(f"{audit_template}{suffix}")
        if extra.exists():
            shutil.copy(extra, Path(f"{target}{suffix}"))

    def factory(user: str = "dave"):
        return TiertuiApp(f"sqlite:///{target}", user, today=TODAY, blink=False, config_dir=tmp_path / "config")

    return factory


def shown(screen: AuditScreen) -> list:
    table = screen.query_one("#audit-table", VirtualTable)
    return table.fetch([int(i) for i in table.ids])


def plain(renderable) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def status(screen: AuditScreen) -> str:
    return str(screen.query_one("#audit-status").render())


async def open_audit(pilot) -> AuditScreen:
    await settle(pilot)
    await pilot.press("h")
    await settle(pilot)
    assert isinstance(pilot.app.screen, AuditScreen)
    return pilot.app.screen


# ---------------------------------------------------------------------------- keys


async def test_h_opens_the_log_newest_first_and_escape_goes_back(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        lines = shown(screen)
        assert len(lines) == 16 and status(screen) == "16 entries · newest first"
        assert [line.at for line in lines] == sorted((line.at for line in lines), reverse=True)
        assert lines[0].action == "override.request" and lines[0].partner_id == "P00012"
        assert lines[1].summary == "rejected override 2 for P00007 (Gold): pending -> rejected; note: No contract yet"
        assert lines[-1].summary == "added setup as admin (first person to use this database)"
        await pilot.press("h")  # already there: not opened twice
        await settle(pilot)
        assert len(app.screen_stack) == 2
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_the_log_arrives_with_its_rows_drawn_in_the_same_frame(make_app, monkeypatch):
    """The entries are in memory once read: the list shows them as it appears, not placeholder rows
    waiting for a worker to hand the same rows back (a thread's round trip on the first open)."""
    ready = []
    loaded = AuditScreen._loaded

    def checked(self, *args):
        loaded(self, *args)
        ready.append(self.query_one("#audit-table", VirtualTable).page_ready(0))

    monkeypatch.setattr(AuditScreen, "_loaded", checked)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        assert ready == [True] and len(shown(screen)) == 16


async def test_the_command_palette_opens_the_log(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await palette_pick(pilot, "audit log")
        assert isinstance(app.screen, AuditScreen) and app.screen.partner_id is None


async def test_h_on_a_scorecard_opens_that_partners_history(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_scorecard("P00007")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen) and screen.partner_id == "P00007"
        assert [line.action for line in shown(screen)] == ["override.reject", "override.edit", "override.request"]
        assert screen.title == "Audit log · P00007"
        assert status(screen) == "3 entries · newest first · partner P00007"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00007"


async def test_slash_filters_by_who_action_or_words_and_x_clears(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("slash", *"REJECT")
        await settle(pilot)
        assert [line.action for line in shown(screen)] == ["override.reject"]
        assert status(screen) == "16 entries · newest first · 1 match “REJECT”"
        await pilot.press("enter")  # back to the table; the filter stays
        await settle(pilot)
        assert screen.query_one("#audit-table").has_focus
        await pilot.press("slash", *["backspace"] * 6, *"alice")  # who
        await settle(pilot)
        assert [(line.actor, line.action) for line in shown(screen)] == [
            ("alice", "override.request"),
            ("alice", "override.request"),
            ("setup", "user.add"),
        ]  # added alice
        await pilot.press("enter", "x")
        await settle(pilot)
        assert len(shown(screen)) == 16 and screen.query_one("#audit-text").value == ""


async def test_p_filters_by_partner_and_an_unknown_partner_says_so(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("p", *"p00003", "enter")  # any case
        await settle(pilot)
        assert screen.partner_id == "P00003" and screen.title == "Audit log · P00003"
        assert [line.action for line in shown(screen)] == ["override.approve", "override.request"]
        await pilot.press("p", *["backspace"] * 6, *"ZZ9", "enter")
        await settle(pilot)
        assert shown(screen) == [] and status(screen) == "no partner 'ZZ9'"
        await pilot.press("x")
        await settle(pilot)
        assert screen.partner_id is None and len(shown(screen)) == 16
        assert screen.query_one("#audit-partner").value == ""


async def test_enter_shows_one_entry_in_full_and_s_opens_its_partner(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("down", "down", "enter")  # the edit of override 2
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, AuditDetailScreen) and detail.line.action == "override.edit"
        body = plain(detail.query_one("#audit-detail-body").content)
        for text in (
            "Before",
            "After",
            "Platinum",
            "Gold",
            "2026-12-31",
            "Signed enterprise agreement; Gold first",
            "2026-01-14 10:01:00 UTC",
            "override 2",
            "P00007",
        ):
            assert text in body
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#audit-table", VirtualTable).cursor == 2
        await pilot.press("enter", "s")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen) and app.screen.partner_id == "P00007"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_detail_of_an_entry_not_about_a_partner(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_audit(pilot)
        await pilot.press("end", "enter")  # the first entry: setup became admin
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, AuditDetailScreen) and detail.line.partner_id is None
        await pilot.press("s")  # no partner: says so, stays
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)


async def test_help_lists_the_keys_of_the_audit_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_audit(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows()}
        assert {"audit.search", "audit.partner", "audit.clear", "app.audit", "app.back"} <= ids


async def test_a_large_log_shows_the_newest_page_and_says_so(make_app, monkeypatch):
    monkeypatch.setattr(audit_screen, "PAGE", 5)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audit(pilot)
        assert len(shown(screen)) == 5 and shown(screen)[0].partner_id == "P00012"
        assert status(screen) == ("5 entries (the newest) · newest first · older ones: tiertui audit --since DATE")


async def test_someone_removed_while_the_app_is_open_is_told_why(make_app):
    app = make_app(user="vic")  # a viewer when the app opened; an admin then takes them off the database
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.role == "viewer"
        roles.remove(app.engine, "setup", "vic")
        screen = await open_audit(pilot)
        assert shown(screen) == []
        assert status(screen).startswith("vic is not a user of this database; reading the audit log needs")


# ---------------------------------------------------------------------------- snapshots


def test_snapshot_audit_log(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("h"))


def test_snapshot_audit_log_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("h"))


def test_snapshot_audit_of_a_partner_from_its_scorecard(snap_compare, make_app):
    async def run(pilot):
        await keys()(pilot)
        pilot.app.open_scorecard("P00007")
        await keys("h")(pilot)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_snapshot_audit_filtered_by_words(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("h", "slash", "type:override"))


def test_snapshot_audit_entry_detail(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=keys("h", "down", "down", "enter"))


def test_snapshot_audit_entry_detail_narrow(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=keys("h", "down", "down", "enter"))
