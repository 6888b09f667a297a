"""Offline copies: a SQLite copy of a team database for a trip, and override work and call notes brought back.

:func:`take_copy` writes every row of the team database (SQLite or PostgreSQL) into a new SQLite
file at the newest schema, with ids and keys unchanged, and records the copy (an ``OfflineCopy``
row) in both files. The copy is an ordinary tiertui database: ``tiertui --db sqlite:///FILE``
works on it, its ``app_user`` rows carrying the same roles as the team's.

:func:`sync` replays, in one transaction, the override work done in the copy since it was taken
(requests, edits, approvals and rejections, read from the copy's audit log and its override rows)
into the team database:

* an override requested offline becomes a new request (a new id; requester, time, reason and
  dates kept), and any edit or decision made on it offline follows it;
* a change offline to an override that existed when the copy was taken lands only if the team's
  row is still pending and unchanged since then; otherwise it is a conflict: reported, never
  written over the team's decision or edit;
* only the copy's holder's work is applied (the person the team database recorded as taking it):
  a copy is a file its holder can edit, so nothing in it vouches for anyone else; work recorded
  as another person's, or dated in the future or before the copy was taken, is refused;
* roles and the four-eyes rule are checked in the team database, at sync time, for the holder;
  what they may not do there is reported as refused;
* an approval updates the partner's effective tiers, as an approval online does;
* call notes written offline by the holder come back as notes (never a conflict; a note already
  in the team database, by its uuid, is not added again), audited as ``note.add``;
* everything else done offline (imports, levelling, programs, scenarios, people) is not synced,
  and the report says so.

The package, by concern: ``copy`` (taking a copy), ``sync`` (reading a copy back, one transaction),
``replay`` (each offline change, through the same rules as ``services.overrides``), ``records``
(the events, tracks and the report) and ``common`` (constants and helpers).

A copy is synced at most once: the team's ``OfflineCopy`` row is marked synced in the same
transaction. A file is recognised as a copy by its SQLite ``application_id`` (:data:`MARKER`) and
matched to its team database by the copy's id.
"""

from __future__ import annotations

from ...storage.tables import utcnow
from .common import MARKER, Progress, _aware, _sqlite_file, _when, copy_file_path
from .copy import CopyReport, _seal, _tables, take_copy
from .records import SyncReport
from .sync import sync

__all__ = [
    "MARKER",
    "CopyReport",
    "Progress",
    "SyncReport",
    "_aware",
    "_seal",
    "_sqlite_file",
    "_tables",
    "_when",
    "copy_file_path",
    "sync",
    "take_copy",
    "utcnow",
]
