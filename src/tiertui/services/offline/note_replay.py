"""Call notes written in an offline copy, brought back by a sync (issue 13).

A note is never a conflict: nobody edits a note, so one written offline lands as it was written
(author, time, text and uuid kept), audited as ``note.add`` with the copy named. As for override
work, only the copy's holder's own notes, dated between taking the copy and now, are applied; the
rest is refused. A note whose uuid the team database already holds is not added again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import Session

from ...storage.tables import CallNote, OfflineCopy, utcnow
from .. import notes, roles
from ..errors import ServiceError
from .common import _aware, _when
from .records import SyncReport, _NoteEvent
from .replay import CLOCK_SKEW

NOTE_ACTION = "note.add"


def note_events(entries: list[dict], rows: Sequence[tuple[CallNote, str]]) -> list[_NoteEvent]:
    """The notes among the copy's audit entries (raw; filtered by the copy's identity later), each
    with the copy's note row of its uuid."""
    by_uuid = {note.uuid: (note, partner_id) for note, partner_id in rows}
    events = []
    for e in entries:
        if e["action"] != NOTE_ACTION:
            continue
        try:
            detail = json.loads(e["detail"] or "{}")
        except ValueError:
            detail = {}
        uuid = str(detail.get("uuid", "")) if isinstance(detail, dict) else ""
        found = by_uuid.get(uuid) if uuid else None
        note, partner_id = found if found else (None, None)
        events.append(
            _NoteEvent(
                e["id"],
                e["at"],
                e["actor"],
                uuid,
                partner_id,
                note.author if note else None,
                note.written_at if note else None,
                note.text if note else None,
            )
        )
    return events


def replay_note(session: Session, user: str, team: OfflineCopy, event: _NoteEvent, report: SyncReport) -> None:
    """Add the offline note ``event`` to the team database, or say in ``report`` why not."""
    name = f"call note on {event.partner_id or 'an unknown partner'}"
    who = f"{event.actor} wrote it offline at {_when(event.at)}"
    try:
        if event.partner_id is not None and notes.exists(session, event.uuid):
            return  # brought back before (a copy taken after an earlier sync holds it too)
        _check(session, team, event)
        assert event.partner_id is not None and event.text is not None  # checked
        notes.store(
            session,
            event.actor,
            event.partner_id,
            event.text,
            written_at=_aware(event.written_at),
            uuid=event.uuid,
            offline_copy=team.id,
            offline_at=_aware(event.at),
            synced_by=user,
        )
    except ServiceError as exc:
        report.refused.append(f"{name}: {who} — not applied: {exc}")
        return
    report.applied.append(f"{name}: written offline by {event.actor} at {_when(event.written_at)}: added")


def _check(session: Session, team: OfflineCopy, event: _NoteEvent) -> None:
    holder = team.copied_by
    if event.actor != holder:
        raise ServiceError(
            f"the copy was taken by {holder}, and a sync applies only its holder's own work "
            f"(a copy is a file its holder can edit: it cannot vouch for {event.actor})"
        )
    if event.partner_id is None or event.text is None or event.author != event.actor:
        raise ServiceError("the copy does not hold this note as its audit log records it")
    now, copied_at = utcnow(), _aware(team.copied_at)
    for at in (_aware(event.at), _aware(event.written_at)):
        if at is None:
            continue
        if at > now + CLOCK_SKEW:
            raise ServiceError(f"its time, {_when(at)}, is in the future")
        if copied_at is not None and at < copied_at - CLOCK_SKEW:
            raise ServiceError(f"its time, {_when(at)}, is before the copy was taken ({_when(copied_at)})")
    try:
        roles.require(session, event.actor, "viewer", "writing call notes")
    except roles.RoleRefused as exc:
        raise ServiceError(str(exc)) from None
    try:
        notes.partner_key(session, event.partner_id)
    except ServiceError:
        raise ServiceError(
            f"partner {event.partner_id} is not in the team database (imports made offline are not synced)"
        ) from None
