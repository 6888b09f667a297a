"""The Textual app. ``run(url, user)`` opens it; ``TiertuiApp`` is there for tests."""

from __future__ import annotations

from datetime import date

from .app import TiertuiApp


def run(url: str | None, user: str, today: date | None = None) -> int:
    """Open the app on the database ``url`` (None: the default database) as ``user``.

    Returns the app's exit status: non-zero after an unhandled error, so scripts can tell.
    """
    app = TiertuiApp(url, user, today=today)
    app.run()
    return app.return_code or 0


__all__ = ["TiertuiApp", "run"]
