"""Call notes and offline copies (issue 13): carried by a copy, brought back once by a sync, never a conflict."""

from __future__ import annotations

import json

import pytest
from db_builder import FOUR_UC, seed
from sqlmodel import Session, select

from tiertui.services import ServiceError, notes, offline
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine
from tiertui.storage.tables import AuditEntry, CallNote


@pytest.fixture
def team(any_engine):
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "admin")
    return any_engine


@pytest.fixture
def copies():
    opened = []

    def open_copy(path):
        engine = open_engine(f"sqlite:///{path}")
        opened.append(engine)
        return engine

    yield open_copy
    for engine in opened:
        engine.dispose()


def stored(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return sorted((n.uuid, n.author, n.text) for n in s.exec(select(CallNote)))


def note_audits(engine) -> list[dict]:
    with Session(engine) as s:
        return [
            {"actor": e.actor, **json.loads(e.detail)}
            for e in s.exec(select(AuditEntry).where(AuditEntry.action == "note.add").order_by(AuditEntry.id))
        ]


def test_a_copy_carries_the_partners_notes(team, copies, tmp_path):
    notes.add_note(team, "viv", "B2", "before the trip")
    offline.take_copy(team, "mia", tmp_path / "trip.db")
    assert [n.text for n in notes.list_notes(copies(tmp_path / "trip.db"), "B2")] == ["before the trip"]


def test_a_note_written_offline_comes_back_once_as_a_note(team, copies, tmp_path):
    offline.take_copy(team, "mia", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    hostile = "Met Jo \x1b[2J[bold]Gold[/] \u202eevil"
    written = notes.add_note(copy, "mia", "B2", hostile)
    notes.add_note(team, "viv", "B2", "written in the team database meanwhile")  # no conflict: both stay

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert report.complete and not report.conflicts and not report.refused
    assert any(line.startswith("call note on B2: written offline by mia at") for line in report.applied)
    listed = notes.list_notes(team, "B2")
    assert sorted(n.text for n in listed) == sorted([hostile, "written in the team database meanwhile"])
    back = next(n for n in listed if n.text == hostile)
    assert (back.uuid, back.author, back.written_at) == (written.uuid, "mia", written.written_at)
    audited = note_audits(team)[-1]
    assert (audited["actor"], audited["uuid"], audited["text"], audited["synced_by"]) == (
        "mia",
        written.uuid,
        hostile,
        "viv",
    )
    assert audited["offline_copy"] == report.copy_id

    before = stored(team)
    with pytest.raises(ServiceError, match="already synced"):  # a second sync brings nothing back twice
        offline.sync(team, "viv", tmp_path / "trip.db")
    assert stored(team) == before


def test_a_later_copy_holding_a_synced_note_does_not_bring_it_back_again(team, copies, tmp_path):
    offline.take_copy(team, "mia", tmp_path / "one.db")
    notes.add_note(copies(tmp_path / "one.db"), "mia", "A1", "first trip")
    offline.sync(team, "mia", tmp_path / "one.db")
    offline.take_copy(team, "mia", tmp_path / "two.db")
    notes.add_note(copies(tmp_path / "two.db"), "mia", "A1", "second trip")
    report = offline.sync(team, "mia", tmp_path / "two.db")
    assert len(report.applied) == 1
    assert sorted(n.text for n in notes.list_notes(team, "A1")) == ["first trip", "second trip"]


def test_only_the_holders_notes_come_back(team, copies, tmp_path):
    offline.take_copy(team, "mia", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    notes.add_note(copy, "viv", "B2", "viv used mia's copy")
    notes.add_note(copy, "mia", "B2", "mia's own")
    report = offline.sync(team, "mia", tmp_path / "trip.db")
    assert [n.text for n in notes.list_notes(team, "B2")] == ["mia's own"]
    [refused] = report.refused
    assert refused.startswith("call note on B2: viv wrote it offline at")
    assert "a sync applies only its holder's own work" in refused
    assert "Refused, not applied (1):" in report.text()
