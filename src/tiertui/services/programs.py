"""Program files: load, validate, keep every version, activate one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..scoring import Program, ProgramError, parse_program, program_hash
from ..storage.tables import ProgramVersion
from . import audit, roles, staleness, timeline
from .errors import ServiceError
from .unit_of_work import UnitOfWork, using


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


def store_program(
    target: Engine | UnitOfWork, program: Program, user: str, source_name: str = "", *, level: bool = True
) -> ProgramVersion:
    """Keep ``program`` as a version (reusing an identical earlier one) and put it in force (admins).

    (v2 §3.11) Without ``effective_from`` it becomes the only version in force; dated D, the
    versions in force before D stay and those dated on or after D leave the timeline. The last
    version of the timeline is the active one. A version whose map leaves a tier that partners hold
    at the change unmapped is refused (``timeline.plan_load``). In the same transaction every
    partner is re-levelled (once the database has been levelled at all); ``level=False`` marks the
    results stale instead.
    """
    return store_version(target, program, user, source_name, level=level)[0]


def store_version(
    target: Engine | UnitOfWork, program: Program, user: str, source_name: str = "", *, level: bool = True
) -> tuple[ProgramVersion, timeline.LoadPlan]:
    """:func:`store_program`, and what the load did (:class:`timeline.LoadPlan`, for the CLI)."""
    from .relevel import relevel  # relevel reads the active program through this module

    digest = program_hash(program.source)
    with using(target) as uow:
        assert uow.session is not None
        session = uow.session
        roles.require(session, user, "admin", "loading programs")
        plan = timeline.plan_load(session, program)
        rows = timeline.in_force(session)
        kept = {id(timeline.parsed(r)): r for r in rows}
        existing = session.exec(select(ProgramVersion).where(ProgramVersion.content_hash == digest)).first()
        session.exec(update(ProgramVersion).values(active=False, in_force=False))
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
        existing.effective_from = program.effective_from
        in_force = [existing if p is program else kept[id(p)] for p in plan.timeline]
        for row in in_force:
            row.in_force = True
        in_force[-1].active = True
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
            effective_from=program.effective_from.isoformat() if program.effective_from else None,
            in_force=[r.version for r in in_force],
        )
        if level:
            relevel(uow, user, full=True, why=f"program {program.name!r} v{existing.version} activated")
        else:
            staleness.mark_stale(session, f"program {program.name!r} v{existing.version} activated, not re-levelled")
        session.flush()
        session.expunge(existing)
    return existing, plan


def load_program_file(target: Engine | UnitOfWork, path: str | Path, user: str) -> ProgramVersion:
    return store_program(target, read_program_file(path), user, Path(path).name)


def load_version_file(
    target: Engine | UnitOfWork, path: str | Path, user: str
) -> tuple[ProgramVersion, timeline.LoadPlan]:
    """``tiertui program load``: the version kept, and what loading it did."""
    return store_version(target, read_program_file(path), user, Path(path).name)


def active_version(source: Engine | Session) -> ProgramVersion | None:
    """The active program version (read in ``source``'s transaction when it is a session)."""
    if isinstance(source, Session):
        return source.exec(select(ProgramVersion).where(ProgramVersion.active == True)).first()  # noqa: E712
    with Session(source) as session:
        row = session.exec(select(ProgramVersion).where(ProgramVersion.active == True)).first()  # noqa: E712
        if row is not None:
            session.expunge(row)
        return row


def active_program(source: Engine | Session) -> Program:
    """The active program, parsed; a clear error when none is loaded."""
    row = active_version(source)
    if row is None:
        raise ServiceError("no program is loaded: run `tiertui program load FILE.toml` first")
    return parse_program(row.content, row.source_name or row.name)


def program_versions(engine: Engine) -> list[ProgramVersion]:
    with Session(engine) as session:
        rows = list(session.exec(select(ProgramVersion).order_by(col(ProgramVersion.version))))
        for r in rows:
            session.expunge(r)
        return rows
