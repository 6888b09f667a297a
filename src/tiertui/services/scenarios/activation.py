"""Activation: a saved scenario becomes the active program, as a new program version, in one transaction.

:func:`activate_in` does all of it inside a caller's open transaction (the role check, the new
program version, its ``program.activate`` audit entry and the ``scenario.activate`` entry), so
that it commits together or not at all; :func:`activate_scenario` is the entry point that opens
that transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ...storage.tables import ProgramVersion
from .. import audit, roles
from ..programs import store_program
from ..unit_of_work import UnitOfWork, using
from .saved import find_saved


def activate_in(uow: UnitOfWork, user: str, name: str) -> ProgramVersion:
    """Make scenario ``name`` the active program inside ``uow``'s open transaction (admins).

    As with ``tiertui program load``, every partner is re-levelled with it in the same transaction.
    """
    session = uow.session
    assert session is not None
    roles.require(session, user, "admin", "activating scenarios")
    saved = find_saved(session, name)
    version = store_program(uow, saved.program, user, f"scenario {name}")
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


def activate_scenario(target: Engine | UnitOfWork, user: str, name: str) -> ProgramVersion:
    """Make the scenario the active program: a new program version (earlier versions stay).

    One transaction: the version, the re-levelled results and both audit entries commit together
    or not at all.
    """
    with using(target) as uow:
        return activate_in(uow, user, name)
