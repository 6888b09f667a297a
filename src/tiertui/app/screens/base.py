"""What every data screen shares: reload when the data changed while it was hidden."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Input


class DataScreen(Screen):
    """A screen that shows data: :meth:`reload` fills it; it reloads when shown after a write."""

    loaded_version: int = -1

    def on_screen_resume(self) -> None:
        self.reload_if_stale()

    def reload_if_stale(self) -> None:
        if self.loaded_version != self.app.data_version:
            self.loaded_version = self.app.data_version
            self.reload()

    def reload(self) -> None:  # pragma: no cover - overridden
        pass


def fix_blink(screen: Screen) -> None:
    """Turn the cursor blink of every input on ``screen`` off when the app says so."""
    if not getattr(screen.app, "blink", True):
        for widget in screen.query(Input):
            widget.cursor_blink = False
