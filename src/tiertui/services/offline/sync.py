"""Syncing an offline copy back: one transaction, conflicts and refusals reported, never forced."""

from __future__ import annotations

import json
import os
import shlex
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ...storage.database import DatabaseError, open_engine, redact
from ...storage.tables import AuditEntry, CallNote, OfflineCopy, Override, Partner, utcnow
from .. import audit, roles
from ..errors import ServiceError
from ..unit_of_work import UnitOfWork, engine_of, using
from .common import MARKER, OVERRIDE_ACTIONS, SQLITE_HEADER, _same_file, _sqlite_file, _when, copy_file_path
from .note_replay import note_events, replay_note
from .records import SyncReport, _Content, _CopyRow, _Event, _Offline
from .replay import _label, _Replay


def sync(engine: Engine | UnitOfWork, user: str, copy_path: str | os.PathLike) -> SyncReport:
    """Bring the override work done in the copy at ``copy_path`` into the team database behind ``engine``.

    One transaction: every change that can land does, or (on an error) nothing does. Conflicts and
    refusals are reported in the returned report, never forced. Needs the viewer role; each change
    is checked against the role of the person who made it offline.
    """
    path = copy_file_path(copy_path)
    if _same_file(_sqlite_file(engine_of(engine)), path):
        raise ServiceError(f"{path} is the database you are syncing into, not an offline copy of it")
    offline = _read_copy(path)
    with using(engine) as uow:  # SQLite: the write lock from the first read; PostgreSQL: the results lock
        assert uow.session is not None
        session = uow.session
        roles.require(session, user, "viewer", "syncing an offline copy")
        team = _team_record(session, uow.engine, path, offline)
        roles.vouch(session, team.copied_by)  # the holder's work is checked against their roles, not the login
        replayed = {e.audit_id for e in offline.events} | {n.audit_id for n in offline.notes}
        report = SyncReport(
            team.id,
            path,
            team.source,
            team.copied_by,
            team.copied_at,
            user,
            ignored=[_label(a) for i, a in offline.entries if i not in replayed],
        )
        replay = _Replay(uow, user, team, offline, report)
        for event in offline.events:
            replay.apply(event)
        for note in offline.notes:  # a note is never a conflict: it lands, or is refused (not the holder's)
            replay_note(session, user, team, note, report)
        now = utcnow()
        _mark_synced(session, team, user, now)
        report.synced_at = now
        audit.record(
            session,
            user,
            "offline.sync",
            "offline_copy",
            team.id,
            file=str(path),
            applied=report.applied,
            conflicts=report.conflicts,
            refused=report.refused,
            ignored=report.ignored,
        )
    return report


