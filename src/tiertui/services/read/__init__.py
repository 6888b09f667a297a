"""The read side: what the app's screens show, from one contract with two implementations.

:class:`Reader` is the contract the app reads its first screens through (the dashboard, the
partner list and its filters). Two implementations give the same values (tests/app/
test_readers_agree.py and tests/services/test_fastread.py compare them):

- :class:`~.fast.FastReader` (:mod:`.fast`): a SQLite file at this tiertui's schema revision, read
  with the standard :mod:`sqlite3` module, so nothing heavy (SQLAlchemy, SQLModel, numpy) loads
  before the first frame;
- :class:`~.engine.EngineReader` (:mod:`.engine`): any database, through the engine.

Both run the statements and row builders of :mod:`.sql` (one ``levelled_periods``, one cache of
parsed programs). :mod:`.engine` also holds the reads only the engine path serves (scorecards,
certifications, lapse risk, the palette's partner search).

Importing this package loads only the standard library (``.sql`` and ``.fast``): it is on the
app's start-up path. :func:`open_reader` imports :mod:`.engine` only when the fast path cannot read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from .fast import FastReader, sqlite_file
from .sql import (
    CertificationQuery,
    Dashboard,
    FilterChoices,
    PartnerQuery,
    PartnerRow,
    ProgramHeading,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ...scoring import Program

__all__ = [
    "CertificationQuery",
    "Dashboard",
    "FastReader",
    "FilterChoices",
    "PartnerQuery",
    "PartnerRow",
    "ProgramHeading",
    "Reader",
    "open_reader",
    "sqlite_file",
]


class Reader(Protocol):
    """What the app's first screens read; every method may be called from any thread."""

    def levelled_periods(self) -> list[str]:
        """Every levelled period, oldest first."""
        ...

    def latest_period(self) -> str | None: ...

    def program(self) -> Program | None:
        """The active program, parsed (once per version); None when none is loaded."""
        ...

    def program_heading(self) -> ProgramHeading | None:
        """The active program's name and tiers (cheaper than the whole program)."""
        ...

    def partner_keys(self, q: PartnerQuery, tiers: Sequence[str] = (), limit: int | None = None) -> list[int]:
        """The keys of the partners matching ``q`` in its order; ``tiers``, lowest first, order a sort by tier."""
        ...

    def partner_key_chunks(self, q: PartnerQuery, tiers: Sequence[str] = (), first: int = 100) -> Iterator[list[int]]:
        """:meth:`partner_keys` in helpings, the first ``first`` keys first (when the reader can)."""
        ...

    def first_partner_keys(self, q: PartnerQuery, limit: int, within: float) -> tuple[str | None, list[int]] | None:
        """The latest period and the first ``limit`` keys of ``q`` if the database gives them within
        ``within`` seconds; None otherwise (then a worker reads them)."""
        ...

    def partner_rows(self, keys: Sequence[int], period: str | None) -> list[PartnerRow]:
        """The rows of ``keys``, in that order, with their results for ``period``."""
        ...

    def partner_search_texts(self) -> dict[int, str]:
        """Every partner's search text (id and name, casefolded), by key."""
        ...

    def partner_find_texts(self) -> dict[int, str]:
        """Every partner's find-a-partner text (:func:`.sql.find_text`: id, name, region, manager), by key."""
        ...

    def filter_choices(self, *, tracks: bool = True) -> FilterChoices: ...

    def dashboard(self, today: date) -> Dashboard: ...

    def close(self) -> None: ...


def open_reader(url: str | None, engine: Callable[[], Engine]) -> tuple[Reader, bool]:
    """The reader for ``url`` and whether it is the fast one: a :class:`FastReader` on a SQLite file
    at this tiertui's schema revision, else an :class:`~.engine.EngineReader` over ``engine()``."""
    fast = FastReader.open(url)
    if fast is not None:
        return fast, True
    from .engine import EngineReader

    return EngineReader(engine), False
