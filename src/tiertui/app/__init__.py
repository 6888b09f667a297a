"""The Textual app. ``run(url, user)`` opens it; ``TiertuiApp`` is there for tests."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from .app import TiertuiApp

if TYPE_CHECKING:
    from ..services.read.early import EarlyDashboard


def run(url: str | None, user: str, today: date | None = None, early: EarlyDashboard | None = None) -> int:
    """Open the app on the database ``url`` (None: the default database) as ``user``; ``early``: the
    dashboard's figures being read since before the app's modules were imported.

    Returns the app's exit status: non-zero after an unhandled error, so scripts can tell.
    """
    from .upgrade import offer_upgrade

    offer_upgrade(url)  # an older database: the upgrade is offered first; raises if it stays older
    app = TiertuiApp(url, user, today=today, early=early)
    app.run()
    if app.startup_error is not None:  # the database failed to open after the first frame: say why, as before
        raise app.startup_error
    return app.return_code or 0


__all__ = ["TiertuiApp", "run"]
