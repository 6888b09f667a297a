"""Tier overrides: request, approve, reject, revoke, under the four-eyes rule (spec §3.7).

Revocation (spec v2 §3.7): an approver may revoke an approved override, with a note saying why;
from then on it has no effect. The four-eyes rule applies as for decisions: the person who
requested an override may not revoke it (else a requester turned approver could undo a decision
on their own request alone); the approver who approved it may (they are correcting their own
decision, and the requester stays a second person). The approval (``decided_by``, ``decided_at``,
``note``) is kept; the revocation is ``revoked_by``, ``revoked_at`` and ``revoke_note``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..scoring import suggest
from ..storage.tables import Override, Partner, utcnow
from . import audit, roles
from .errors import ServiceError
from .programs import active_program
from .relevel import relevel
from .unit_of_work import UnitOfWork, engine_of, using

STATUSES = ("pending", "approved", "rejected", "revoked")


@dataclass(frozen=True)
class OverrideView:
    """An override with its partner's id and name, for lists and screens."""

    id: int
    partner_id: str
    partner_name: str
    tier: str
    reason: str
    starts_on: date
    expires_on: date | None
    status: str
    requested_by: str
    requested_at: object
    decided_by: str | None
    decided_at: object
    note: str
    revoked_by: str | None = None
    revoked_at: object = None
    revoke_note: str = ""


def validate_request(
    source: Engine | Session | UnitOfWork,
    partner_id: str,
    tier: str,
    reason: str,
    starts_on: date | None,
    expires_on: date | None,
) -> list[str]:
    """Every problem with a request, as messages (empty when it can be filed)."""
    if isinstance(source, UnitOfWork):
        assert source.session is not None
        source = source.session
    if isinstance(source, Engine):
        with Session(source) as session:
            return validate_request(session, partner_id, tier, reason, starts_on, expires_on)
    session = source
    problems = []
    program = active_program(session)
    if tier not in program.tiers:
        problems.append(f"unknown tier {tier!r}{suggest(tier, program.tiers)}; tiers: {', '.join(program.tiers)}")
    if not reason.strip():
        problems.append("a reason is required")
    elif "\x00" in reason:
        problems.append("the reason contains a NUL character (\\x00); remove it")
    if starts_on is None:
        problems.append("a start date is required")
    if starts_on and expires_on and expires_on < starts_on:
        problems.append(f"expiry {expires_on} is before the start {starts_on}")
    if "\x00" in partner_id:  # never stored; PostgreSQL refuses it even as a parameter
        problems.append(f"no partner {partner_id!r}")
        return problems
    if session.exec(select(Partner.key).where(Partner.partner_id == partner_id)).first() is None:
        problems.append(f"no partner {partner_id!r}")
    return problems


# ---------------------------------------------------------------------------- the rules, shared
# The command line, the app and an offline sync all go through these checks.


class OwnRequest(ServiceError):
    """The four-eyes rule: nobody decides their own request."""

    def __init__(self, override_id: int, requester: str, approve: bool) -> None:
        self.override_id = override_id
        self.requester = requester
        self.verb = "approve" if approve else "reject"
        super().__init__(f"you requested override {override_id}; someone else must {self.verb} it")


def check_request(
    session: Session,
    actor: str,
    partner_id: str,
    tier: str,
    reason: str,
    starts_on: date | None,
    expires_on: date | None,
) -> None:
    """May ``actor`` file this request? (the manager role; a valid tier, reason and dates)."""
    roles.require(session, actor, "manager", "requesting overrides")
    problems = validate_request(session, partner_id, tier, reason, starts_on, expires_on)
    if problems:
        raise ServiceError("; ".join(problems))


def check_edit(session: Session, actor: str, row: Override) -> None:
    """May ``actor`` edit ``row``? (the manager role; pending; only its requester)."""
    roles.require(session, actor, "manager", "editing overrides")
    if row.status != "pending":
        raise ServiceError(f"override {row.id} is already {row.status}; file a new request instead")
    if row.requested_by != actor:
        raise ServiceError(f"override {row.id} was requested by {row.requested_by}; only they can edit it")


class OwnRevocation(ServiceError):
    """The four-eyes rule for revocations: the requester may not revoke their own override."""

    def __init__(self, override_id: int, requester: str) -> None:
        self.override_id = override_id
        self.requester = requester
        super().__init__(f"you requested override {override_id}; someone else must revoke it")


