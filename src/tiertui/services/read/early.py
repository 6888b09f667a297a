"""The dashboard's figures, read while the app's modules are still importing.

Opening the app imports Textual and the screens (about 150 ms of CPU) before anything can be drawn;
the dashboard's counts take 60–150 ms more at 100,000 partners (one pass over the latest period's
results). :class:`EarlyDashboard` starts that read in a thread *before* those imports, on the fast
path's own :mod:`sqlite3` connection (which lets go of the GIL while SQLite works), so the first
frame can already show the figures.

Only a SQLite file at this tiertui's schema revision is read this way (:meth:`FastReader.open`);
anything else (a team database, a file to upgrade) finds no reader here and the app opens it as
before. A failure is kept quiet: the dashboard then reads the figures itself and reports it.
"""

from __future__ import annotations

import threading
from datetime import date

from .fast import FastReader
from .sql import Dashboard


class EarlyDashboard:
    """The fast reader for ``url`` and the dashboard's figures for ``today``, read in a thread."""

    def __init__(self, url: str | None, today: date) -> None:
        self.url = url
        self.today = today
        self._reader: FastReader | None = None
        self._data: Dashboard | None = None
        self._opened = threading.Event()  # the reader is open (or there is none)
        self._read = threading.Event()  # the figures are read (or failed)
        self._taken = False
        threading.Thread(target=self._run, name="tiertui-early-dashboard", daemon=True).start()

    def _run(self) -> None:
        try:
            self._reader = FastReader.open(self.url)
        except Exception:  # noqa: BLE001 - the app opens the database itself and says what is wrong
            self._reader = None
        finally:
            self._opened.set()
        try:
            if self._reader is not None:
                self._data = self._reader.dashboard(self.today)
        except Exception:  # noqa: BLE001 - the dashboard reads again and shows the error there
            self._data = None
        finally:
            self._read.set()

    def reader(self, timeout: float = 30) -> FastReader | None:
        """The fast reader it opened (None: the database is not read on the fast path); waits for
        the opening, which is one small query."""
        self._opened.wait(timeout)
        return self._reader

    def take(self, today: date, wait: float = 0) -> Dashboard | None:
        """The figures for ``today`` once: ready now (or within ``wait`` seconds), else None.

        The first caller gets them; later ones read afresh, as the data may have changed since.
        """
        if self._taken or today != self.today or not self._read.wait(wait):
            return None
        self._taken = True
        return self._data
