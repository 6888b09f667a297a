"""One editable number of a scenario: label, value next to the original, edited in place.

A :class:`KnobRow` is focusable; Enter (or typing a digit) opens its :class:`KnobInput` in
place of the value, Enter in the input applies, Escape cancels. The row only asks: the screen
applies the edit through the scenarios service and tells the row what it now holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from ...safe_text import visible
from ...services.scenarios import Knob

# how an edited value differs from the active program's: always a symbol and a word on screen
KNOB_MARKS = {
    "same": (" ", ""),
    "changed": ("✎", "bold yellow"),
    "added": ("+", "bold green"),
    "off": ("✘", "bold red"),
}
TYPED = set("0123456789.-")


def number_text(value: float | None) -> str:
    """A value as read: 800,000 / 0.1 / 2; None: off."""
    if value is None:
        return "off"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.6g}"


def input_text(value: float | None) -> str:
    """A value as typed into the input (no separators)."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class KnobEntry:
    """What a row shows: the knob to edit, its value now and in the active program."""

    label: str  # identity (the service's label)
    short: str  # label without its group
    group: str
    knob: Knob  # the knob to pass to apply_edit (the original one when the value is off)
    value: float | None
    original: float | None
    present: bool  # the value exists in the scenario text (False: switched off)

    @property
    def status(self) -> str:
        if self.value == self.original:
            return "same"
        if self.value is None:
            return "off"
        if self.original is None:
            return "added"
        return "changed"


class KnobInput(Input):
    """The in-place input: Enter applies (Input.Submitted), Escape cancels."""

    BINDINGS = [Binding("escape", "cancel_edit", "Cancel edit", id="scenario.cancel_edit")]

    class Cancelled(Message):
        def __init__(self, input: KnobInput) -> None:
            super().__init__()
            self.input = input

    def action_cancel_edit(self) -> None:
        self.post_message(self.Cancelled(self))


class KnobRow(Horizontal, can_focus=True):
    """One knob; up/down move between rows."""

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="scenario.edit"),
        Binding("delete", "switch_off", "Switch off", id="scenario.switch_off"),
        Binding("up", "move(-1)", "Previous value", show=False),
        Binding("down", "move(1)", "Next value", show=False),
    ]

    class EditRequested(Message):
        def __init__(self, row: KnobRow, initial: str | None) -> None:
            super().__init__()
            self.row = row
            self.initial = initial

    class SwitchOffRequested(Message):
        def __init__(self, row: KnobRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, entry: KnobEntry) -> None:
        super().__init__(classes="knob-row")
        self.entry = entry
        self.editing = False

    def compose(self) -> ComposeResult:
        yield Static(self._label_text(), classes="knob-label")
        yield Static(self._value_text(), classes="knob-value")
        yield KnobInput(compact=True, classes="knob-input", select_on_focus=False)

    def on_mount(self) -> None:
        if not getattr(self.app, "blink", True):
            self.query_one(KnobInput).cursor_blink = False

    # ------------------------------------------------------------------ display

    def _label_text(self) -> Text:
        symbol, style = KNOB_MARKS[self.entry.status]
        text = Text(f"{symbol} ", style=style)
        text.append(visible(self.entry.short))
        return text

    def _value_text(self) -> Text:
        e = self.entry
        status = e.status
        text = Text(number_text(e.value), style="bold" if status != "same" else "")
        if status != "same":
            text.append(f" was {number_text(e.original)}", style="dim")
        return text

    def set_entry(self, entry: KnobEntry) -> None:
        self.entry = entry
        self.query_one(".knob-label", Static).update(self._label_text())
        self.query_one(".knob-value", Static).update(self._value_text())

    # ------------------------------------------------------------------ editing

    def start_edit(self, initial: str | None = None) -> None:
        box = self.query_one(KnobInput)
        box.value = initial if initial is not None else input_text(self.entry.value)
        self.editing = True
        self.add_class("-editing")
        box.focus()
        box.cursor_position = len(box.value)

    def stop_edit(self, refocus: bool = True) -> None:
        self.editing = False
        self.remove_class("-editing")
        if refocus:
            self.focus()

    def action_edit(self) -> None:
        self.post_message(self.EditRequested(self, None))

    def action_switch_off(self) -> None:
        self.post_message(self.SwitchOffRequested(self))

    def action_move(self, delta: int) -> None:
        if self.parent is None:
            return
        rows = list(self.parent.query_children(KnobRow))
        i = rows.index(self) + delta
        if 0 <= i < len(rows):
            rows[i].focus()
            rows[i].scroll_visible(animate=False)

    def on_key(self, event: events.Key) -> None:
        if not self.editing and event.character and event.character in TYPED and self.has_focus:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRequested(self, event.character))
