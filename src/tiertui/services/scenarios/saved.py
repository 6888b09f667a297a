"""Saved scenarios: named scenario files kept in the database (save, list, open, export, delete)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...scoring import Program, suggest
from ...storage.tables import ProgramVersion, Scenario, utcnow
from .. import audit, roles
from ..errors import ServiceError
from ..programs import active_version
from .knobs import parse_scenario


@dataclass(frozen=True)
class SavedScenario:
    id: int
    name: str
    content: str
    base_program_id: int | None
    base_version: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def program(self) -> Program:
        return parse_scenario(self.content, self.name)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("a scenario needs a name")
    return name


def _saved(session: Session, row: Scenario) -> SavedScenario:
    version = session.get(ProgramVersion, row.base_program_id) if row.base_program_id is not None else None
    assert row.id is not None  # a stored row (flushed or read back)
    return SavedScenario(
        row.id,
        row.name,
        row.content,
        row.base_program_id,
        version.version if version else None,
        row.created_by,
        row.created_at,
        row.updated_at,
    )


def save_scenario(engine: Engine, user: str, name: str, text: str) -> SavedScenario:
    """Keep ``text`` under ``name`` (replacing a scenario of that name), based on the active version."""
    name = _clean_name(name)
    program = parse_scenario(text, name)
    version = active_version(engine)
    with Session(engine) as session, session.begin():
        roles.require(session, user, "manager", "saving scenarios")
        row = session.exec(select(Scenario).where(Scenario.name == name)).first()
        created = row is None
        if row is None:
            row = Scenario(name=name, content=text, created_by=user)
            session.add(row)
        row.content = text
        row.updated_at = utcnow()
        row.base_program_id = version.id if version is not None else None
        session.flush()
        audit.record(
            session,
            user,
            "scenario.save",
            "scenario",
            row.id,
            name=name,
            created=created,
            program=program.name,
            base_version=version.version if version else None,
        )
        return _saved(session, row)


def list_scenarios(engine: Engine) -> list[SavedScenario]:
    with Session(engine) as session:
        return [_saved(session, r) for r in session.exec(select(Scenario).order_by(Scenario.name))]


def open_scenario(engine: Engine, name: str) -> SavedScenario:
    with Session(engine) as session:
        return find_saved(session, name)


def find_saved(session: Session, name: str) -> SavedScenario:
    """The scenario named ``name``, read in ``session``; a clear error (with a suggestion) when none is."""
    row = session.exec(select(Scenario).where(Scenario.name == name)).first()
    if row is None:
        names = [r.name for r in session.exec(select(Scenario))]
        raise ServiceError(f"no scenario named {name!r}" + suggest(name, names))
    return _saved(session, row)


def export_scenario(engine: Engine, name: str, path: str | Path) -> Path:
    """Write the scenario's program file to ``path`` ("-": standard output)."""
    saved = open_scenario(engine, name)
    if str(path) == "-":
        sys.stdout.write(saved.content)
        return Path("-")
    path = Path(path)
    try:
        path.write_text(saved.content, encoding="utf-8")
    except OSError as exc:
        raise ServiceError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def delete_scenario(engine: Engine, user: str, name: str) -> None:
    saved = open_scenario(engine, name)
    with Session(engine) as session, session.begin():
        roles.require(session, user, "manager", "deleting scenarios")
        row = session.get(Scenario, saved.id)
        session.delete(row)
        audit.record(session, user, "scenario.delete", "scenario", saved.id, name=name)
