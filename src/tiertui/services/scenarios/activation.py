"""Activation: a saved scenario becomes the active program, as a new program version, in one transaction.

:func:`activate_in` does all of it inside a caller's open transaction (the role check, the new
program version, its ``program.activate`` audit entry and the ``scenario.activate`` entry), so
that it commits together or not at all; :func:`activate_scenario` is the entry point that opens
that transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ...storage.tables import ProgramVersion
from .. import audit, roles
from ..programs import store_program_in
from .saved import find_saved


def activate_in(session: Session, user: str, name: str) -> ProgramVersion:
    """Make scenario ``name`` the active program inside ``session``'s open transaction (admins).

    The version returned stays in ``session``. Results are not re-levelled here, as with
    ``tiertui program load``: run levelling next.
    """
    roles.require(session, user, "admin", "activating scenarios")
    saved = find_saved(session, name)
    version = store_program_in(session, saved.program, user, f"scenario {name}")
    audit.record(
        session,
        user,
        "scenario.activate",
        "scenario",
        saved.id,
        name=name,
        program_version=version.version,
        program_id=version.id,
    )
    return version


def activate_scenario(engine: Engine, user: str, name: str) -> ProgramVersion:
    """Make the scenario the active program: a new program version (earlier versions stay).

    One transaction: the version and both audit entries commit together or not at all.
    """
    with Session(engine) as session, session.begin():
        version = activate_in(session, user, name)
        session.flush()
        session.expunge(version)
    return version
