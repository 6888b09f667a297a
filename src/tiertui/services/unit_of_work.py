"""One transaction per user action (issue #10), in the style of cosmicpython's ``unit_of_work.py``.

A :class:`UnitOfWork` owns one SQLModel :class:`Session` and its transaction: it commits when the
``with`` block ends normally and rolls back when it raises. Services take the unit of work, so
one action (an import, a program load, an override decision, an offline sync) composes several
services (the write, its audit entry, the re-levelling it implies) in one transaction:

    with UnitOfWork(engine) as uow:
        report = imports.import_file(uow, "metrics", path, user)

Serialising the writers that can change the stored results:

* SQLite: a writing unit of work starts with ``BEGIN IMMEDIATE``, so it holds the database's one
  write lock from its first statement: writers run one after another, and nothing reads a state
  that a write committed in between would invalidate.
* PostgreSQL: a unit of work that can change results (``results=True``, the default) takes the
  results advisory lock (:func:`storage.queries.lock_results`) before its first read, the same
  lock a levelling run takes; the lock is released when the transaction ends.

Service entry points also accept an :class:`Engine` (the command line and the app call them
that way): :func:`using` then opens a unit of work of their own for the call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from ..storage import queries


class UnitOfWork:
    """A context manager owning one session and transaction (see the module's docstring).

    ``write``: on SQLite, start with ``BEGIN IMMEDIATE`` (else a deferred, read-only start).
    ``results``: the work can change stored results: on PostgreSQL take the results lock first.
    """

    def __init__(self, engine: Engine, *, write: bool = True, results: bool = True) -> None:
        self.engine = engine
        self.write = write
        self.results = results
        self.session: Session | None = None
        self._locked = False
        self.committed = False

    # ------------------------------------------------------------------ the context manager

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False)
        self.session.begin()
        conn = self.session.connection()
        if conn.dialect.name == "sqlite" and self.write:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        if self.results:
            self.lock_results()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.session is not None
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.session.close()

    # ------------------------------------------------------------------ what services use

    @property
    def connection(self) -> Connection:
        assert self.session is not None, "the unit of work is not open"
        return self.session.connection()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def lock_results(self) -> None:
        """Hold the results lock for the rest of this transaction (PostgreSQL; once is enough)."""
        if not self._locked:
            queries.lock_results(self.connection)
            self._locked = True
        self.results = True

    def lock_people(self) -> None:
        """Serialise changes to people and roles (PostgreSQL; SQLite's write lock already does)."""
        queries.lock_people(self.connection)

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()
        self.committed = True

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()


@contextmanager
def using(target: Engine | UnitOfWork, *, write: bool = True, results: bool = True) -> Iterator[UnitOfWork]:
    """``target`` itself when it is a unit of work (the caller commits), else a new one for the call.

    Joining a unit of work that was opened without the results lock takes it now when
    ``results`` is asked for.
    """
    if isinstance(target, UnitOfWork):
        if results and target.session is not None:
            target.lock_results()
        yield target
        return
    with UnitOfWork(target, write=write, results=results) as uow:
        yield uow


def engine_of(target: Engine | UnitOfWork) -> Engine:
    return target.engine if isinstance(target, UnitOfWork) else target
