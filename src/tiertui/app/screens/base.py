"""What every data screen shares: work in threads that report back, and reloading after a write.

A screen never waits on the database in the event loop: it starts a thread worker, and the worker
reports its result with :meth:`DataScreen.report`, a :class:`DataScreen.Report` message handled on
the screen's own message loop. A report that arrives when the screen is no longer in the app's
screen stack (the person went home with ``g`` while it loaded) is dropped, never applied to a screen
whose widgets are gone. After any write the app posts :class:`~tiertui.app.app.TiertuiApp.DataChanged`
to the screens in its stack: the one on top reloads at once, the others when shown again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from ...services.errors import ServiceError

if TYPE_CHECKING:
    from ..app import TiertuiApp

T = TypeVar("T")


class DataScreen(Screen):
    """A screen that shows data: :meth:`reload` (which starts a worker) fills it."""

    loaded_version: int = -1

    class Report(Message):
        """A worker's result for the screen that started it: ``apply(*args)`` on the screen's loop."""

        def __init__(self, apply: Callable[..., Any], args: tuple) -> None:
            super().__init__()
            self.apply = apply
            self.args = args

    def report(self, apply: Callable[..., Any], *args: Any) -> None:
        """From a worker thread (or the loop): run ``apply(*args)`` on this screen's message loop, if
        the screen is still in the app's stack by then; otherwise the report is dropped."""
        self.post_message(self.Report(apply, args))

    def on_data_screen_report(self, message: DataScreen.Report) -> None:
        message.stop()
        if self.is_gone:
            return
        message.apply(*message.args)

    def run_in_thread(self, work: Callable[[], T], done: Callable[[T], Any], *, group: str = "screen-action") -> None:
        """Run ``work`` (database work: never on the event loop) in a thread worker, then ``done(result)``
        on this screen's loop; a refusal (:class:`ServiceError`) goes to :meth:`refused` instead."""

        def run() -> None:
            try:
                result = work()
            except ServiceError as exc:
                self.report(self.refused, str(exc))
                return
            self.report(done, result)

        self.run_worker(run, thread=True, group=group, exit_on_error=False)

    def refused(self, message: str) -> None:
        self.notify(message, severity="error", title="Refused")

    @property
    def is_gone(self) -> bool:
        """True once the screen has left the app's screen stack (it is being or has been removed)."""
        return self._closing or self._closed or not self.is_attached or self not in self.app.screen_stack

    def on_tiertui_app_data_changed(self, message: TiertuiApp.DataChanged) -> None:
        if self.app.screen is self:
            self.reload_if_stale()

    def on_screen_resume(self) -> None:
        if self.loaded_version == -1:  # shown for the first time
            self.reload_if_stale()
        else:
            # after the messages in hand: ``g`` pops every screen above the dashboard, and each one
            # it uncovers on the way is resumed for a moment; those have gone by then and read nothing
            self.call_later(self._resumed)

    def _resumed(self) -> None:
        if not self.is_gone and self.app.screen is self:
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
