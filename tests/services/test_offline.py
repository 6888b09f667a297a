"""Offline copies: take a SQLite copy of a team database, work in it, sync override work back.

The team database is SQLite or PostgreSQL (``any_engine``); the copy is always a SQLite file.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from db_builder import FOUR_UC, PROGRAM, seat_team, seed
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from tiertui.services import ServiceError, exports, notes, offline, overrides, roles, scenarios
from tiertui.services.imports import import_file
from tiertui.services.levelling import run_levelling
from tiertui.storage import open_engine, schema
from tiertui.storage.tables import AuditEntry, Notification, OfflineCopy, Override, PublishedPeriod

# The cast (db_builder.TEAM): mia and mo are managers, bob and cy approvers, viv a viewer, admin an admin.


@pytest.fixture
def team(any_engine):
    """A levelled team database with its people."""
    seed(any_engine, certs=FOUR_UC)
    run_levelling(any_engine, "admin")
    return any_engine


@pytest.fixture
def copies(tmp_path):
    """Open the copy at a path as a database (as `tiertui --db sqlite:///FILE` does); closed afterwards."""
    opened = []

    def open_copy(path: Path):
        engine = open_engine(f"sqlite:///{path}")
        opened.append(engine)
        return engine

    yield open_copy
    for engine in opened:
        engine.dispose()


def tables():
    return offline._tables()


def all_rows(engine, include_offline=True) -> dict[str, list[tuple]]:
    """Every row of every table, in key order (the whole database, for before/after comparisons)."""
    out = {}
    with engine.connect() as conn:
        for table in tables() + ([OfflineCopy.__table__] if include_offline else []):
            out[table.name] = [tuple(r) for r in conn.execute(core_select(table).order_by(*table.primary_key.columns))]
    return out


def effective(engine, partner_id, period="2026-Q2"):
    return {r.partner_id: r for r in exports.scorecard_rows(engine, period)}[partner_id].effective_tier


def audit_of(engine, override_id):
    with Session(engine) as s:
        return [
            (e.actor, e.action, json.loads(e.detail))
            for e in s.exec(
                select(AuditEntry)
                .where(AuditEntry.entity == "override", AuditEntry.entity_id == str(override_id))
                .order_by(AuditEntry.id)
            )
        ]


# ------------------------------------------------------------------------------ taking a copy


def test_the_copy_holds_every_row_of_every_table_and_says_it_is_a_copy(team, copies, tmp_path):
    check_copy(team, copies, tmp_path)


def test_a_sqlite_team_file_copied_row_by_row_gives_the_same_copy(engine, copies, tmp_path, monkeypatch):
    """SQLite files are copied with the backup API; this is the row-by-row path PostgreSQL takes."""
    monkeypatch.setattr(offline.copy, "_sqlite_file", lambda engine: None)
    seed(engine, certs=FOUR_UC)
    run_levelling(engine, "admin")
    check_copy(engine, copies, tmp_path)


def check_copy(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1), date(2026, 12, 31))
    scenarios.save_scenario(team, "mia", "bigger gold", PROGRAM)
    bulk = tmp_path / "bulk.csv"  # a scripted load that left the results stale: the mark travels too
    bulk.write_text("partner_id,period,revenue\nA1,2026-Q1,400\n")
    import_file(team, "metrics", bulk, "admin", level=False)
    with Session(team) as s, s.begin():  # (issue 15) a published period and a notification travel too
        s.add(PublishedPeriod(period="2026-Q1", published_by="alice"))
        s.add(
            Notification(
                period="2026-Q1", kind="partner", partner_key=1, address="a@x.example", sent_by="mia", channel="outbox"
            )
        )
    notes.add_note(team, "mia", "B2", "called: \x1b[2J wants Gold")  # (issue 13) call notes travel too
    before = all_rows(team, include_offline=False)
    report = offline.take_copy(team, "viv", tmp_path / "trip.db")  # a viewer may take a copy
    assert report.path == tmp_path / "trip.db"
    assert sorted(p.name for p in tmp_path.iterdir() if "trip" in p.name) == ["trip.db"]  # no partial file left
    copy = copies(tmp_path / "trip.db")
    copied = all_rows(copy, include_offline=False)
    assert {t: len(r) for t, r in copied.items()} == {t: len(r) for t, r in before.items()}
    assert report.rows == {t: len(r) for t, r in before.items()}
    assert copied == before  # every row, ids and keys kept (times as aware UTC on both backends)
    assert [t for t, r in before.items() if not r] == []  # every table has rows to compare
    assert schema.current_revision(copy) == schema.HEAD
    raw = sqlite3.connect(tmp_path / "trip.db")
    try:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == offline.MARKER
        # stored as tiertui stores them in SQLite, whatever the team's backend: UTC text, ISO dates, 0/1
        stored = raw.execute("SELECT requested_at, starts_on, expires_on FROM tier_override").fetchall()
        flags = {r[0] for r in raw.execute("SELECT at_risk FROM level_result UNION SELECT active FROM program_version")}
    finally:
        raw.close()
    assert [
        (re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", at) is not None, starts, ends)
        for at, starts, ends in stored
    ] == [(True, "2026-04-01", "2026-12-31")]
    assert flags <= {0, 1}
    # the copy's record is in both files, identical
    with Session(copy) as s:
        [mine] = [r.model_dump() for r in s.exec(select(OfflineCopy))]
    with Session(team) as s:
        [theirs] = [r.model_dump() for r in s.exec(select(OfflineCopy))]
        last = s.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert mine == theirs
    assert (mine["id"], mine["copied_by"], mine["last_override_id"], mine["synced_at"]) == (
        report.copy_id,
        "viv",
        oid,
        None,
    )
    assert mine["last_audit_id"] == max(r[0] for r in before["audit_entry"])
    assert "password" not in mine["source"] and mine["source"].startswith(team.dialect.name)
    assert (last.actor, last.action, last.entity_id) == ("viv", "offline.copy", report.copy_id)
    assert "Work offline with:   tiertui --db sqlite:///" in report.text()


def test_a_copy_leaves_out_the_teams_records_of_other_copies(team, copies, tmp_path):
    first = offline.take_copy(team, "viv", tmp_path / "one.db")
    second = offline.take_copy(team, "viv", tmp_path / "two.db")
    with Session(copies(tmp_path / "two.db")) as s:
        assert [r.id for r in s.exec(select(OfflineCopy))] == [second.copy_id]
    with Session(team) as s:
        assert {r.id for r in s.exec(select(OfflineCopy))} == {first.copy_id, second.copy_id}


def test_an_existing_file_is_refused_unless_replace_is_asked(team, copies, tmp_path):
    target = tmp_path / "trip.db"
    target.write_text("my notes")
    with pytest.raises(ServiceError, match=r"trip.db already exists: choose another file, or replace it \(--replace\)"):
        offline.take_copy(team, "viv", target)
    assert target.read_text() == "my notes"
    offline.take_copy(team, "viv", f"sqlite:///{target}", replace=True)  # a sqlite:/// URL names the file too
    with Session(copies(target)) as s:
        assert len(s.exec(select(OfflineCopy)).all()) == 1


def test_a_file_made_at_the_name_while_copying_is_not_overwritten(team, tmp_path, monkeypatch):
    target = tmp_path / "trip.db"
    seal = offline._seal

    def seal_then_someone_saves(path):
        seal(path)
        target.write_text("saved meanwhile")

    monkeypatch.setattr(offline.copy, "_seal", seal_then_someone_saves)
    with pytest.raises(ServiceError, match="trip.db already exists"):
        offline.take_copy(team, "viv", target)
    assert target.read_text() == "saved meanwhile"
    assert [p.name for p in tmp_path.iterdir() if "trip" in p.name] == ["trip.db"]


def test_taking_a_copy_needs_a_user_of_the_team_database(team, tmp_path):
    with pytest.raises(roles.RoleRefused, match="zed is not a user of this database; taking an offline copy needs"):
        offline.take_copy(team, "zed", tmp_path / "trip.db")
    assert not list(tmp_path.glob("*trip*"))


def test_a_copy_that_fails_leaves_no_file_and_no_record(team, tmp_path, monkeypatch):
    def broken(path):
        raise OSError("disk full")

    monkeypatch.setattr(offline.copy, "_seal", broken)
    with pytest.raises(OSError, match="disk full"):
        offline.take_copy(team, "viv", tmp_path / "trip.db")
    assert not list(tmp_path.glob("*trip*"))  # neither the copy nor its partial file
    with Session(team) as s:
        assert s.exec(select(OfflineCopy)).all() == []


# ------------------------------------------------------------------------------ syncing


def test_a_request_made_offline_becomes_a_new_request(team, copies, tmp_path):
    taken = offline.take_copy(team, "mia", tmp_path / "trip.db")  # mia holds the copy: her work in it is synced
    copy = copies(tmp_path / "trip.db")
    offline_id = overrides.request(
        copy, "mia", "B2", "Gold", "met them on the trip", date(2026, 4, 1), date(2026, 12, 31)
    )
    offline_row = overrides.get(copy, offline_id)
    team_id = overrides.request(team, "mo", "C3", "Silver", "meanwhile at home", date(2026, 1, 1))
    assert team_id == offline_id  # the same number, two different requests

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert report.complete and not report.conflicts and not report.refused and not report.ignored
    [new] = [o for o in overrides.list_overrides(team) if o.reason == "met them on the trip"]
    assert new.id not in (team_id, offline_id)
    assert (new.partner_id, new.tier, new.starts_on, new.expires_on, new.status, new.requested_by) == (
        "B2",
        "Gold",
        date(2026, 4, 1),
        date(2026, 12, 31),
        "pending",
        "mia",
    )
    assert offline._aware(new.requested_at) == offline._aware(offline_row.requested_at)
    assert overrides.get(team, team_id).reason == "meanwhile at home"
    [(actor, action, detail)] = audit_of(team, new.id)
    assert (actor, action, detail["offline_copy"], detail["offline_override_id"], detail["synced_by"]) == (
        "mia",
        "override.request",
        taken.copy_id,
        offline_id,
        "viv",
    )
    assert detail["offline_at"].startswith(str(offline._aware(offline_row.requested_at))[:16])
    assert report.applied == [
        (
            f"override {new.id} for B2 (no. {offline_id} in the copy): requested offline by mia at "
            f"{offline._when(offline_row.requested_at)} (Gold from 2026-04-01 to 2026-12-31): now pending"
        )
    ]
    with Session(team) as s:
        record = s.get(OfflineCopy, taken.copy_id)
        assert record.synced_by == "viv" and record.synced_at is not None
        last = s.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.actor, last.action, last.entity_id) == ("viv", "offline.sync", taken.copy_id)


def test_a_decision_made_offline_lands_and_updates_the_effective_tier(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1), date(2026, 12, 31))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    decided = overrides.decide(copy, "bob", oid, approve=True, note="agreed over dinner")
    # requested offline too (approvers may request): it lands pending, for someone else to decide
    overrides.request(copy, "bob", "A1", "Platinum", "flagship", date(2026, 1, 1))
    assert effective(team, "B2") == "Authorized"

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert report.complete, report.text()
    view = overrides.get(team, oid)
    assert (view.status, view.decided_by, view.note) == ("approved", "bob", "agreed over dinner")
    assert offline._aware(view.decided_at) == offline._aware(decided.decided_at)  # the offline time
    assert (effective(team, "B2", "2026-Q1"), effective(team, "B2")) == ("Authorized", "Gold")
    [flagship] = [o for o in overrides.list_overrides(team) if o.reason == "flagship"]
    assert (flagship.status, flagship.decided_by, flagship.requested_by) == ("pending", None, "bob")
    run_levelling(team, "admin")  # a full run agrees with the refresh
    assert effective(team, "B2") == "Gold"
    actions = [(a, act) for a, act, _ in audit_of(team, oid)]
    assert actions == [("mia", "override.request"), ("bob", "override.approve")]
    assert report.applied[0] == f"override {oid} for B2: approved offline by bob at {offline._when(decided.decided_at)}"


def test_an_override_decided_meanwhile_is_a_conflict_and_the_team_decision_stands(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    mine = overrides.decide(copy, "bob", oid, approve=True, note="offline yes")
    theirs = overrides.decide(team, "cy", oid, approve=False, note="no, at home")

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert not report.complete and not report.applied
    assert report.conflicts == [
        (
            f"override {oid} for B2: bob approved it offline at {offline._when(mine.decided_at)}; it was already "
            f"rejected by cy at {offline._when(theirs.decided_at)} — not applied"
        )
    ]
    view = overrides.get(team, oid)
    assert (view.status, view.decided_by, view.note) == ("rejected", "cy", "no, at home")
    assert effective(team, "B2") == "Authorized"
    assert [act for _, act, _ in audit_of(team, oid)] == ["override.request", "override.reject"]
    assert "Conflicts, not applied" in report.text()


def test_an_offline_edit_lands_on_an_unchanged_request_and_conflicts_with_a_changed_one(team, copies, tmp_path):
    quiet = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    busy = overrides.request(team, "mia", "C3", "Silver", "new region", date(2026, 1, 1))
    offline.take_copy(team, "mia", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    overrides.edit(copy, "mia", quiet, "Platinum", "launch partner, bigger", date(2026, 4, 1), date(2026, 9, 30))
    overrides.edit(copy, "mia", busy, "Gold", "offline idea", date(2026, 1, 1), None)
    overrides.edit(copy, "mia", busy, "Gold", "offline idea, again", date(2026, 1, 1), None)  # not applied either
    overrides.edit(team, "mia", busy, "Silver", "changed at home", date(2026, 2, 1), None)

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    q = overrides.get(team, quiet)
    assert (q.tier, q.reason, q.expires_on, q.status) == (
        "Platinum",
        "launch partner, bigger",
        date(2026, 9, 30),
        "pending",
    )
    b = overrides.get(team, busy)
    assert (b.tier, b.reason, b.starts_on, b.status) == ("Silver", "changed at home", date(2026, 2, 1), "pending")
    [applied] = report.applied
    assert applied.startswith(f"override {quiet} for B2: edited offline by mia at ")
    assert applied.endswith(" UTC: now Platinum from 2026-04-01 to 2026-09-30")
    [conflict] = report.conflicts
    assert conflict.startswith(f"override {busy} for C3: mia edited it offline at ")
    assert " and mia edited it offline at " in conflict
    assert "; it was edited by mia at " in conflict
    assert conflict.endswith(" in the team database meanwhile (now Silver from 2026-02-01, open-ended) — not applied")
    assert not report.refused


def test_offline_changes_by_people_without_the_role_in_the_team_database_are_refused(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    other = overrides.request(team, "mia", "C3", "Silver", "new region", date(2026, 1, 1))
    offline.take_copy(team, "mo", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    roles.set_role(copy, "admin", "mo", "approver")  # offline only: role changes are not synced
    overrides.decide(copy, "mo", oid, approve=True)
    overrides.decide(copy, "mo", other, approve=False)

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert not report.complete and not report.applied and not report.conflicts
    assert report.refused[0].startswith(f"override {oid} for B2: mo approved it offline at ")
    assert report.refused[0].endswith(
        " — not applied: mo is a manager; approving overrides needs the approver role "
        "(admin, ana, ann, bo, carol or 3 more, the admins, can grant it: tiertui users set mo approver)"
    )
    assert report.refused[1].startswith(f"override {other} for C3: mo rejected it offline at ")
    assert "mo is a manager; rejecting overrides needs the approver role" in report.refused[1]
    assert report.ignored == ["change role"]
    assert [overrides.get(team, i).status for i in (oid, other)] == ["pending", "pending"]
    assert "1 other change made offline was not synced: change role" in report.text()


def test_a_decision_on_ones_own_request_is_refused_even_if_the_copy_holds_one(team, copies, tmp_path):
    oid = overrides.request(team, "bob", "B2", "Gold", "my own partner", date(2026, 4, 1))  # approvers may request
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    # tiertui refuses this offline too; a file changed by other means must not slip it through
    with Session(copy) as s, s.begin():
        row = s.get(Override, oid)
        row.status, row.decided_by, row.decided_at = "approved", "bob", offline.utcnow()
        s.add(
            AuditEntry(
                actor="bob",
                action="override.approve",
                entity="override",
                entity_id=str(oid),
                detail=json.dumps({"before": {"status": "pending"}, "after": {"status": "approved"}}),
            )
        )

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    [refused] = report.refused
    assert refused.endswith("— not applied: bob requested it, and someone else must approve it (four-eyes rule)")
    assert overrides.get(team, oid).status == "pending"


def test_a_second_sync_of_the_same_copy_is_refused(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    overrides.decide(copies(tmp_path / "trip.db"), "bob", oid, approve=True)
    first = offline.sync(team, "mia", tmp_path / "trip.db")
    before = all_rows(team)
    with pytest.raises(
        ServiceError,
        match=r"offline copy [0-9a-f]{16} \(.*trip.db\) was already synced at "
        r"20\d\d-\d\d-\d\d \d\d:\d\d UTC by mia: a copy is synced once",
    ):
        offline.sync(team, "bob", tmp_path / "trip.db")
    assert all_rows(team) == before
    assert first.synced_by == "mia"


def test_files_that_are_not_a_copy_of_this_database_are_refused(team, tmp_path):
    plain = tmp_path / "plain.db"
    other = open_engine(f"sqlite:///{plain}")  # a tiertui database, not a copy
    other.dispose()
    with pytest.raises(ServiceError, match="plain.db is not an offline copy of a tiertui database"):
        offline.sync(team, "viv", plain)
    (tmp_path / "notes.txt").write_text("hello " * 100)
    with pytest.raises(ServiceError, match="notes.txt is not an offline copy of a tiertui database"):
        offline.sync(team, "viv", tmp_path / "notes.txt")
    with pytest.raises(ServiceError, match="no file .*missing.db"):
        offline.sync(team, "viv", tmp_path / "missing.db")
    # a copy of another team database
    elsewhere = open_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        seed(elsewhere)
        offline.take_copy(elsewhere, "admin", tmp_path / "their_trip.db")
    finally:
        elsewhere.dispose()
    with pytest.raises(
        ServiceError,
        match=r"their_trip.db is an offline copy of sqlite:///.*elsewhere.db, not of "
        r"this database .*: sync it into the database it was taken from",
    ):
        offline.sync(team, "viv", tmp_path / "their_trip.db")
    with Session(team) as s:
        assert s.exec(select(OfflineCopy)).all() == []


def test_syncing_needs_a_user_of_the_team_database(team, copies, tmp_path):
    offline.take_copy(team, "viv", tmp_path / "trip.db")
    with pytest.raises(roles.RoleRefused, match="zed is not a user of this database; syncing an offline copy needs"):
        offline.sync(team, "zed", tmp_path / "trip.db")


def test_a_sync_that_fails_midway_changes_nothing(team, copies, tmp_path, monkeypatch):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    edited = overrides.request(team, "bob", "C3", "Silver", "new region", date(2026, 1, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    overrides.request(copy, "bob", "A1", "Platinum", "flagship", date(2026, 1, 1))
    overrides.edit(copy, "bob", edited, "Gold", "bigger", date(2026, 1, 1), None)
    overrides.decide(copy, "bob", oid, approve=True)  # its re-levelling fails below
    before = all_rows(team)

    def broken(*args, **kwargs):
        raise RuntimeError("the connection dropped")

    monkeypatch.setattr(offline.replay, "relevel", broken)  # the approval's re-levelling
    with pytest.raises(RuntimeError, match="the connection dropped"):
        offline.sync(team, "viv", tmp_path / "trip.db")
    assert all_rows(team) == before  # not the request, not the edit, not the mark: nothing

    monkeypatch.undo()
    report = offline.sync(team, "viv", tmp_path / "trip.db")  # and it can still be synced
    assert report.complete and len(report.applied) == 3


def test_two_syncs_and_a_decision_at_once_land_exactly_one_decision(team, copies, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    overrides.decide(copies(tmp_path / "trip.db"), "bob", oid, approve=True)
    start = threading.Barrier(3)
    outcomes: dict[str, object] = {}

    def run(name, work):
        start.wait()
        try:
            outcomes[name] = work()
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcomes[name] = exc

    threads = [
        threading.Thread(target=run, args=("sync 1", lambda: offline.sync(team, "viv", tmp_path / "trip.db"))),
        threading.Thread(target=run, args=("sync 2", lambda: offline.sync(team, "mia", tmp_path / "trip.db"))),
        threading.Thread(target=run, args=("online", lambda: overrides.decide(team, "cy", oid, approve=False))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    reports = [o for k, o in outcomes.items() if k.startswith("sync") and isinstance(o, offline.SyncReport)]
    refusals = [o for k, o in outcomes.items() if k.startswith("sync") and isinstance(o, ServiceError)]
    assert len(reports) == 1 and len(refusals) == 1, outcomes
    assert "was already synced at" in str(refusals[0])
    decisions = [(who, act) for who, act, _ in audit_of(team, oid) if act in ("override.approve", "override.reject")]
    assert len(decisions) == 1  # never both
    view = overrides.get(team, oid)
    if decisions == [("bob", "override.approve")]:  # the offline approval came first
        assert (view.status, len(reports[0].applied)) == ("approved", 1)
        assert not isinstance(outcomes["online"], overrides.OverrideView)
    else:
        assert decisions == [("cy", "override.reject")] and view.status == "rejected"
        assert isinstance(outcomes["online"], overrides.OverrideView)
        assert len(reports[0].conflicts) == 1 and not reports[0].applied


def test_other_offline_work_is_reported_as_not_synced(team, copies, tmp_path):
    offline.take_copy(team, "viv", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    run_levelling(copy, "admin")
    run_levelling(copy, "mia")
    roles.add(copy, "admin", "new person", "viewer")
    before = all_rows(team)

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert report.complete
    assert report.ignored == ["level", "level", "add user"]
    text = report.text()
    assert "No override requests or decisions, nor call notes, were made offline: nothing to apply." in text
    assert text.endswith(
        "3 other changes made offline were not synced: level (2 times), add user "
        "(only override requests and decisions, and call notes, are synced)."
    )
    after = all_rows(team)
    assert after["level_run"] == before["level_run"] and after["app_user"] == before["app_user"]


# ------------------------------------------------------------------------------ the command line

TIERTUI = str(Path(sys.executable).with_name("tiertui"))


def tiertui(*args, user):
    env = {**os.environ, "TIERTUI_USER": user}
    env.pop("TIERTUI_DATABASE_URL", None)
    return subprocess.run([TIERTUI, *args], capture_output=True, text=True, env=env, check=False)


def test_cli_copy_work_offline_and_sync(tmp_path):
    team_url = f"sqlite:///{tmp_path / 'team.db'}"
    engine = open_engine(team_url)
    try:
        seat_team(engine)
        seed(engine)
        run_levelling(engine, "admin")
        agreed = overrides.request(engine, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
        disputed = overrides.request(engine, "mia", "C3", "Silver", "new region", date(2026, 1, 1))
    finally:
        engine.dispose()
    trip = tmp_path / "trip.db"

    taken = tiertui("--db", team_url, "offline", "copy", "--to", str(trip), user="bob")
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.startswith("Offline copy ") and f"tiertui offline sync {trip}" in taken.stdout
    again = tiertui("--db", team_url, "offline", "copy", "--to", str(trip), user="bob")
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == f"tiertui: error: {trip} already exists: choose another file, or replace it (--replace)\n"

    for override_id in (agreed, disputed):
        approved = tiertui("--db", f"sqlite:///{trip}", "override", "approve", str(override_id), user="bob")
        assert approved.returncode == 0, approved.stderr
    rejected = tiertui("--db", team_url, "override", "reject", str(disputed), "--note", "not agreed", user="cy")
    assert rejected.returncode == 0, rejected.stderr

    synced = tiertui("--db", team_url, "offline", "sync", str(trip), user="viv")
    assert synced.returncode == 3, synced.stderr  # synced, with a conflict reported
    lines = synced.stdout.splitlines()
    assert lines[0].startswith("Synced offline copy ") and lines[0].endswith(" UTC.")
    assert lines[1:3] == ["Applied (1):", lines[2]] and lines[2].startswith(
        f"  override {agreed} for B2: approved offline by bob at "
    )
    assert lines[3] == "Conflicts, not applied (1):"
    assert lines[4].startswith(f"  override {disputed} for C3: bob approved it offline at ")
    assert "; it was already rejected by cy at " in lines[4] and lines[4].endswith(" — not applied")
    assert len(lines) == 5

    listed = tiertui("--db", team_url, "override", "list", user="viv")
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        [str(agreed), "approved"],
        [str(disputed), "rejected"],
    ]
    second = tiertui("--db", team_url, "offline", "sync", str(trip), user="viv")
    assert second.returncode == 1 and "was already synced at " in second.stderr and second.stdout == ""
    helptext = tiertui("offline", "sync", "--help", user="viv").stdout
    assert "Exit status: 0 when every override change was applied, 3 when some" in " ".join(helptext.split())


def test_the_audit_log_tells_of_the_copy_the_sync_and_the_offline_decision(team, copies, tmp_path):
    from tiertui.services import audit

    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    overrides.decide(copies(tmp_path / "trip.db"), "bob", oid, approve=True, note="agreed")
    report = offline.sync(team, "viv", tmp_path / "trip.db")
    newest = audit.entries(team, "viv", limit=3)
    copy_id = report.copy_id
    assert [(line.actor, line.action) for line in newest] == [
        ("viv", "offline.sync"),
        ("bob", "override.approve"),
        ("bob", "offline.copy"),
    ]
    assert (
        newest[0].summary == f"synced offline copy {copy_id} from {tmp_path / 'trip.db'}: "
        "1 applied, 0 conflicts, 0 refused, 0 ignored"
    )
    assert newest[1].summary.startswith(
        f"approved override {oid} for B2 (Gold): pending -> approved; note: agreed (offline at 20"
    )
    assert newest[1].summary.endswith(", synced by viv)")
    assert newest[2].summary.startswith(f"took offline copy {copy_id} to {tmp_path / 'trip.db'}: ")


# ------------------------------------------------------------------------------ forged offline work


def forge(path: Path, actor: str, action: str, override_id: int, at: str | None = None, **override_row) -> None:
    """Edit the copy as its holder could, with sqlite3: an audit row (and the override row) as anyone."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            if override_row:
                sets = ", ".join(f"{k} = ?" for k in override_row)
                conn.execute(f"UPDATE tier_override SET {sets} WHERE id = ?", [*override_row.values(), override_id])
            conn.execute(
                "INSERT INTO audit_entry (at, actor, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    at or offline.utcnow().replace(tzinfo=None).isoformat(sep=" "),
                    actor,
                    action,
                    "override",
                    str(override_id),
                    json.dumps({"before": {"status": "pending"}, "after": {"status": "approved", "note": "sure"}}),
                ),
            )
    finally:
        conn.close()