def check_revocation(session: Session, actor: str, row: Override, note: str) -> None:
    """May ``actor`` revoke ``row`` with ``note``? (the approver role; approved; not one's own
    request; a note saying why). The app calls this to say why before asking for the note."""
    roles.require(session, actor, "approver", "revoking overrides")
    _revocable(actor, row, note)


def _revocable(actor: str, row: Override, note: str) -> None:
    """:func:`check_revocation` without the role check (done once by :func:`_changing`)."""
    if row.status != "approved":
        how = f" by {row.revoked_by} at {row.revoked_at}" if row.status == "revoked" else ""
        raise ServiceError(
            f"override {row.id} is {row.status}{how}; only an approved override can be revoked"
            + (" (reject a pending one instead)" if row.status == "pending" else "")
        )
    if row.requested_by == actor:
        assert row.id is not None
        raise OwnRevocation(row.id, actor)
    if not note.strip():
        raise ServiceError(f"revoking override {row.id} needs a note saying why (--note TEXT)")
    if "\x00" in note:
        raise ServiceError("the note contains a NUL character (\\x00); remove it")


def revocation_refused(engine: Engine, user: str, override_id: int) -> str | None:
    """Why ``user`` may not revoke override ``override_id`` (role, status, four-eyes), or None when
    they may (a note is still needed). For the app's override queue: say why before asking for a note."""
    with Session(engine) as session:
        row = session.get(Override, override_id)
        if row is None:
            return f"no override {override_id}"
        try:
            check_revocation(session, user, row, "a note")
        except ServiceError as exc:
            return str(exc)
        finally:
            session.rollback()  # role_in may claim a new SQLite file: not from a look-up
    return None


def check_decision(session: Session, actor: str, row: Override, approve: bool) -> None:
    """May ``actor`` decide ``row``? (the approver role; pending; never one's own request)."""
    roles.require(session, actor, "approver", _deciding(approve))
    _decidable(actor, row, approve)


def _deciding(approve: bool) -> str:
    return f"{'approving' if approve else 'rejecting'} overrides"


def _decidable(actor: str, row: Override, approve: bool) -> None:
    """:func:`check_decision` without the role check (done once by :func:`_changing`)."""
    if row.status != "pending":
        raise ServiceError(f"override {row.id} is already {row.status} by {row.decided_by} at {row.decided_at}")
    if row.requested_by == actor:
        assert row.id is not None
        raise OwnRequest(row.id, actor, approve)


def request(
    target: Engine | UnitOfWork,
    user: str,
    partner_id: str,
    tier: str,
    reason: str,
    starts_on: date,
    expires_on: date | None = None,
    *,
    audit_detail: dict | None = None,
) -> int:
    """File a pending override; returns its id. Needs the manager role.

    ``audit_detail``: extra fields for the audit entry (an offline sync: the copy and the time).
    """
    with using(target, results=False) as uow:
        assert uow.session is not None
        session = uow.session
        check_request(session, user, partner_id, tier, reason, starts_on, expires_on)
        key = session.exec(select(Partner.key).where(Partner.partner_id == partner_id)).one()
        assert key is not None  # a stored partner's primary key
        row = Override(
            partner_key=key,
            tier=tier,
            reason=reason.strip(),
            starts_on=starts_on,
            expires_on=expires_on,
            requested_by=user,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            user,
            "override.request",
            "override",
            row.id,
            partner_id=partner_id,
            tier=tier,
            reason=reason.strip(),
            starts_on=starts_on,
            expires_on=expires_on,
            **(audit_detail or {}),
        )
        assert row.id is not None
        return row.id


