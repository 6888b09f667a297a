"""Call notes (issue 13): add, list newest first, refusals, the audit row, hostile text, no re-levelling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from db_builder import seed
from hostile_corpus import STORABLE
from sqlalchemy import text, update
from sqlmodel import Session, select

from tiertui.services import ServiceError, audit, deletes, notes, roles
from tiertui.services.levelling import run_levelling
from tiertui.storage.tables import AuditEntry, CallNote, LevelResult, LevelRun


@pytest.fixture
def team(any_engine):
    seed(any_engine)
    run_levelling(any_engine, "admin")
    return any_engine


def _backdate(engine, uuid: str, minutes: int) -> None:
    with Session(engine) as s, s.begin():
        s.exec(
            update(CallNote)
            .where(CallNote.uuid == uuid)
            .values(written_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC) - timedelta(minutes=minutes))
        )


def test_a_note_is_dated_by_its_author_and_listed_newest_first(team):
    before = datetime.now(UTC).replace(microsecond=0)
    first = notes.add_note(team, "viv", "B2", "Called Ana: happy with Silver")  # a viewer may write notes
    second = notes.add_note(team, "mia", "B2", "Follow-up: wants a Gold plan")
    notes.add_note(team, "mia", "A1", "another partner's note")
    assert (first.author, first.partner_id) == ("viv", "B2")
    assert before <= first.written_at <= datetime.now(UTC)
    listed = notes.list_notes(team, "B2")
    assert [n.text for n in listed] == ["Follow-up: wants a Gold plan", "Called Ana: happy with Silver"]
    assert [n.author for n in listed] == ["mia", "viv"]
    # ordered by when they were written, not by when they were stored
    _backdate(team, second.uuid, 60)
    _backdate(team, first.uuid, 30)
    assert [n.text for n in notes.list_notes(team, "B2")] == [first.text, second.text]
    assert notes.list_notes(team, "C3") == []


def test_each_note_is_audited_in_its_transaction(team):
    view = notes.add_note(team, "mia", "B2", "Called: asked about the \x1b[31m red deal")
    with Session(team) as s:
        entry = s.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action, entry.entity, entry.entity_id) == ("mia", "note.add", "partner", "B2")
    detail = json.loads(entry.detail)
    assert (detail["uuid"], detail["text"], detail["partner_id"]) == (view.uuid, view.text, "B2")
    [line] = [line for line in audit.entries(team, "mia", partner_id="B2") if line.action == "note.add"]
    assert line.summary == "added a call note on B2: Called: asked about the \x1b[31m red deal"


def test_a_note_changes_no_result_and_runs_no_levelling(team):
    with Session(team) as s:
        runs, results = len(s.exec(select(LevelRun)).all()), s.exec(select(LevelResult)).all()
    notes.add_note(team, "mia", "A1", "a note")
    with Session(team) as s:
        assert len(s.exec(select(LevelRun)).all()) == runs
        assert s.exec(select(LevelResult)).all() == results


@pytest.mark.parametrize(
    ("who", "partner", "note", "message"),
    [
        ("mia", "B2", "", "a note needs some text"),
        ("mia", "B2", "  \n\t ", "a note needs some text"),
        ("mia", "B2", "x" * (notes.MAX_LENGTH + 1), "a note is at most 2,000 characters; this one has 2,001"),
        ("mia", "B2", "nul\x00byte", r"the note contains a NUL character \(\\x00\); remove it"),
        ("mia", "ZZ9", "hello", "no partner 'ZZ9'"),
        ("mia", "nul\x00id", "hello", "no partner"),
        ("zed", "B2", "hello", "zed is not a user of this database; writing call notes needs the viewer role"),
    ],
)
def test_refused_notes_say_why_and_store_nothing(team, who, partner, note, message):
    with Session(team) as s:
        entries = len(s.exec(select(AuditEntry)).all())
    with pytest.raises((ServiceError, roles.RoleRefused), match=message):
        notes.add_note(team, who, partner, note)
    with Session(team) as s:
        assert s.exec(select(CallNote)).all() == []
        assert len(s.exec(select(AuditEntry)).all()) == entries


def test_the_longest_note_is_kept_whole(team):
    longest = "é" * notes.MAX_LENGTH
    notes.add_note(team, "mia", "B2", longest)
    assert notes.list_notes(team, "B2")[0].text == longest


def test_hostile_text_is_stored_as_given(team):
    values = [v for _kind, v in STORABLE if len(v) <= notes.MAX_LENGTH and v.strip()]  # white space only: empty
    for value in values:
        notes.add_note(team, "mia", "B2", value)
    assert sorted(n.text for n in notes.list_notes(team, "B2")) == sorted(values)
    with team.connect() as conn:  # in the table as given, control characters included
        assert sorted(conn.execute(text("SELECT text FROM call_note")).scalars()) == sorted(values)


def test_listing_an_unknown_partner_says_so(team):
    with pytest.raises(ServiceError, match="no partner 'nobody'"):
        notes.list_notes(team, "nobody")


def test_deleting_a_partner_deletes_its_notes(team):
    notes.add_note(team, "mia", "B2", "about to go")
    notes.add_note(team, "mia", "A1", "stays")
    report = deletes.delete_partner(team, "ann", "B2")
    assert report.removed["call notes"] == 1
    with Session(team) as s:
        assert [n.text for n in s.exec(select(CallNote))] == ["stays"]
