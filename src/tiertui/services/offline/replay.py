"""Replaying offline override work in the team database, through the same rules as online work."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from ...storage.tables import AuditEntry, OfflineCopy, Override, Partner, utcnow
from .. import audit, overrides, roles
from ..errors import ServiceError
from ..relevel import relevel
from ..unit_of_work import UnitOfWork
from .common import DECISIONS, IGNORED_LABELS, OVERRIDE_ACTIONS, _aware, _when
from .records import SyncReport, _Content, _Event, _Offline, _Skip, _Track

CLOCK_SKEW = timedelta(minutes=2)  # how far a laptop's clock may be off before its times are refused


class _Replay:
    """Applies the offline changes one by one, in the order they were made, to the team database."""

    def __init__(self, uow: UnitOfWork, user: str, team: OfflineCopy, offline: _Offline, report: SyncReport) -> None:
        assert uow.session is not None
        self.uow = uow
        self.session: Session = uow.session
        self.user = user
        self.team = team
        self.offline = offline
        self.report = report
        self.tracks: dict[int, _Track] = {}
        self.now = utcnow()
        self.by_override: dict[int, list[_Event]] = {}
        for e in offline.events:
            self.by_override.setdefault(e.override_id, []).append(e)

    # -------------------------------------------------------------- one change

    def apply(self, event: _Event) -> None:
        track = self._track(event)
        who = f"{event.actor} {_verb(event.action)} it offline at {_when(event.at)}"
        if track.conflicted:
            return  # the conflict's line already tells every offline change of this override
        if track.stop is not None:
            self._say("refused", track, f"{who} — not applied: {track.stop}")
            return
        try:
            self._trusted(event)
            if event.action == "override.request":
                self._request(track, event)
            elif event.action == "override.edit":
                self._check_unchanged(track, event)
                self._edit(track, event)
            else:
                self._check_unchanged(track, event)
                self._decide(track, event)
        except _Skip as skip:
            if skip.kind == "conflicts":
                track.conflicted = True
                self._say("conflicts", track, f"{self._offline_story(track, event)}; {skip} — not applied")
            else:
                track.stop = "an earlier change of it offline was not applied"
                self._say("refused", track, f"{who} — not applied: {skip}")

    def _trusted(self, event: _Event) -> None:
        """Only the holder's own work, at a time between taking the copy and now, is replayed: the
        copy is a file its holder can edit, so nothing in it can vouch for anyone else."""
        holder = self.team.copied_by
        if event.actor != holder:
            raise _Skip(
                "refused",
                f"the copy was taken by {holder}, and a sync applies only its holder's own work "
                f"(a copy is a file its holder can edit: it cannot vouch for {event.actor})",
            )
        row = self.offline.overrides.get(event.override_id)
        times = [_aware(event.at)]
        if row is not None and event.action == "override.request":
            times.append(_aware(row.requested_at))
        if row is not None and event.action in DECISIONS and row.decided_by == event.actor:
            times.append(_aware(row.decided_at))
        copied_at = _aware(self.team.copied_at)
        for at in times:
            if at is None:
                continue
            if at > self.now + CLOCK_SKEW:
                raise _Skip("refused", f"its time, {_when(at)}, is in the future")
            if copied_at is not None and at < copied_at - CLOCK_SKEW:
                raise _Skip("refused", f"its time, {_when(at)}, is before the copy was taken ({_when(copied_at)})")

    def _track(self, event: _Event) -> _Track:
        track = self.tracks.get(event.override_id)
        if track is not None:
            return track
        new = event.override_id > self.team.last_override_id
        row = self.offline.overrides.get(event.override_id)
        track = _Track(event.override_id, row.partner_id if row else "an unknown partner", new)
        if not new:
            track.team_id = event.override_id
        if row is None:  # the app never deletes overrides: the file was altered
            track.stop = "the copy does not hold this override"
        self.tracks[event.override_id] = track
        return track

    def _say(self, kind: str, track: _Track, text: str) -> None:
        getattr(self.report, kind).append(f"{self._name(track)}: {text}")

    def _name(self, track: _Track) -> str:
        if track.new and track.team_id is None:
            return f"offline override {track.copy_id} for {track.partner_id}"
        if track.new:
            return f"override {track.team_id} for {track.partner_id} (no. {track.copy_id} in the copy)"
        return f"override {track.team_id} for {track.partner_id}"

    def _offline_story(self, track: _Track, first: _Event) -> str:
        """What was done offline to the override, from ``first`` on (none of it is applied)."""
        events = [e for e in self.by_override.get(track.copy_id, []) if e.audit_id >= first.audit_id]
        return " and ".join(f"{e.actor} {_verb(e.action)} it offline at {_when(e.at)}" for e in events)

    def _offline_detail(self, event: _Event, track: _Track) -> dict[str, Any]:
        detail: dict[str, Any] = {"offline_copy": self.team.id, "offline_at": _aware(event.at), "synced_by": self.user}
        if track.new:
            detail["offline_override_id"] = track.copy_id
        return detail

    def _role(self, actor: str, role: str, doing: str) -> None:
        try:
            roles.require(self.session, actor, role, doing)
        except roles.RoleRefused as exc:
            raise _Skip("refused", str(exc)) from None

    def _rule(self, check, *args) -> None:
        """One of ``services.overrides``' rules, as online; a refusal becomes this change's refusal."""
        try:
            check(self.session, *args)
        except overrides.OwnRequest as exc:
            raise _Skip(
                "refused", f"{exc.requester} requested it, and someone else must {exc.verb} it (four-eyes rule)"
            ) from None
        except ServiceError as exc:
            raise _Skip("refused", str(exc)) from None

    def _check_content(self, partner_id: str, content: _Content) -> None:
        problems = overrides.validate_request(
            self.session, partner_id, content.tier, content.reason, content.starts_on, content.expires_on
        )
        if problems:
            raise _Skip("refused", "; ".join(problems))

    # -------------------------------------------------------------- the kinds of change

    def _request(self, track: _Track, event: _Event) -> None:
        if not track.new or track.team_id is not None:
            raise _Skip("refused", "the copy's record of this request is inconsistent")
        row = self.offline.overrides[track.copy_id]
        content = _content(event.detail, row.content)
        key = self.session.exec(select(Partner.key).where(Partner.partner_id == track.partner_id)).first()
        if key is None:
            self._role(event.actor, "manager", "requesting overrides")
            raise _Skip(
                "refused",
                f"partner {track.partner_id} is not in the team database (imports made offline are not synced)",
            )
        self._rule(
            overrides.check_request,
            event.actor,
            track.partner_id,
            content.tier,
            content.reason,
            content.starts_on,
            content.expires_on,
        )
        requested_at = _aware(row.requested_at) or _aware(event.at)
        assert content.starts_on is not None and requested_at is not None  # check_request refuses no start
        new = Override(
            partner_key=key,
            tier=content.tier,
            reason=content.reason.strip(),
            starts_on=content.starts_on,
            expires_on=content.expires_on,
            requested_by=event.actor,
            requested_at=requested_at,
        )
        self.session.add(new)
        self.session.flush()
        track.team_id, track.expected, track.checked = new.id, content, True
        audit.record(
            self.session,
            event.actor,
            "override.request",
            "override",
            new.id,
            partner_id=track.partner_id,
            tier=content.tier,
            reason=content.reason.strip(),
            starts_on=content.starts_on,
            expires_on=content.expires_on,
            **self._offline_detail(event, track),
        )
        self._say(
            "applied",
            track,
            f"requested offline by {event.actor} at {_when(event.at)} ({content.describe()}): now pending",
        )

    def _check_unchanged(self, track: _Track, event: _Event) -> None:
        """An override that existed when the copy was taken: is the team's row as the copy found it?"""
        if track.checked:
            return
        track.checked = True
        if track.new:
            raise _Skip("refused", "the request it belongs to was not synced")
        at_copy = self._content_at_copy(track)
        team_row = self.session.get(Override, track.team_id)
        if team_row is None:
            raise _Skip("conflicts", "the team database no longer has it")
        if team_row.status != "pending":
            raise _Skip(
                "conflicts",
                f"it was already {team_row.status} by {team_row.decided_by} at {_when(team_row.decided_at)}",
            )
        edits = self.session.exec(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "override",
                AuditEntry.entity_id == str(track.team_id),
                col(AuditEntry.id) > self.team.last_audit_id,
                col(AuditEntry.action).in_(OVERRIDE_ACTIONS),
            )
            .order_by(col(AuditEntry.id))
        ).all()
        if edits or _row_content(team_row) != at_copy:
            last = edits[-1] if edits else None
            by = f" by {last.actor} at {_when(last.at)}" if last else ""
            raise _Skip(
                "conflicts",
                f"it was edited{by} in the team database meanwhile (now {_row_content(team_row).describe()})",
            )
        track.expected = at_copy

    def _content_at_copy(self, track: _Track) -> _Content:
        """The request's content when the copy was taken: before its first offline edit, else as it is."""
        for e in self.by_override.get(track.copy_id, []):
            if e.action == "override.edit":
                before = e.detail.get("before")
                if isinstance(before, dict):
                    return _content(before, self.offline.overrides[track.copy_id].content)
        return self.offline.overrides[track.copy_id].content

    def _edit(self, track: _Track, event: _Event) -> None:
        team_row = self.session.get(Override, track.team_id)
        if team_row is None:  # deleted with its partner since it was checked
            raise _Skip("conflicts", "the team database no longer has it")
        assert track.expected is not None  # set by _request or _check_unchanged
        self._rule(overrides.check_edit, event.actor, team_row)
        after = event.detail.get("after")
        if not isinstance(after, dict):
            raise _Skip("refused", "the copy's record of this edit is unreadable")
        content = _content(after, track.expected)
        self._check_content(track.partner_id, content)
        before = track.expected
        self._conditional(track, _as_dict(content))
        track.expected = content
        audit.record(
            self.session,
            event.actor,
            "override.edit",
            "override",
            track.team_id,
            partner_id=track.partner_id,
            before=_as_dict(before),
            after=_as_dict(content),
            **self._offline_detail(event, track),
        )
        self._say("applied", track, f"edited offline by {event.actor} at {_when(event.at)}: now {content.describe()}")

    def _decide(self, track: _Track, event: _Event) -> None:
        approve = event.action == "override.approve"
        status = DECISIONS[event.action]
        team_row = self.session.get(Override, track.team_id)
        if team_row is None:  # deleted with its partner since it was checked
            raise _Skip("conflicts", "the team database no longer has it")
        assert track.expected is not None  # set by _request or _check_unchanged
        self._rule(overrides.check_decision, event.actor, team_row, approve)
        row = self.offline.overrides[track.copy_id]
        after = event.detail.get("after")
        if not isinstance(after, dict):
            after = {}
        note = str(after.get("note", row.note if row.status == status else "") or "").strip()
        decided_at = (
            _aware(row.decided_at) if row.status == status and row.decided_by == event.actor else None
        ) or _aware(event.at)
        self._conditional(track, {"status": status, "decided_by": event.actor, "decided_at": decided_at, "note": note})
        audit.record(
            self.session,
            event.actor,
            event.action,
            "override",
            track.team_id,
            partner_id=track.partner_id,
            tier=track.expected.tier,
            before={"status": "pending"},
            after={"status": status, "note": note},
            **self._offline_detail(event, track),
        )
        if approve:
            relevel(self.uow, event.actor, keys=[team_row.partner_key], ancestors=False, why="an offline approval")
        track.stop = f"it was already {status} offline"
        self._say("applied", track, f"{status} offline by {event.actor} at {_when(event.at)}")

    def _conditional(self, track: _Track, values: dict) -> None:
        """Update the team row only while it is pending and holds what the offline work expects."""
        expected = track.expected
        assert expected is not None  # set by _request or _check_unchanged
        clauses = [
            col(Override.id) == track.team_id,
            col(Override.status) == "pending",
            col(Override.tier) == expected.tier,
            col(Override.reason) == expected.reason.strip(),
            col(Override.starts_on) == expected.starts_on,
            col(Override.expires_on).is_(None)
            if expected.expires_on is None
            else col(Override.expires_on) == expected.expires_on,
        ]
        changed = self.session.exec(update(Override).where(*clauses).values(**values)).rowcount
        if changed != 1:  # changed by someone else since it was read (PostgreSQL: a concurrent writer)
            self.session.expire_all()
            latest = self.session.get(Override, track.team_id)
            if latest is None:  # deleted with its partner meanwhile
                raise _Skip("conflicts", "the team database no longer has it")
            if latest.status != "pending":
                raise _Skip(
                    "conflicts", f"it was already {latest.status} by {latest.decided_by} at {_when(latest.decided_at)}"
                )
            raise _Skip("conflicts", "it was edited in the team database meanwhile")
        self.session.expire_all()


def _label(action: str) -> str:
    return IGNORED_LABELS.get(action, action.replace(".", " ").replace("_", " "))


def _verb(action: str) -> str:
    return {
        "override.request": "requested",
        "override.edit": "edited",
        "override.approve": "approved",
        "override.reject": "rejected",
    }.get(action, action)


def _parse_date(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _content(values: dict, fallback: _Content) -> _Content:
    """Request content from an audit entry's detail, each missing field taken from ``fallback``."""
    try:
        return _Content(
            tier=str(values.get("tier", fallback.tier)),
            reason=str(values.get("reason", fallback.reason)),
            starts_on=_parse_date(values["starts_on"]) if "starts_on" in values else fallback.starts_on,
            expires_on=_parse_date(values["expires_on"]) if "expires_on" in values else fallback.expires_on,
        )
    except ValueError:
        raise _Skip("refused", "the copy's record of it has an unreadable date") from None


def _row_content(row: Override) -> _Content:
    return _Content(row.tier, row.reason, row.starts_on, row.expires_on)


def _as_dict(content: _Content) -> dict:
    return {
        "tier": content.tier,
        "reason": content.reason.strip(),
        "starts_on": content.starts_on,
        "expires_on": content.expires_on,
    }