def test_an_approval_forged_in_a_viewers_copy_as_the_approver_is_refused(team, tmp_path):
    """The issue's attack: viv (a viewer) takes a copy, writes an approval by bob into it."""
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "viv", tmp_path / "trip.db")
    now = offline.utcnow().replace(tzinfo=None).isoformat(sep=" ")
    forge(tmp_path / "trip.db", "bob", "override.approve", oid, status="approved", decided_by="bob", decided_at=now)
    before = all_rows(team, include_offline=False)

    report = offline.sync(team, "viv", tmp_path / "trip.db")
    assert not report.applied and not report.conflicts
    [refused] = report.refused
    assert refused.startswith(f"override {oid} for B2: bob approved it offline at ")
    assert refused.endswith(
        "— not applied: the copy was taken by viv, and a sync applies only its holder's own work "
        "(a copy is a file its holder can edit: it cannot vouch for bob)"
    )
    assert overrides.get(team, oid).status == "pending" and effective(team, "B2") == "Authorized"
    after = all_rows(team, include_offline=False)
    assert after["tier_override"] == before["tier_override"] and after["level_result"] == before["level_result"]


def test_a_viewers_own_forged_approval_is_refused_by_the_teams_roles(team, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "viv", tmp_path / "trip.db")
    forge(tmp_path / "trip.db", "viv", "override.approve", oid, status="approved", decided_by="viv")
    report = offline.sync(team, "viv", tmp_path / "trip.db")
    [refused] = report.refused
    assert "— not applied: viv is a viewer; approving overrides needs the approver role" in refused
    assert overrides.get(team, oid).status == "pending"


