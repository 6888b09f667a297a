"""Call notes on the scorecard (issue 13): n writes one, the notes show newest first, Escape cancels."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from helpers import settle
from rich.console import Console
from sqlalchemy import update
from sqlmodel import Session, select
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from tiertui.app.screens.help import HelpScreen
from tiertui.app.screens.note_dialog import CallNoteScreen
from tiertui.app.screens.scorecard import ScorecardScreen
from tiertui.services import notes
from tiertui.storage import open_engine
from tiertui.storage.tables import AuditEntry, CallNote

SIZE = (120, 40)
NARROW = (80, 24)
PARTNER = "P00007"


def shown(widget: Static, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def stored(url: str) -> list[tuple[str, str]]:
    engine = open_engine(url)
    try:
        with Session(engine) as s:
            return [(n.author, n.text) for n in s.exec(select(CallNote).order_by(CallNote.id))]
    finally:
        engine.dispose()


def add_notes(url: str, *written: tuple[str, str, datetime]) -> None:
    """Notes on PARTNER by (author, text, when)."""
    engine = open_engine(url)
    try:
        for author, text, when in written:
            view = notes.add_note(engine, author, PARTNER, text)
            with Session(engine) as s, s.begin():
                s.exec(update(CallNote).where(CallNote.uuid == view.uuid).values(written_at=when))
    finally:
        engine.dispose()


async def open_card(pilot) -> None:
    await settle(pilot)
    pilot.app.open_scorecard(PARTNER)
    await settle(pilot)


async def write(pilot, text: str) -> None:
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, CallNoteScreen)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await settle(pilot)


def note_lines(screen) -> list[str]:
    return [line.strip() for line in shown(screen.query_one("#notes", Static)).splitlines() if line.strip()]


async def test_n_writes_a_note_that_shows_newest_first_and_says_it_saved(make_app, app_db):
    app = make_app(user="alice")
    async with app.run_test(size=SIZE) as pilot:
        await open_card(pilot)
        assert note_lines(app.screen) == ["No call notes. Press n to add one."]
        await write(pilot, "Called Jo: renewal is signed")
        await write(pilot, "Jo asks about Platinum")
        assert isinstance(app.screen, ScorecardScreen)
        lines = note_lines(app.screen)
        assert lines[0].split() == ["Written", "(UTC)", "By", "Note"]
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert [line.split(None, 3)[2:] for line in lines[2:]] == [
            ["alice", "Jo asks about Platinum"],
            ["alice", "Called Jo: renewal is signed"],
        ]
        assert all(line.startswith(today) for line in lines[2:])
        messages = [str(n.message) for n in app._notifications]
        assert sum(m.startswith(f"Saved your note on {PARTNER} (") for m in messages) == 2
    assert stored(app_db) == [("alice", "Called Jo: renewal is signed"), ("alice", "Jo asks about Platinum")]
    engine = open_engine(app_db)
    try:
        with Session(engine) as s:
            actions = [(e.actor, e.action, e.entity_id) for e in s.exec(select(AuditEntry).order_by(AuditEntry.id))]
    finally:
        engine.dispose()
    assert actions[-2:] == [("alice", "note.add", PARTNER)] * 2


async def test_escape_in_the_dialog_cancels_without_saving(make_app, app_db):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_card(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"never mind")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ScorecardScreen)
        assert note_lines(app.screen) == ["No call notes. Press n to add one."]
        assert not any("Saved your note" in str(n.message) for n in app._notifications)
    assert stored(app_db) == []


async def test_an_empty_or_long_note_is_refused_in_the_dialog_with_the_text_kept(make_app, app_db):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_card(pilot)
        await write(pilot, "   ")
        assert isinstance(app.screen, CallNoteScreen)
        assert "✘ A note needs some text." in str(app.screen.query_one("#prompt-problem", Static).content)
        app.screen.query_one(Input).value = "x" * (notes.MAX_LENGTH + 5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CallNoteScreen)
        problem = str(app.screen.query_one("#prompt-problem", Static).content)
        assert "A note is at most 2,000 characters; this one has 2,005." in problem
        assert len(app.screen.query_one(Input).value) == notes.MAX_LENGTH + 5
    assert stored(app_db) == []


async def test_hostile_note_text_and_author_are_shown_literally(make_app, app_db):
    add_notes(
        app_db, ("dave", "[b]not bold[/b] \x1b[2J\x1b]52;c;AAAA\x07 ok\rEVIL", datetime(2026, 1, 10, 9, 30, tzinfo=UTC))
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_card(pilot)
        text = " ".join(note_lines(app.screen))
        assert "[b]not bold[/b] \\x1b[2J\\x1b]52;c;AAAA\\x07 ok\\rEVIL" in text
        assert "\x1b" not in text and "\r" not in text


@pytest.mark.parametrize("size", [SIZE, NARROW])
async def test_help_and_footer_list_n(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_card(pilot)
        await pilot.pause(0.6)  # the footer shows its keys once the first data is drawn
        assert ("n", "Note") in {(k.key, k.description) for k in app.screen.query(FooterKey)}
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        assert ("n", "Note", "scorecard.note") in app.screen.rows()


# ------------------------------------------------------------------------------ snapshots

SNAP_NOTES = (
    (
        "alice",
        "Called Jo: the renewal is signed; she asks what Platinum needs",
        datetime(2026, 1, 12, 16, 5, tzinfo=UTC),
    ),
    ("dave", "Jo's team [lead] \x1b[31mwill send Q4 figures by Friday", datetime(2026, 1, 14, 9, 40, tzinfo=UTC)),
)


async def _notes_in_view(pilot) -> None:
    await open_card(pilot)
    pilot.app.screen.query_one("#scorecard").scroll_to_widget(
        pilot.app.screen.query_one("#notes-title"), animate=False, top=True
    )
    await settle(pilot)


def test_scorecard_with_notes(snap_compare, make_app, app_db):
    add_notes(app_db, *SNAP_NOTES)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_notes_in_view)


def test_scorecard_with_notes_narrow(snap_compare, make_app, app_db):
    add_notes(app_db, *SNAP_NOTES)
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=_notes_in_view)
