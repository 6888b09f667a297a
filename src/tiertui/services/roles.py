"""Who may do what: people and their roles, enforced here so the CLI and the app obey one rule.

Roles are ranked; each includes the ones before it:

* ``viewer``: reads partners, scorecards, exports, what-ifs and the audit log;
* ``manager``: also requests and edits overrides, runs levelling, saves scenarios;
* ``approver``: also approves and rejects overrides (never their own: the four-eyes rule);
* ``admin``: also loads programs, imports data, activates scenarios and manages people.

A database with no people yet: on SQLite the first person to use it becomes its admin (the
creator of a fresh file, or whoever first opens a file upgraded from before roles existed). A
PostgreSQL team database is set up explicitly: while it has no people, its first admin adds
themself with ``tiertui users add THEIR_NAME --role admin``; everything else is refused until then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from ..storage.tables import AppUser
from . import audit
from .errors import ServiceError
from .unit_of_work import UnitOfWork, using

ROLES = ("viewer", "manager", "approver", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}


class RoleRefused(ServiceError):
    """The acting person's role does not allow what they asked for."""


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    added_by: str
    added_at: datetime


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AppUser)).one()


def role_in(session: Session, user: str) -> str | None:
    """``user``'s role, or None; on a SQLite file with no people yet, ``user`` becomes its admin.

    The claim is added to ``session`` (with its audit entry) and commits with the caller's work.
    """
    row = session.get(AppUser, user)
    if row is not None:
        return row.role
    if _is_sqlite(session) and _count(session) == 0:
        session.add(AppUser(name=user, role="admin", added_by=user))
        audit.record(session, user, "user.add", "user", user, role="admin", why="first person to use this database")
        session.flush()
        return "admin"
    return None


def require(session: Session, user: str, role: str, doing: str) -> str:
    """Raise :class:`RoleRefused` unless ``user`` holds ``role`` or a higher one; return their role.

    ``doing`` names the work for the message, e.g. "approving overrides".
    """
    held = role_in(session, user)
    if held is not None and RANK[held] >= RANK[role]:
        return held
    if held is None:
        if _count(session) == 0:
            raise RoleRefused(
                "this team database has no users yet: its first admin runs "
                "`tiertui users add THEIR_NAME --role admin` as themself"
            )
        raise RoleRefused(
            f"{user} is not a user of this database; {doing} needs the {role} role "
            f"(an admin can add you: tiertui users add {user} --role {role})"
        )
    raise RoleRefused(
        f"{user} is {_a(held)}; {doing} needs the {role} role (an admin can grant it: tiertui users set {user} {role})"
    )


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def check(engine: Engine, user: str, role: str, doing: str) -> str:
    """:func:`require` in a transaction of its own (a first SQLite user's claim commits)."""
    with Session(engine) as session, session.begin():
        return require(session, user, role, doing)


def claim_new_database(session: Session, user: str, doing: str) -> None:
    """For work that makes a database (the demo): with no people yet, on any backend, ``user``
    becomes its admin; otherwise ``user`` must already be an admin."""
    if _count(session) == 0:
        session.add(AppUser(name=user, role="admin", added_by=user))
        audit.record(session, user, "user.add", "user", user, role="admin", why=doing)
        session.flush()
    else:
        require(session, user, "admin", doing)


def add_missing(session: Session, user: str, wanted: dict[str, str]) -> None:
    """Give each name in ``wanted`` its role unless it already has one (the demo's cast)."""
    for name, role in wanted.items():
        if session.get(AppUser, name) is None:
            session.add(AppUser(name=_valid_name(name), role=_valid_role(role), added_by=user))
            audit.record(session, user, "user.add", "user", name, role=role)
    session.flush()


def current_role(engine: Engine, user: str) -> str | None:
    """``user``'s role (claiming a SQLite database that has no people yet), or None."""
    with Session(engine) as session, session.begin():
        return role_in(session, user)


def people(engine: Engine) -> list[Person]:
    with Session(engine) as session:
        rows = session.exec(select(AppUser).order_by(AppUser.name)).all()
        return [Person(r.name, r.role, r.added_by, r.added_at) for r in rows]


def _valid_role(role: str) -> str:
    if role not in RANK:
        raise ServiceError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def _valid_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or any(ord(ch) < 32 for ch in cleaned) or len(cleaned) > 200:
        raise ServiceError(f"{name!r} is not a usable name: give a login or person name")
    return cleaned


@contextmanager
def _people_work(target: Engine | UnitOfWork) -> Iterator[Session]:
    """A transaction for changing people: on PostgreSQL it holds the people lock first, so two
    admins demoting each other at once run one after the other (SQLite's write lock does the same)
    and the second sees the first's change: never zero admins."""
    with using(target, results=False) as uow:
        uow.lock_people()
        assert uow.session is not None
        yield uow.session


def add(target: Engine | UnitOfWork, user: str, name: str, role: str) -> Person:
    """Add ``name`` with ``role``; admins only, except a team database's very first admin."""
    name, role = _valid_name(name), _valid_role(role)
    with _people_work(target) as session:
        if _count(session) == 0 and not _is_sqlite(session):
            if name != user or role != "admin":
                raise RoleRefused(
                    f"this team database has no users yet: its first admin adds themself "
                    f"(tiertui users add {user} --role admin --user {user})"
                )
        else:
            require(session, user, "admin", "adding people")
            if session.get(AppUser, name) is not None:
                raise ServiceError(f"{name} is already a user (to change their role: tiertui users set {name} ROLE)")
        row = AppUser(name=name, role=role, added_by=user)
        session.add(row)
        audit.record(session, user, "user.add", "user", name, role=role)
        session.flush()
        return Person(row.name, row.role, row.added_by, row.added_at)


def set_role(target: Engine | UnitOfWork, user: str, name: str, role: str) -> Person:
    """Give ``name`` a new role; admins only; the last admin cannot step down."""
    role = _valid_role(role)
    with _people_work(target) as session:
        require(session, user, "admin", "changing roles")
        row = session.get(AppUser, name)
        if row is None:
            raise ServiceError(f"{name} is not a user (add them: tiertui users add {name} --role {role})")
        before = row.role
        if before == "admin" and role != "admin":
            _keep_an_admin(session, name)
        row.role = role
        audit.record(session, user, "user.set_role", "user", name, before=before, after=role)
        session.flush()
        return Person(row.name, row.role, row.added_by, row.added_at)


def remove(target: Engine | UnitOfWork, user: str, name: str) -> None:
    """Take ``name`` off the database's people; admins only; never the last admin."""
    with _people_work(target) as session:
        require(session, user, "admin", "removing people")
        row = session.get(AppUser, name)
        if row is None:
            raise ServiceError(f"{name} is not a user")
        if row.role == "admin":
            _keep_an_admin(session, name)
        audit.record(session, user, "user.remove", "user", name, before=row.role)
        session.delete(row)


def _keep_an_admin(session: Session, leaving: str) -> None:
    others = session.exec(
        select(func.count()).select_from(AppUser).where(AppUser.role == "admin", AppUser.name != leaving)
    ).one()
    if others == 0:
        raise ServiceError(f"{leaving} is the last admin: make someone else admin first")
