"""The append-only audit log: every write records who, when and what; and reading it back.

:func:`record` adds an entry in the transaction of the write it describes. :func:`entries` reads
the log, newest first, as :class:`AuditLine` rows that carry a one-line summary for a person
(bulk writes such as imports and levelling runs are summarised, never dumped), and
:func:`write_entries` prints them as text, CSV or JSON for ``tiertui audit``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from ..safe_text import spreadsheet_text, visible
from ..storage.tables import AuditEntry, Override, Partner
from .errors import ServiceError

FORMATS = ("text", "csv", "json")
CSV_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "partner_id", "summary", "detail")
ACTOR_WIDTH = 16  # text output: who, padded to this many characters
_CHUNK = 500  # ids per IN (...) list


def record(session: Session, user: str, action: str, entity: str = "", entity_id: Any = "", **detail: Any) -> None:
    """Add an audit entry to ``session``; it commits with the write it describes."""
    session.add(
        AuditEntry(
            actor=user,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            detail=json.dumps(detail, default=str, sort_keys=True),
        )
    )


# ============================================================================ reading the log


@dataclass(frozen=True)
class AuditLine:
    """One audit entry, for people: ``summary`` says in plain words what happened.

    ``at`` is in UTC (timezone-aware). ``partner_id`` is the partner the entry is about, when it
    is about one (the partner itself, or one of its overrides).
    """

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict = field(hash=False, compare=False)
    summary: str = ""
    partner_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso_utc(self.at),
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "partner_id": self.partner_id,
            "summary": self.summary,
            "detail": self.detail,
        }


def iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entries(
    engine: Engine,
    user: str,
    *,
    partner_id: str | None = None,
    since: date | datetime | None = None,
    limit: int | None = None,
    actions: Iterable[str] | None = None,
) -> list[AuditLine]:
    """Audit entries, newest first; reading the log needs the viewer role.

    ``partner_id``: only entries about that partner (the partner itself and its overrides);
    :class:`ServiceError` if there is no such partner (nor a deleted one of that id). ``since``: entries at or after the start
    of that day in UTC (or that moment, for a datetime). ``limit``: the newest ``limit``.
    ``actions``: action names ("override.approve"), or families without a dot ("override").
    """
    from . import roles  # roles records into this module's log: import it late

    roles.check(engine, user, "viewer", "reading the audit log")
    with Session(engine) as session:
        # Select(...) is what select() builds for several columns; select() is typed for at most 4
        stmt: Select[*tuple[Any, ...]] = Select(
            col(AuditEntry.id),
            col(AuditEntry.at),
            col(AuditEntry.actor),
            col(AuditEntry.action),
            col(AuditEntry.entity),
            col(AuditEntry.entity_id),
            col(AuditEntry.detail),
        )  # plain rows, not ORM objects: cheaper for a long log
        if since is not None:
            stmt = stmt.where(col(AuditEntry.at) >= start_of(since))
        if actions is not None:
            stmt = stmt.where(or_(*_action_clauses(actions)))
        pid = None
        if partner_id is not None:
            pid, key = _partner(session, partner_id)
            stmt = stmt.where(_about_partner(session, pid, key))
        stmt = stmt.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        if limit is not None and pid is None:
            stmt = stmt.limit(limit)
        rows = session.exec(stmt).all()
        overrides = _overrides_of(session, rows)
    lines = [_line(row, overrides) for row in rows]
    if pid is not None:  # the SQL above finds candidates; the override each entry is about decides
        lines = [line for line in lines if line.partner_id == pid]
        if limit is not None:
            lines = lines[:limit]
    return lines


def start_of(since: date | datetime) -> datetime:
    """The UTC moment ``since`` begins (a date: its midnight in UTC)."""
    if isinstance(since, datetime):
        return since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return datetime.combine(since, time(0, 0), tzinfo=UTC)


def _action_clauses(actions: Iterable[str]) -> list:
    clauses: list[ColumnElement[bool]] = []
    for name in actions:
        if "." in name:
            clauses.append(col(AuditEntry.action) == name)
        else:
            clauses.append(
                or_(col(AuditEntry.action) == name, col(AuditEntry.action).like(_escape(name) + ".%", escape="\\"))
            )
    return clauses or [col(AuditEntry.id).is_(None)]  # no actions asked for: nothing


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _partner(session: Session, partner_id: str) -> tuple[str, int]:
    """(the stored partner id, its key) for ``partner_id``, matched exactly or else ignoring case."""
    wanted = partner_id.strip()
    if not wanted or "\x00" in wanted:  # PostgreSQL refuses NUL even as a parameter
        raise ServiceError(f"no partner {partner_id!r}")
    row = session.exec(select(Partner.partner_id, Partner.key).where(Partner.partner_id == wanted)).first()
    if row is None:
        row = session.exec(
            select(Partner.partner_id, Partner.key).where(func.lower(Partner.partner_id) == wanted.lower())
        ).first()
    if row is None:  # a deleted partner's history stays readable (spec v2 §4: `tiertui delete partner`)
        gone = session.exec(
            select(AuditEntry.entity_id).where(
                AuditEntry.action == "delete.partner",
                AuditEntry.entity == "partner",
                func.lower(AuditEntry.entity_id) == wanted.lower(),
            )
        ).first()
        if gone is not None:
            return gone, -1
        raise ServiceError(f"no partner {partner_id!r}")
    stored, key = row
    assert key is not None  # a stored partner's primary key
    return stored, key


def _about_partner(session: Session, pid: str, key: int):
    """Entries that may be about partner ``pid``: the partner itself, its overrides (by id, and by
    the partner id in their detail, which finds the entries of an override since deleted)."""
    ids = [str(i) for i in session.exec(select(Override.id).where(Override.partner_key == key))]
    mentions = "%" + _escape('"partner_id": ' + json.dumps(pid)) + "%"  # as record() writes it
    return or_(
        and_(col(AuditEntry.entity) == "partner", col(AuditEntry.entity_id) == pid),
        and_(
            col(AuditEntry.entity) == "override",
            or_(col(AuditEntry.entity_id).in_(ids), col(AuditEntry.detail).like(mentions, escape="\\")),
        ),
    )


@dataclass(frozen=True)
class _OverrideNow:
    partner_id: str
    tier: str
    requested_at: datetime


def _overrides_of(session: Session, rows) -> dict[int, _OverrideNow]:
    """The overrides that entries in ``rows`` are about, as they are now."""
    ids = sorted({int(r.entity_id) for r in rows if r.entity == "override" and r.entity_id.isdigit()})
    found = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for oid, tier, requested_at, pid in session.exec(
            select(Override.id, Override.tier, Override.requested_at, Partner.partner_id)
            .join(Partner, col(Partner.key) == Override.partner_key)
            .where(col(Override.id).in_(chunk))
        ):
            assert oid is not None  # a stored override's primary key
            found[oid] = _OverrideNow(pid, tier, _utc(requested_at))
    return found


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _detail(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def _line(row, overrides: dict[int, _OverrideNow]) -> AuditLine:
    at = _utc(row.at)
    detail = _detail(row.detail)
    now = None
    if row.entity == "override" and row.entity_id.isdigit():
        now = overrides.get(int(row.entity_id))
        # an override id can be used again once its row is deleted (a replaced demo database):
        # an entry from before the present override was requested is about an earlier one
        if now is not None and at + timedelta(seconds=1) < now.requested_at:
            now = None
    pid = detail.get("partner_id") if isinstance(detail.get("partner_id"), str) else None
    if pid is None and row.entity == "partner":
        pid = row.entity_id
    if pid is None and now is not None:
        pid = now.partner_id
    if now is not None and now.partner_id != pid:
        now = None
    try:
        summary = _summary(row.action, row.entity, row.entity_id, detail, pid, now)
    except Exception:  # noqa: BLE001 - an odd old entry still gets a line
        summary = _generic(row.action, row.entity, row.entity_id, detail)
    return AuditLine(row.id, at, row.actor, row.action, row.entity, row.entity_id, detail, summary, pid)


# ============================================================================ summaries


def _clip(text: Any, width: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _summary(action: str, entity: str, entity_id: str, d: dict, pid: str | None, now: _OverrideNow | None) -> str:
    family, _, verb = action.partition(".")
    if family == "override":
        text = _override_summary(verb, entity_id, d, pid, now) or _generic(action, entity, entity_id, d)
        if d.get("offline_copy"):
            text += f" (offline at {str(d.get('offline_at', '?'))[:16]}, synced by {d.get('synced_by', '?')})"
        return text
    if action == "note.add":
        text = f"added a call note on {d.get('partner_id', entity_id)}: {_clip(d.get('text', ''), 60)}"
        if d.get("offline_copy"):
            text += f" (offline at {str(d.get('offline_at', '?'))[:16]}, synced by {d.get('synced_by', '?')})"
        return text
    if action == "offline.copy":
        return f"took offline copy {entity_id} to {d.get('file', '?')}: {_count(d.get('rows', '?'))} rows"
    if action == "offline.sync":
        counts = ", ".join(f"{len(d.get(k) or [])} {k}" for k in ("applied", "conflicts", "refused", "ignored"))
        return f"synced offline copy {entity_id} from {d.get('file', '?')}: {counts}"
    if action == "program.activate":
        source = f" from {d['source']}" if d.get("source") else ""
        return f"activated program {d.get('name', '?')!r} version {d.get('version', '?')}{source}"
    if family == "import":
        kind = verb or entity
        text = (
            f"imported {kind} from {d.get('file') or entity_id}: {_count(d.get('rows', '?'))} rows "
            f"({_count(d.get('inserted', 0))} new, {_count(d.get('updated', 0))} updated)"
        )
        return text + (f"; {_clip(d['detail'], 60)}" if d.get("detail") else "")
    if family == "delete":
        return _delete_summary(verb, entity_id, d)
    if action == "level.run":
        return _level_summary(str(d.get("summary", "")), entity_id)
    if action == "demo.build":
        periods = d.get("periods") or []
        text = f"built a demo database: {_count(d.get('partners', '?'))} partners"
        if isinstance(periods, list) and periods:
            text += f", {len(periods)} periods ({periods[0]} to {periods[-1]})"
        text += f", seed {d.get('seed', '?')}"
        return text + (", replacing its data" if d.get("replace") else "")
    if action == "scenario.save":
        base = f", based on {d['program']} v{d['base_version']}" if d.get("program") and d.get("base_version") else ""
        return f"saved scenario {d.get('name', entity_id)!r}" + (" (new)" if d.get("created") else "") + base
    if action == "scenario.activate":
        return f"activated scenario {d.get('name', entity_id)!r} as program version {d.get('program_version', '?')}"
    if action == "scenario.delete":
        return f"deleted scenario {d.get('name', entity_id)!r}"
    if action == "user.add":
        why = f" ({_clip(d['why'], 60)})" if d.get("why") else ""
        return f"added {entity_id} as {d.get('role', '?')}{why}"
    if action == "user.set_role":
        return f"changed {entity_id}'s role: {d.get('before', '?')} -> {d.get('after', '?')}"
    if action == "user.remove":
        return f"removed {entity_id}" + (f" (was {d['before']})" if d.get("before") else "")
    return _generic(action, entity, entity_id, d)


def _override_summary(verb: str, oid: str, d: dict, pid: str | None, now: _OverrideNow | None) -> str | None:
    who = f"override {oid}" + (f" for {pid}" if pid else "")
    if verb == "request":
        ends = f" to {d['expires_on']}" if d.get("expires_on") else ", open-ended"
        window = f"from {d.get('starts_on', '?')}{ends}"
        return f"requested {who}: {d.get('tier', '?')} {window}; reason: {_clip(d.get('reason', ''), 60)}"
    if verb == "edit":
        before, after = d.get("before") or {}, d.get("after") or {}
        changes = [
            f"{k} {before.get(k) or '–'} -> {after.get(k) or '–'}"
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        ]
        return f"edited {who}: " + ("; ".join(_clip(c, 50) for c in changes) if changes else "no change")
    if verb == "revoke":
        tier = d.get("tier") or (now.tier if now else None)
        after = d.get("after") or {}
        note = f"; note: {_clip(after['note'], 60)}" if after.get("note") else ""
        return f"revoked {who}" + (f" ({tier})" if tier else "") + f": approved -> revoked{note}"
    if verb in ("approve", "reject"):
        tier = d.get("tier") or (now.tier if now else None)
        before, after = d.get("before") or {}, d.get("after") or {}
        done = {"approve": "approved", "reject": "rejected"}[verb]
        status = f"{before.get('status', 'pending')} -> {after.get('status', done)}"
        note = f"; note: {_clip(after['note'], 60)}" if after.get("note") else ""
        return f"{done} {who}" + (f" ({tier})" if tier else "") + f": {status}{note}"
    if verb == "undo":
        before = d.get("before") or {}
        tier = d.get("tier")
        return (
            f"undid the decision on {who}"
            + (f" ({tier})" if tier else "")
            + f": {before.get('status', '?')} -> pending"
        )
    return None


def _delete_summary(verb: str, entity_id: str, d: dict) -> str:
    if verb == "metrics":
        per = d.get("per_metric") or {}
        detail = f" ({', '.join(f'{k} {_count(v)}' for k, v in per.items())})" if isinstance(per, dict) and per else ""
        whose = f" of {d['partner_id']}" if d.get("partner_id") else f" from {_count(d.get('partners', '?'))} partners"
        return f"deleted {_count(d.get('rows', '?'))} metric values of {d.get('period', '?')}{detail}{whose}"
    if verb == "certifications":
        person = f", person {_clip(d['person'], 40)}" if d.get("person") else ""
        return f"deleted {_count(d.get('rows', '?'))} certifications of {d.get('partner_id', entity_id)}{person}"
    if verb == "partner":
        rows = d.get("rows") or {}
        counts = ", ".join(f"{_count(v)} {k.replace('_', ' ')}" for k, v in rows.items() if k != "partner" and v)
        return f"deleted partner {entity_id}" + (f" with {counts}" if counts else "")
    return f"deleted {verb} {entity_id}"


def _level_summary(text: str, run_id: str) -> str:
    """The first and last lines of a levelling summary (the tier counts between are left out)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return f"levelling run {run_id}"
    head = lines[0].rstrip(".")
    head = head[:1].lower() + head[1:]
    latest = next((line.rstrip(":") for line in lines if line.startswith("Latest period")), "")
    if len(lines) > 2 and latest:
        return f"{head}; {latest[:1].lower() + latest[1:]}: {lines[-1]}"
    return head