def _read_copy(path: Path) -> _Offline:
    """The copy's identity and its changes since it was taken; refuses a file that is not a copy."""
    if not path.exists():
        raise ServiceError(f"no file {path}")
    if path.is_dir():
        raise ServiceError(f"{path} is a folder, not an offline copy")
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    not_a_copy = f"{path} is not an offline copy of a tiertui database (make one with: tiertui offline copy --to FILE)"
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise ServiceError(not_a_copy)
    if int.from_bytes(header[68:72], "big") != MARKER:
        raise ServiceError(not_a_copy)
    from ...storage import schema

    try:
        copy = open_engine(f"sqlite:///{path}", create=False)
    except DatabaseError as exc:
        raise ServiceError(f"cannot open {path}: {exc}") from None
    try:
        current = schema.current_revision(copy)
        if current != schema.HEAD:
            raise ServiceError(
                f"the offline copy {path} has schema revision {current}, this tiertui {schema.HEAD}: "
                f"sync it with the tiertui version that took it "
                f"(or run `tiertui db upgrade --db {shlex.quote(f'sqlite:///{path}')}`)"
            )
        with Session(copy) as session:
            identities = [
                r.model_dump() for r in session.exec(select(OfflineCopy).order_by(col(OfflineCopy.copied_at)))
            ]
            if not identities:
                raise ServiceError(not_a_copy)
            since = min(r["last_audit_id"] for r in identities)
            logged = session.exec(
                select(AuditEntry).where(col(AuditEntry.id) > since).order_by(col(AuditEntry.id))
            ).all()
            # the copy's own changes begin after its own last_audit_id (resolved against the team later)
            entries = [e.model_dump() for e in logged]
            rows = session.exec(
                select(Override, Partner.partner_id).join(Partner, col(Partner.key) == Override.partner_key)
            ).all()
            overrides = {
                o.id: _CopyRow(
                    o.id,
                    pid,
                    _Content(o.tier, o.reason, o.starts_on, o.expires_on),
                    o.status,
                    o.requested_by,
                    o.requested_at,
                    o.decided_by,
                    o.decided_at,
                    o.note,
                )
                for o, pid in rows
                if o.id is not None  # always, for a stored row: narrows the type
            }
            notes = note_events(
                entries,
                session.exec(
                    select(CallNote, Partner.partner_id).join(Partner, col(Partner.key) == CallNote.partner_key)
                ).all(),
            )
    finally:
        copy.dispose()
    return _Offline(identities, [(e["id"], e["action"]) for e in entries], _events_of(entries), overrides, notes)


def _events_of(entries: list[dict]) -> list[_Event]:
    """The override changes among audit entries (raw; filtered by the copy's identity later)."""
    events = []
    for e in entries:
        if e["action"] not in OVERRIDE_ACTIONS or e["entity"] != "override":
            continue
        try:
            override_id = int(e["entity_id"])
            detail = json.loads(e["detail"] or "{}")
        except (TypeError, ValueError):
            continue
        events.append(
            _Event(e["id"], e["at"], e["actor"], e["action"], override_id, detail if isinstance(detail, dict) else {})
        )
    return events


def _team_record(session: Session, engine: Engine, path: Path, offline: _Offline) -> OfflineCopy:
    """The team database's record of this copy, locked; refuses a copy of another database, or one synced."""
    ids = [r["id"] for r in offline.identities]
    found = session.exec(select(OfflineCopy).where(col(OfflineCopy.id).in_(ids)).with_for_update()).all()
    if not found:
        sources = sorted({r["source"] for r in offline.identities})
        raise ServiceError(
            f"{path} is an offline copy of {', '.join(sources)}, not of this database "
            f"({redact(engine.url.render_as_string(hide_password=False))}): sync it into the database it was "
            f"taken from"
        )
    team = found[0]
    mine = next(r for r in offline.identities if r["id"] == team.id)
    if (mine["last_override_id"], mine["last_audit_id"]) != (team.last_override_id, team.last_audit_id):
        raise ServiceError(
            f"{path} does not match this database's record of offline copy {team.id}: "
            "it was altered; it cannot be synced"
        )
    if team.synced_at is not None:
        raise ServiceError(
            f"offline copy {team.id} ({path}) was already synced at {_when(team.synced_at)} by {team.synced_by}: "
            "a copy is synced once; take a new copy for new offline work"
        )
    # only this copy's own changes: those after its last audit id
    since = team.last_audit_id
    offline.events = [e for e in offline.events if e.audit_id > since]
    offline.entries = [(i, action) for i, action in offline.entries if i > since]
    offline.notes = [n for n in offline.notes if n.audit_id > since]
    return team


def _mark_synced(session: Session, team: OfflineCopy, user: str, now: datetime) -> None:
    changed = session.exec(
        update(OfflineCopy)
        .where(col(OfflineCopy.id) == team.id, col(OfflineCopy.synced_at).is_(None))
        .values(synced_at=now, synced_by=user)
    ).rowcount
    if changed != 1:
        raise ServiceError(f"offline copy {team.id} was synced meanwhile by someone else: nothing applied")
