"""A banner across the top of every data screen while the stored results are stale: since when,
why, and the key that levels (``L``). It reads the state in a thread worker whenever its screen
reloads (after a write the app's ``DataChanged`` reloads the screen: levelling hides the banner)."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from ..literal import literal


class StaleBanner(Static):
    def __init__(self) -> None:
        super().__init__(id="stale-banner")
        self.display = False
        self.state: tuple[datetime, str] | None = None

    def check(self) -> None:
        """Read whether the results are stale (off the event loop) and show or hide the banner."""
        screen = self.screen
        app = self.app

        def read() -> None:
            try:
                # the engine first: the app opens it (importing SQLAlchemy) under its lock, once; a
                # module that imports SQLAlchemy beside that import, in another thread, could find
                # it half-initialised
                engine = app.engine
                from ...services.staleness import stale_since

                state = stale_since(engine)
            except Exception:  # noqa: BLE001 - no banner rather than a failed screen
                return
            screen.report(self.show_state, state)  # type: ignore[attr-defined]

        self.run_worker(read, thread=True, exclusive=True, group="stale-banner", exit_on_error=False)

    def show_state(self, state: tuple[datetime, str] | None) -> None:
        self.state = state
        self.display = state is not None
        if state is not None:
            since, why = state
            self.update(
                literal(
                    ("! Results are stale", "bold"),
                    f" since {since:%Y-%m-%d %H:%M} UTC ({why or 'data changed'}): press ",
                    ("L", "bold reverse"),
                    " to level.",
                )
            )