def _generic(action: str, entity: str, entity_id: str, d: dict) -> str:
    target = " ".join(x for x in (entity, entity_id) if x)
    scalars = [f"{k}={v}" for k, v in d.items() if isinstance(v, (str, int, float, bool)) and v != ""]
    return _clip(f"{action}" + (f" {target}" if target else "") + (f": {', '.join(scalars)}" if scalars else ""), 120)


# ============================================================================ output


def write_entries(lines: list[AuditLine], fmt: str, out: TextIO) -> None:
    """``lines`` as text (time, who, summary: one line each), CSV or JSON."""
    if fmt not in FORMATS:
        raise ServiceError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "json":
        json.dump([line.as_dict() for line in lines], out, indent=2, default=str, ensure_ascii=False)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            row = line.as_dict()
            row["detail"] = json.dumps(line.detail, default=str, sort_keys=True, ensure_ascii=False)
            writer.writerow(["" if row[c] is None else spreadsheet_text(row[c]) for c in CSV_COLUMNS])
        return
    if not lines:
        out.write("No audit entries.\n")
        return
    for line in lines:  # a fixed width: the same entry prints the same whatever else is listed
        out.write(f"{line.at:%Y-%m-%d %H:%M}  {visible(line.actor):<{ACTOR_WIDTH}}  {visible(line.summary)}\n")


def detail_rows(line: AuditLine) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """A line's full detail, for a person: (field, before, after) for a change, and (field, value)
    for the rest. Long values (a levelling summary) keep their line breaks."""
    d = dict(line.detail)
    before, after = d.pop("before", None), d.pop("after", None)
    changes: list[tuple[str, str, str]] = []
    if isinstance(before, dict) or isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        after = after if isinstance(after, dict) else {}
        for key in list(dict.fromkeys([*before, *after])):
            changes.append((key, _plain(before.get(key)), _plain(after.get(key))))
    elif before is not None or after is not None:
        changes.append(("value", _plain(before), _plain(after)))
    rest = [(key, _plain(value)) for key, value in sorted(d.items())]
    return changes, rest


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