def edit(
    target: Engine | UnitOfWork,
    user: str,
    override_id: int,
    tier: str,
    reason: str,
    starts_on: date,
    expires_on: date | None,
    *,
    audit_detail: dict | None = None,
) -> None:
    """Change a pending request; only its requester may, and only while they are a manager."""
    with using(target, results=False) as uow:
        assert uow.session is not None
        session = uow.session
        row = _get(session, override_id)
        check_edit(session, user, row)
        partner_id = session.get_one(Partner, row.partner_key).partner_id
        problems = validate_request(session, partner_id, tier, reason, starts_on, expires_on)
        if problems:
            raise ServiceError("; ".join(problems))
        before = dict(tier=row.tier, reason=row.reason, starts_on=row.starts_on, expires_on=row.expires_on)
        changed = session.exec(
            update(Override)
            .where(col(Override.id) == override_id, col(Override.status) == "pending")
            .values(tier=tier, reason=reason.strip(), starts_on=starts_on, expires_on=expires_on)
        ).rowcount
        if changed != 1:
            raise ServiceError(f"override {override_id} was decided meanwhile; file a new request instead")
        audit.record(
            session,
            user,
            "override.edit",
            "override",
            override_id,
            partner_id=partner_id,
            before=before,
            after=dict(tier=tier, reason=reason.strip(), starts_on=starts_on, expires_on=expires_on),
            **(audit_detail or {}),
        )


def decide(
    target: Engine | UnitOfWork,
    user: str,
    override_id: int,
    approve: bool,
    note: str = "",
    *,
    audit_detail: dict | None = None,
) -> OverrideView:
    """Approve or reject a pending override, never one's own; exactly one decision lands.

    Needs the approver role. An approval re-levels the partner in the same transaction, so its
    effective tiers change at once.
    """
    status = "approved" if approve else "rejected"
    with _changing(
        target,
        user,
        override_id,
        _deciding(approve),
        # another decision landed between our read and our update: say whose, as read now
        meanwhile=lambda latest: f"is already {latest.status} by {latest.decided_by} at {latest.decided_at}",
    ) as (uow, row):
        _decidable(user, row, approve)
        return _change_decision(
            uow,
            user,
            row,
            action=f"override.{'approve' if approve else 'reject'}",
            expect=[col(Override.status) == "pending"],
            values=dict(status=status, decided_by=user, decided_at=utcnow(), note=note.strip()),
            before={"status": "pending"},
            after={"status": status, "note": note.strip()},
            detail=audit_detail,
            relevel_why=f"approval of override {override_id}" if approve else None,
        )


def revoke(
    target: Engine | UnitOfWork,
    user: str,
    override_id: int,
    note: str,
    *,
    audit_detail: dict | None = None,
) -> OverrideView:
    """Revoke an approved override (spec v2 §3.7), with a note; needs the approver role, and not
    the override's requester. The partner is re-levelled in the same transaction, so its
    effective tiers lose the override at once. The command line and the app both call this."""
    with _changing(
        target,
        user,
        override_id,
        "revoking overrides",
        meanwhile=lambda latest: f"is already {latest.status} by {latest.revoked_by} at {latest.revoked_at}",
    ) as (uow, row):
        _revocable(user, row, note)
        return _change_decision(
            uow,
            user,
            row,
            action="override.revoke",
            expect=[col(Override.status) == "approved"],
            values=dict(status="revoked", revoked_by=user, revoked_at=utcnow(), revoke_note=note.strip()),
            facts={"approved_by": row.decided_by},
            before={"status": "approved"},
            after={"status": "revoked", "note": note.strip()},
            detail=audit_detail,
            relevel_why=f"revocation of override {override_id}",
        )


def undo(target: Engine | UnitOfWork, user: str, override_id: int) -> OverrideView:
    """Undo ``user``'s own decision on an override: it is pending again, audited, in one unit of work.

    Only the person who decided may undo, with the approver role, and only while nothing else has
    changed the override since (the update is conditional on the decision as read). Undoing an
    approval re-levels the partner in the same transaction, so its effective tiers return at once.
    """
    with _changing(
        target,
        user,
        override_id,
        "undoing override decisions",
        meanwhile=lambda latest: (
            f"changed since your decision (now {latest.status}"
            f"{' by ' + str(latest.decided_by) if latest.decided_by else ''}); not undone"
        ),
    ) as (uow, row):
        if row.status == "pending":
            raise ServiceError(f"override {override_id} is pending: there is no decision to undo")
        if row.decided_by != user:
            raise ServiceError(f"override {override_id} was {row.status} by {row.decided_by}; only they can undo it")
        return _change_decision(
            uow,
            user,
            row,
            action="override.undo",
            expect=[
                col(Override.status) == row.status,
                col(Override.decided_by) == user,
                col(Override.decided_at) == row.decided_at,
            ],
            values=dict(status="pending", decided_by=None, decided_at=None, note=""),
            before={"status": row.status, "note": row.note, "decided_by": row.decided_by},
            after={"status": "pending"},
            relevel_why=(f"undoing the approval of override {override_id}" if row.status == "approved" else None),
        )


