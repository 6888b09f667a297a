"""Call notes (issue 13): a dated note on a partner by the acting person, newest first.

A note is written by a user of the database (any role), audited (``note.add``) in the same unit of
work, and never changes results (no re-levelling). Its text is stored as given, control characters
included (screens and the command line show them escaped, through ``safe_text``); an empty or
over-long note, or one holding a NUL character (PostgreSQL cannot store it), is refused.

Each note has a ``uuid``: an offline copy carries the partner's notes, and a note written in the
copy comes back with ``tiertui offline sync`` under the same uuid (see ``services.offline``), so it
is never brought back twice.
"""

from __future__ import annotations

import uuid as uuids
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..storage.tables import CallNote, Partner, utcnow
from . import audit, roles
from .errors import ServiceError
from .unit_of_work import UnitOfWork, using

MAX_LENGTH = 2_000  # characters


@dataclass(frozen=True)
class NoteView:
    uuid: str
    partner_id: str
    author: str
    written_at: datetime  # aware, UTC
    text: str


def problem(text: str) -> str | None:
    """Why ``text`` cannot be a note, for a person; None when it can (no database needed)."""
    if not text.strip():
        return "a note needs some text"
    if len(text) > MAX_LENGTH:
        return f"a note is at most {MAX_LENGTH:,} characters; this one has {len(text):,}"
    if "\x00" in text:
        return "the note contains a NUL character (\\x00); remove it"
    return None


def partner_key(session: Session, partner_id: str) -> int:
    """The key of ``partner_id``; :class:`ServiceError` if there is no such partner."""
    key = (
        None
        if "\x00" in partner_id
        else session.exec(select(Partner.key).where(Partner.partner_id == partner_id)).first()
    )
    if key is None:
        raise ServiceError(f"no partner {partner_id!r}")
    return key


def add_note(target: Engine | UnitOfWork, user: str, partner_id: str, text: str) -> NoteView:
    """``user`` notes ``text`` on ``partner_id``, dated now; audited in the same transaction."""
    with using(target, results=False) as uow:
        assert uow.session is not None
        roles.require(uow.session, user, "viewer", "writing call notes")
        return store(uow.session, user, partner_id, text)


def store(
    session: Session,
    author: str,
    partner_id: str,
    text: str,
    *,
    written_at: datetime | None = None,
    uuid: str | None = None,
    **audit_detail: Any,
) -> NoteView:
    """Write one note and its audit entry in ``session`` (the caller checked who may): a new note,
    or (``written_at`` and ``uuid`` given) one brought back from an offline copy."""
    reason = problem(text)
    if reason is not None:
        raise ServiceError(reason)
    row = CallNote(
        uuid=uuid or uuids.uuid4().hex,
        partner_key=partner_key(session, partner_id),
        author=author,
        written_at=written_at or utcnow(),
        text=text,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        author,
        "note.add",
        "partner",
        partner_id,
        partner_id=partner_id,
        uuid=row.uuid,
        written_at=_aware(row.written_at),
        text=text,
        **audit_detail,
    )
    return _view(row, partner_id)


def exists(session: Session, uuid: str) -> bool:
    return session.exec(select(CallNote.id).where(CallNote.uuid == uuid)).first() is not None


def list_notes(target: Engine | UnitOfWork, partner_id: str) -> list[NoteView]:
    """``partner_id``'s notes, newest first; :class:`ServiceError` if there is no such partner."""
    with using(target, write=False, results=False) as uow:
        assert uow.session is not None
        key = partner_key(uow.session, partner_id)
        rows = uow.session.exec(
            select(CallNote)
            .where(CallNote.partner_key == key)
            .order_by(col(CallNote.written_at).desc(), col(CallNote.id).desc())
        ).all()
        return [_view(r, partner_id) for r in rows]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _view(row: CallNote, partner_id: str) -> NoteView:
    return NoteView(row.uuid, partner_id, row.author, _aware(row.written_at), row.text)
