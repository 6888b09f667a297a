"""Put a small, known data set into a database through the storage layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from scoring_builder import BASE_PROGRAM
from sqlalchemy import MetaData
from sqlmodel import Session

from tiertui.scoring import parse_program
from tiertui.services import programs, roles
from tiertui.storage import schema
from tiertui.storage.tables import Certification, MetricValue, Partner

PROGRAM = BASE_PROGRAM.format(frequency="quarterly", grace=1, margin=0.1)

# The people of the test databases made by the ``engine`` and ``any_engine`` fixtures, and their
# roles (services.roles). Tests of roles themselves start from databases with nobody in them.
TEAM = {
    "admin": "admin",
    "setup": "admin",
    "ann": "admin",
    "ana": "admin",
    "bo": "admin",
    "tester": "admin",
    "carol": "admin",
    "dave": "admin",
    "loose": "manager",
    "mia": "manager",
    "mo": "manager",
    "alice": "approver",
    "bob": "approver",
    "cy": "approver",
    "eve": "approver",
    "viv": "viewer",
}


def seat_team(engine, team: dict[str, str] = TEAM) -> None:
    """Give the test cast their roles in ``engine``'s database (no role check: this is setup)."""
    with Session(engine) as session, session.begin():
        roles.add_missing(session, "setup", team)


def seed(engine, partners=None, metrics=None, certs=()):
    """Load the base program and the given rows.

    partners: (partner_id, name, region, type, parent_id, tier); metrics: (partner_id, period, metric, value);
    certs: (partner_id, person, track, earned_on, expires_on).
    """
    programs.store_program(engine, parse_program(PROGRAM, "base.toml"), "admin", "base.toml")
    partners = partners or [
        ("A1", "Acme", "EMEA", "VAR", None, "Gold"),
        ("B2", "Bluepeak", "LATAM", "VAR", None, None),
        ("C3", "Cirrus", "EMEA", "MSP", "A1", None),
    ]
    metrics = metrics or [
        ("A1", "2026-Q1", "revenue", 400),
        ("C3", "2026-Q1", "revenue", 200),  # A1 group: 600
        ("A1", "2026-Q2", "revenue", 100),
        ("C3", "2026-Q2", "revenue", 100),  # A1 group: 200
        ("B2", "2026-Q1", "revenue", 300),
        ("B2", "2026-Q2", "revenue", 300),
    ]
    with Session(engine) as session, session.begin():
        keys = {}
        for pid, name, region, ptype, parent, tier in partners:
            row = Partner(partner_id=pid, name=name, region=region, partner_type=ptype, parent_id=parent, tier=tier)
            session.add(row)
            session.flush()
            keys[pid] = row.key
        for pid, period, metric, value in metrics:
            session.add(MetricValue(partner_key=keys[pid], period=period, metric=metric, value=value))
        for i, (pid, person, track, earned, expires) in enumerate(certs):
            session.add(
                Certification(
                    partner_key=keys[pid],
                    person=person,
                    certification=f"C{i}",
                    track=track,
                    earned_on=earned,
                    expires_on=expires,
                )
            )
    return keys


FOUR_UC = [("A1", f"p{i}", "uc", date(2020, 1, 1), None) for i in range(4)]


@contextmanager
def postgres_database(base: str, prefix: str = "tiertui", template: str | None = None) -> Iterator[tuple[str, str]]:
    """A new, uniquely named database on the PostgreSQL server of ``base`` (a copy of ``template``
    if given): ``(url, name)``; dropped afterwards, even with connections still open."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False), name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_revision(path) -> str:
    """The schema revision (Alembic's) recorded in the SQLite file at ``path``, read with sqlite3."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


@contextmanager
def postgres_logins(url: str, *people: str) -> Iterator[dict[str, str]]:
    """A PostgreSQL login for each of ``people`` (unique names), members of a group role that may
    read and write tiertui's tables in ``url``'s database, as the README tells a team to set up.

    Yields ``{person: their connection URL}``; ``url``'s login must be a superuser. The logins and
    the group are dropped afterwards (their privileges in ``url``'s database first).
    """
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    tag = uuid.uuid4().hex[:8]
    group = f"tiertui_team_{tag}"
    logins = {person: f"{person}_{tag}" for person in people}
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {group} NOLOGIN"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {group}"))
            conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {group}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {group}"))
            for login in logins.values():
                conn.execute(text(f"CREATE ROLE {login} LOGIN IN ROLE {group}"))
        base = make_url(url)
        yield {
            person: base.set(username=login, password=None).render_as_string(hide_password=False)
            for person, login in logins.items()
        }
    finally:
        with admin.connect() as conn:
            for role in (*logins.values(), group):
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def back_to_the_first_revision(engine) -> None:
    """Empty the database (every table it has, whatever revision made it), then build revision 0001 only."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    schema._migrate(engine, "0001")