def test_the_holders_work_lands_and_everyone_elses_in_the_same_copy_is_refused(team, copies, tmp_path):
    mine = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    theirs = overrides.request(team, "mia", "C3", "Silver", "new region", date(2026, 1, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    copy = copies(tmp_path / "trip.db")
    overrides.decide(copy, "bob", mine, approve=True)
    overrides.decide(copy, "cy", theirs, approve=True)  # cy used bob's laptop: not bob's work
    overrides.request(copy, "mo", "A1", "Platinum", "flagship", date(2026, 1, 1))
    report = offline.sync(team, "bob", tmp_path / "trip.db")
    assert [line.split(":")[0] for line in report.applied] == [f"override {mine} for B2"]
    assert len(report.refused) == 2
    assert all("the copy was taken by bob" in line for line in report.refused)
    assert "cy approved it offline" in report.refused[0] and "mo requested it offline" in report.refused[1]
    assert [overrides.get(team, i).status for i in (mine, theirs)] == ["approved", "pending"]
    assert "flagship" not in {o.reason for o in overrides.list_overrides(team)}


@pytest.mark.parametrize("when", ["2099-01-01 00:00:00", "2000-01-01 00:00:00"])
def test_work_dated_in_the_future_or_before_the_copy_is_refused(team, tmp_path, when):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    forge(tmp_path / "trip.db", "bob", "override.approve", oid, at=when, status="approved", decided_by="bob")
    report = offline.sync(team, "bob", tmp_path / "trip.db")
    [refused] = report.refused
    why = "is in the future" if when.startswith("2099") else "is before the copy was taken"
    assert f"— not applied: its time, {when[:16]} UTC, {why}" in refused
    assert overrides.get(team, oid).status == "pending" and not report.applied


def test_a_future_decision_time_in_the_override_row_is_refused_too(team, tmp_path):
    oid = overrides.request(team, "mia", "B2", "Gold", "launch partner", date(2026, 4, 1))
    offline.take_copy(team, "bob", tmp_path / "trip.db")
    forge(
        tmp_path / "trip.db", "bob", "override.approve", oid, status="approved", decided_by="bob",
        decided_at="2099-06-01 00:00:00",
    )  # fmt: skip
    report = offline.sync(team, "bob", tmp_path / "trip.db")
    [refused] = report.refused
    assert "its time, 2099-06-01 00:00 UTC, is in the future" in refused
    assert overrides.get(team, oid).status == "pending"
