"""The Textual app. ``run(url, user)`` opens it; ``TiertuiApp`` is there for tests."""

from __future__ import annotations

from datetime import date

from .app import TiertuiApp


def run(url: str | None, user: str, today: date | None = None) -> None:
    """Open the app on the database ``url`` (None: the default database) as ``user``."""
    TiertuiApp(url, user, today=today).run()


__all__ = ["TiertuiApp", "run"]