@contextmanager
def _changing(
    target: Engine | UnitOfWork,
    user: str,
    override_id: int,
    doing: str,
    *,
    meanwhile: Callable[[OverrideView], str],
) -> Iterator[tuple[UnitOfWork, Override]]:
    """What a decision, a revocation and an undo start with: a unit of work (``target``'s, or one
    of its own that commits when the block ends), the approver role checked once (``doing`` names
    the work for a refusal), and the override as read in it. When the block's conditional update
    finds that another change landed since that read (:class:`_DecidedMeanwhile`: the transaction
    rolls back), a :class:`ServiceError` says what the override is now: "override N " +
    ``meanwhile(the override as read after the rollback)``."""
    try:
        with using(target) as uow:
            assert uow.session is not None
            roles.require(uow.session, user, "approver", doing)
            yield uow, _get(uow.session, override_id)
    except _DecidedMeanwhile:
        latest = get(engine_of(target), override_id)
        raise ServiceError(f"override {override_id} {meanwhile(latest)}") from None


def _change_decision(
    uow: UnitOfWork,
    user: str,
    row: Override,
    *,
    action: str,
    expect: list,
    values: dict,
    before: dict,
    after: dict,
    facts: dict | None = None,
    detail: dict | None = None,
    relevel_why: str | None = None,
) -> OverrideView:
    """The one write behind a decision, a revocation and an undo, inside ``uow``: the update of
    ``row`` guarded by ``expect`` (the state as read; another change landed meanwhile:
    :class:`_DecidedMeanwhile`, and the transaction rolls back), its audit entry, and (``relevel_why``)
    the partner's re-levelling, all in the same transaction. Returns the override as now stored."""
    assert uow.session is not None and row.id is not None
    session = uow.session
    override_id, partner_key, tier = row.id, row.partner_key, row.tier  # as read, before the update
    changed = session.exec(update(Override).where(col(Override.id) == override_id, *expect).values(**values)).rowcount
    if changed != 1:
        raise _DecidedMeanwhile  # leaves the transaction, which rolls back
    audit.record(
        session,
        user,
        action,
        "override",
        override_id,
        partner_id=session.get_one(Partner, partner_key).partner_id,
        tier=tier,
        **(facts or {}),
        before=before,
        after=after,
        **(detail or {}),
    )
    if relevel_why is not None:
        relevel(uow, user, keys=[partner_key], ancestors=False, why=relevel_why)
    session.flush()
    return _view(session, override_id)


class _DecidedMeanwhile(Exception):
    """The conditional update found the override no longer pending."""


def get(engine: Engine, override_id: int) -> OverrideView:
    views = _views(engine, Override.id == override_id)
    if not views:
        raise ServiceError(f"no override {override_id}")
    return views[0]


def list_overrides(engine: Engine, status: str | None = None, partner_id: str | None = None) -> list[OverrideView]:
    if status and status not in STATUSES:
        raise ServiceError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    clauses = []
    if status:
        clauses.append(Override.status == status)
    if partner_id:
        clauses.append(Partner.partner_id == partner_id)
    return _views(engine, *clauses)


def _view(session: Session, override_id: int) -> OverrideView:
    return _session_views(session, Override.id == override_id)[0]


def _views(engine: Engine, *clauses) -> list[OverrideView]:
    with Session(engine) as session:
        return _session_views(session, *clauses)


def _session_views(session: Session, *clauses) -> list[OverrideView]:
    rows = session.exec(
        select(Override, Partner.partner_id, Partner.name)
        .join(Partner, col(Partner.key) == Override.partner_key)
        .where(*clauses)
        .order_by(col(Override.id))
    ).all()
    return [
        OverrideView(
            o.id,
            pid,
            name,
            o.tier,
            o.reason,
            o.starts_on,
            o.expires_on,
            o.status,
            o.requested_by,
            o.requested_at,
            o.decided_by,
            o.decided_at,
            o.note,
            o.revoked_by,
            o.revoked_at,
            o.revoke_note or "",
        )
        for o, pid, name in rows
        if o.id is not None  # always, for a stored row: narrows the type
    ]


def _get(session: Session, override_id: int) -> Override:
    row = session.get(Override, override_id)
    if row is None:
        raise ServiceError(f"no override {override_id}")
    return row
