"""What a sync reads from the copy and reports: the events, the tracks, the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .common import _when


@dataclass
class SyncReport:
    copy_id: str
    file: Path
    source: str
    copied_by: str
    copied_at: datetime | None
    synced_by: str
    synced_at: datetime | None = None
    applied: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # one label per change not synced

    @property
    def complete(self) -> bool:
        """True when every override change made offline was applied."""
        return not self.conflicts and not self.refused

    def text(self) -> str:
        taken = f"taken by {self.copied_by} at {_when(self.copied_at)}"
        lines = [f"Synced offline copy {self.copy_id} ({self.file}), {taken}."]
        if not (self.applied or self.conflicts or self.refused):
            lines.append("No override requests or decisions, nor call notes, were made offline: nothing to apply.")
        for title, items in (
            ("Applied", self.applied),
            ("Conflicts, not applied", self.conflicts),
            ("Refused, not applied", self.refused),
        ):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines.extend(f"  {item}" for item in items)
        if self.ignored:
            counted = Counter(self.ignored)
            names = ", ".join(label if n == 1 else f"{label} ({n} times)" for label, n in counted.items())
            n = len(self.ignored)
            lines.append(
                f"{n} other change{'s' if n != 1 else ''} made offline {'were' if n != 1 else 'was'} "
                f"not synced: {names} (only override requests and decisions, and call notes, are synced)."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Event:
    """One override change made offline, from the copy's audit log."""

    audit_id: int
    at: datetime
    actor: str
    action: str
    override_id: int  # the copy's id
    detail: dict


@dataclass(frozen=True)
class _Content:
    tier: str
    reason: str
    starts_on: date | None
    expires_on: date | None

    def describe(self) -> str:
        until = f" to {self.expires_on}" if self.expires_on else ", open-ended"
        return f"{self.tier} from {self.starts_on}{until}"


@dataclass(frozen=True)
class _CopyRow:
    """An override as the copy holds it now, with its partner's id."""

    id: int
    partner_id: str
    content: _Content
    status: str
    requested_by: str
    requested_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str


@dataclass(frozen=True)
class _NoteEvent:
    """A call note written offline: its audit entry in the copy, and the copy's note row (if any)."""

    audit_id: int
    at: datetime
    actor: str
    uuid: str
    partner_id: str | None  # the copy's note row's partner (None: the copy has no such note)
    author: str | None
    written_at: datetime | None
    text: str | None


@dataclass
class _Offline:
    """What was read from the copy file."""

    identities: list[dict]
    entries: list[tuple[int, str]]  # (audit id, action) of every audit entry that may be the copy's own
    events: list[_Event]
    overrides: dict[int, _CopyRow]
    notes: list[_NoteEvent] = field(default_factory=list)


@dataclass
class _Track:
    """One override of the copy, as the replay goes."""

    copy_id: int
    partner_id: str
    new: bool
    team_id: int | None = None
    expected: _Content | None = None  # what the team row holds when it is as the offline work left it
    stop: str | None = None  # why the later changes of this override are not applied
    checked: bool = False  # the team row was compared with the copy's
    conflicted: bool = False  # a conflict was reported: its line names all the offline changes


class _Skip(Exception):
    """A change that is not applied; ``kind`` says which list of the report names it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
