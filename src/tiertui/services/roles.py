"""Who may do what: people and their roles, enforced here so the CLI and the app obey one rule.

Roles are ranked; each includes the ones before it:

* ``viewer``: reads partners, scorecards, exports, what-ifs and the audit log;
* ``manager``: also requests and edits overrides, runs levelling, saves scenarios;
* ``approver``: also approves and rejects overrides (never their own: the four-eyes rule);
* ``admin``: also loads programs, imports data, activates scenarios and manages people.

Who is acting:

* SQLite: the name given (``--user``, ``TIERTUI_USER``, else the login name of the computer). Whoever
  can open the file can write it, so the file's permissions decide who may use it.
* PostgreSQL: the database login (``current_user``), mapped to a person by their ``login``
  (:func:`acting_person`). A name given may only be that same person; every role check
  (:func:`require`) refuses to act for anyone else. A superuser login is the exception: it can
  change any row directly, so tiertui cannot hold it to one person; it may act under any name
  (use it to set the database up, not for daily work).

A database with no people yet: on SQLite the first person to use it becomes its admin (the
creator of a fresh file, or whoever first opens a file upgraded from before roles existed). A
PostgreSQL team database is set up explicitly: while it has no people, its first admin adds
themself with ``tiertui users add THEIR_NAME --role admin``, connected as their own login (the
first person's login must be the connecting one); everything else is refused until then.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
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


class NotThisLogin(RoleRefused):
    """On PostgreSQL: the name given is not the person of the connecting login."""


# A PostgreSQL role name that needs no quoting (what a person's login defaults to: their name).
_PLAIN_LOGIN = re.compile(r"[a-z_][a-z0-9_$]{0,62}")


def valid_login(name: str) -> bool:
    """Whether ``name`` can be a PostgreSQL login as it is (lower case, no spaces, 63 characters)."""
    return _PLAIN_LOGIN.fullmatch(name) is not None


def q(text_: str) -> str:
    """``text_`` quoted for a shell, so that a suggested command can be pasted as it is."""
    return shlex.quote(text_)


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    added_by: str
    added_at: datetime
    login: str | None = None


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AppUser)).one()


# ------------------------------------------------------------------ who is acting (PostgreSQL)


@dataclass(frozen=True)
class Login:
    name: str  # current_user
    superuser: bool


def connected_login(session: Session) -> Login | None:
    """The database login of ``session`` (PostgreSQL), or None (SQLite: no logins)."""
    if _is_sqlite(session):
        return None
    cached = session.info.get("tiertui_login")
    if cached is None:
        name, superuser = session.execute(
            text("SELECT current_user, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)")
        ).one()
        cached = session.info["tiertui_login"] = Login(str(name), bool(superuser))
    return cached


def _person_of_login(session: Session, login: str) -> AppUser | None:
    return session.exec(select(AppUser).where(AppUser.login == login)).first()


def acting_person(engine: Engine, claimed: str | None, default: str) -> str:
    """Who is acting: on SQLite ``claimed`` (``--user``/``TIERTUI_USER``) or ``default``; on
    PostgreSQL the person whose login is the connecting one, ``claimed`` being refused (with
    :class:`NotThisLogin`) when it names anyone else."""
    with Session(engine) as session:
        login = connected_login(session)
        if login is None:
            return claimed or default
        person = _person_of_login(session, login.name)
        if person is None:  # not mapped (yet): the name given, or the login; role checks say what is missing
            return claimed or login.name
        if claimed in (None, "", person.name, login.name) or login.superuser:
            return claimed if login.superuser and claimed else person.name
        raise NotThisLogin(_not_this_login(login.name, person.name, claimed))


def _not_this_login(login: str, person: str, claimed: str) -> str:
    return (
        f"you are connected to this team database as the login {login}, which is {person}: you may act only "
        f"as {person}, not as {claimed} (on a team database each person connects with their own login; "
        f"drop --user and {_ENV_USER}, or connect with {claimed}'s own login)"
    )


_ENV_USER = "TIERTUI_USER"


def _check_identity(session: Session, user: str) -> None:
    """On PostgreSQL: refuse unless ``user`` is the person of the connecting login (see the module)."""
    login = connected_login(session)
    if login is None or login.superuser or user in session.info.get("tiertui_vouched", ()):
        return
    person = _person_of_login(session, login.name)
    if person is not None:
        if person.name != user:
            raise NotThisLogin(_not_this_login(login.name, person.name, user))
        return
    if _count(session) == 0:
        return  # the "no users yet" message says what to do
    named = session.get(AppUser, user)
    if named is not None:
        raise NotThisLogin(
            f"{user} connects with the login {named.login or '(none set)'}, not {login.name}: "
            f"on a team database each person acts only through their own login"
        )
    raise RoleRefused(
        f"the login {login.name} is not a user of this database "
        f"({_who_can(session, 'add you')}: "
        f"tiertui users add {q(user)} --role viewer --login {q(login.name)})"
    )


def vouch(session: Session, person: str) -> None:
    """Let ``session`` check ``person``'s roles although they are not the connecting login: an
    offline sync replays its holder's work (checked against the copy's record of its holder)."""
    session.info.setdefault("tiertui_vouched", set()).add(person)


def admins(session: Session) -> list[str]:
    return list(session.exec(select(AppUser.name).where(AppUser.role == "admin").order_by(AppUser.name)).all())


def _who_can(session: Session, verb: str) -> str:
    """Who can do it: one admin by name, a few admins by name, or "an admin"."""
    names = admins(session)
    if not names:
        return f"an admin can {verb}"
    if len(names) > 5:
        return f"{', '.join(names[:5])} or {len(names) - 5} more, the admins, can {verb}"
    if len(names) == 1:
        return f"{names[0]}, the admin, can {verb}"
    return f"{', '.join(names[:-1])} or {names[-1]}, the admins, can {verb}"


def role_in(session: Session, user: str) -> str | None:
    """``user``'s role, or None; on a SQLite file with no people yet, ``user`` becomes its admin.

    The claim is added to ``session`` (with its audit entry) and commits with the caller's work.
    """
    row = session.get(AppUser, user)
    if row is not None:
        return row.role
    if _is_sqlite(session) and _count(session) == 0:
        session.add(AppUser(name=user, role="admin", added_by=user, login=user if valid_login(user) else None))
        audit.record(session, user, "user.add", "user", user, role="admin", why="first person to use this database")
        session.flush()
        return "admin"
    return None


def require(session: Session, user: str, role: str, doing: str) -> str:
    """Raise :class:`RoleRefused` unless ``user`` holds ``role`` or a higher one; return their role.

    ``doing`` names the work for the message, e.g. "approving overrides".
    """
    _check_identity(session, user)
    held = role_in(session, user)
    if held is not None and RANK[held] >= RANK[role]:
        return held
    if held is None:
        if _count(session) == 0:
            login = connected_login(session)
            raise RoleRefused(
                "this team database has no users yet: its first admin runs "
                f"`tiertui users add THEIR_NAME --role admin --login {q(login.name) if login else 'THEIR_LOGIN'}`, "
                "connected as their own login"
            )
        raise RoleRefused(
            f"{user} is not a user of this database; {doing} needs the {role} role "
            f"({_who_can(session, 'add you')}: tiertui users add {q(user)} --role {role})"
        )
    raise RoleRefused(
        f"{user} is {_a(held)}; {doing} needs the {role} role "
        f"({_who_can(session, 'grant it')}: tiertui users set {q(user)} {role})"
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
        connected = connected_login(session)
        login = connected.name if connected is not None else (user if valid_login(user) else None)
        session.add(AppUser(name=user, role="admin", added_by=user, login=login))
        audit.record(session, user, "user.add", "user", user, role="admin", why=doing)
        session.flush()
    else:
        require(session, user, "admin", doing)


def add_missing(session: Session, user: str, wanted: dict[str, str]) -> None:
    """Give each name in ``wanted`` its role unless it already has one (the demo's cast)."""
    for name, role in wanted.items():
        if session.get(AppUser, name) is None:
            login = name if valid_login(name) else None
            session.add(AppUser(name=_valid_name(name), role=_valid_role(role), added_by=user, login=login))
            audit.record(session, user, "user.add", "user", name, role=role)
    session.flush()


def current_role(engine: Engine, user: str) -> str | None:
    """``user``'s role (claiming a SQLite database that has no people yet), or None."""
    with Session(engine) as session, session.begin():
        return role_in(session, user)


def people(engine: Engine) -> list[Person]:
    with Session(engine) as session:
        rows = session.exec(select(AppUser).order_by(AppUser.name)).all()
        return [Person(r.name, r.role, r.added_by, r.added_at, r.login) for r in rows]


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


def add(target: Engine | UnitOfWork, user: str, name: str, role: str, login: str | None = None) -> Person:
    """Add ``name`` with ``role``; admins only, except a team database's very first admin.

    ``login``: their database login; by default ``name`` when that is a plain PostgreSQL role name
    (on PostgreSQL another name needs one). A team database's first person must be the connecting
    login itself, as an admin.
    """
    name, role = _valid_name(name), _valid_role(role)
    with _people_work(target) as session:
        connected = connected_login(session)
        if login is not None:
            login = _valid_name(login)
        elif valid_login(name):
            login = name
        elif connected is not None:
            raise ServiceError(
                f"{name} is not a PostgreSQL login name: give theirs "
                f"(tiertui users add {q(name)} --role {role} --login THEIR_LOGIN)"
            )
        if _count(session) == 0 and connected is not None:
            # the first person is the connecting login itself (a superuser, who could write the row
            # anyway, may seat the first admin under their own name and login)
            themself = name == user if connected.superuser else login == connected.name
            if role != "admin" or not themself:
                raise RoleRefused(
                    f"this team database has no users yet: its first admin adds themself, connected as their own "
                    f"login (you are connected as {connected.name}: "
                    f"tiertui users add {q(user)} --role admin --login {q(connected.name)})"
                )
        else:
            require(session, user, "admin", "adding people")
            if session.get(AppUser, name) is not None:
                raise ServiceError(f"{name} is already a user (to change their role: tiertui users set {q(name)} ROLE)")
        if login is not None:
            holder = session.exec(select(AppUser).where(AppUser.login == login)).first()
            if holder is not None:
                raise ServiceError(f"the login {login} is already {holder.name}'s: each person has their own login")
        if _count(session) == 0:
            user = name  # the first admin adds themself
        row = AppUser(name=name, role=role, added_by=user, login=login)
        session.add(row)
        audit.record(session, user, "user.add", "user", name, role=role, **({"login": login} if login else {}))
        session.flush()
        return Person(row.name, row.role, row.added_by, row.added_at, row.login)


def set_role(target: Engine | UnitOfWork, user: str, name: str, role: str, login: str | None = None) -> Person:
    """Give ``name`` a new role (and, with ``login``, a new database login); admins only; the last
    admin cannot step down."""
    role = _valid_role(role)
    with _people_work(target) as session:
        require(session, user, "admin", "changing roles")
        row = session.get(AppUser, name)
        if row is None:
            raise ServiceError(f"{name} is not a user (add them: tiertui users add {q(name)} --role {role})")
        before = row.role
        if before == "admin" and role != "admin":
            _keep_an_admin(session, name)
        row.role = role
        changes: dict[str, str | None] = {}
        if login is not None and _valid_name(login) != row.login:
            holder = _person_of_login(session, login.strip())
            if holder is not None:
                raise ServiceError(
                    f"the login {login.strip()} is already {holder.name}'s: each person has their own login"
                )
            changes = {"login_before": row.login, "login": login.strip()}
            row.login = login.strip()
        audit.record(session, user, "user.set_role", "user", name, before=before, after=role, **changes)
        session.flush()
        return Person(row.name, row.role, row.added_by, row.added_at, row.login)


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
