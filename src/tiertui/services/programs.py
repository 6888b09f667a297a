"""Program files: load, validate, keep every version, activate one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..scoring import Program, ProgramError, parse_program, program_hash
from ..storage.tables import ProgramVersion
from . import audit, roles
from .errors import ServiceError


def read_program_file(path: str | Path) -> Program:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ServiceError(f"{path} is not a UTF-8 text file") from None
    try:
        return parse_program(text, path.name)
    except ProgramError as exc:
        raise ServiceError(str(exc)) from None


def store_program(engine: Engine, program: Program, user: str, source_name: str = "") -> ProgramVersion:
    """Keep ``program`` as a version (reusing an identical earlier one) and make it active (admins)."""
    with Session(engine) as session, session.begin():
        version = store_program_in(session, program, user, source_name)
        session.expunge(version)
    return version


def store_program_in(session: Session, program: Program, user: str, source_name: str = "") -> ProgramVersion:
    """:func:`store_program` inside the caller's open transaction; the version stays in ``session``."""
    digest = program_hash(program.source)
    roles.require(session, user, "admin", "loading programs")
    existing = session.exec(select(ProgramVersion).where(ProgramVersion.content_hash == digest)).first()
    session.exec(update(ProgramVersion).values(active=False))
    if existing is None:
        number = session.exec(select(func.max(ProgramVersion.version))).one() or 0
        existing = ProgramVersion(
            name=program.name,
            version=number + 1,
            content=program.source,
            content_hash=digest,
            source_name=source_name,
            loaded_by=user,
        )
        session.add(existing)
    existing.active = True
    session.flush()
    audit.record(
        session,
        user,
        "program.activate",
        "program",
        existing.id,
        name=program.name,
        version=existing.version,
        hash=digest,
        source=source_name,
    )
    return existing


def load_program_file(engine: Engine, path: str | Path, user: str) -> ProgramVersion:
    return store_program(engine, read_program_file(path), user, Path(path).name)


def active_version(engine: Engine) -> ProgramVersion | None:
    with Session(engine) as session:
        row = session.exec(select(ProgramVersion).where(ProgramVersion.active == True)).first()  # noqa: E712
        if row is not None:
            session.expunge(row)
        return row


def active_program(engine: Engine) -> Program:
    """The active program, parsed; a clear error when none is loaded."""
    row = active_version(engine)
    if row is None:
        raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
    return parse_program(row.content, row.source_name or row.name)


def program_versions(engine: Engine) -> list[ProgramVersion]:
    with Session(engine) as session:
        rows = list(session.exec(select(ProgramVersion).order_by(ProgramVersion.version)))
        for r in rows:
            session.expunge(r)
        return rows
