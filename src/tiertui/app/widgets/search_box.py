"""A text box whose growing text does not lay the screen out again.

Textual's Input sets its virtual size (a reactive that asks for a layout) at every change of its
value, so each keystroke lays out and draws the whole screen again: on the partner list that was a
third of the time from a key to the filtered list. A box whose size the layout fixes (a grid cell,
not ``width: auto``, which Input still lays out for) does not need it: its scrolling reads the
virtual size as it is, and a change repaints the box.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class SearchBox(Input):
    """An :class:`~textual.widgets.Input` for a box of fixed size: typing repaints it, no relayout.

    Escape clears the text; on an empty box it leaves the box for the screen's list (only then does
    Escape leave the screen)."""

    BINDINGS = [Binding("escape", "clear_or_leave", "Clear / leave the box", show=False)]

    virtual_size = Reactive(Size(0, 0), layout=False)

    def action_clear_or_leave(self) -> None:
        if self.value:
            self.value = ""
        else:
            leave_field(self)


def leave_field(field) -> None:
    """Move the focus from ``field`` to its screen's list (the first table), or nowhere."""
    screen = field.screen
    table = next(iter(screen.query("VirtualTable, DataTable")), None)
    screen.set_focus(table if table is not None and table.focusable else None)
