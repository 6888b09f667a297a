"""One editable number of a scenario: label, value next to the original, edited in place.

A :class:`KnobRow` is focusable; Enter (or typing a digit) opens its :class:`KnobInput` in
place of the value, Enter in the input applies, Escape cancels. The row only asks: the screen
applies the edit through the scenarios service and tells the row what it now holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from ...safe_text import visible
from ...services.scenarios import Knob
from .focus import focus_now

# how an edited value differs from the active program's: always a symbol and a word on screen
KNOB_MARKS = {
    "same": (" ", ""),
    "changed": ("✎", "bold yellow"),
    "added": ("+", "bold green"),
    "off": ("✘", "bold red"),
}
TYPED_KEYS = {**{d: d for d in "0123456789"}, "full_stop": ".", "minus": "-"}  # key name: character


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
    def editable(self) -> bool:
        """False for a point or target of a score component that is switched off (reset brings it back)."""
        return self.present or self.knob.kind not in ("points", "target")

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
        row = self.parent
        if isinstance(row, KnobRow):
            row.stop_edit()  # at once: the next key goes to the row again
        self.post_message(self.Cancelled(self))


class KnobRow(Horizontal, can_focus=True):
    """One knob; up/down move between rows.

    Every focus change here is made at once (:func:`focus_now`): the next key, which the app may have
    read already, goes to the row or box this key focused."""

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="scenario.edit"),
        Binding("delete", "switch_off", "Switch off", id="scenario.switch_off"),
        Binding("up", "move(-1)", "Previous value", show=False),
        Binding("down", "move(1)", "Next value", show=False),
        *[Binding(key, f"type({char!r})", "Edit, starting with it", show=False) for key, char in TYPED_KEYS.items()],
    ]

    class EditRequested(Message):
        """Enter or a digit on the row: the edit has started (``row.editing``), or it is refused."""

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
        # the input is made at the row's first edit: an Input costs several times a row's other parts
        # to build and to style, and the screen has some 80 rows (its first frame waited for them)
        yield Static(self._label_text(), classes="knob-label")
        yield Static(self._value_text(), classes="knob-value")

    def _input(self) -> KnobInput:
        """The row's input, made (and mounted) at the first edit."""
        for box in self.query_children(KnobInput).results(KnobInput):
            return box
        box = KnobInput(compact=True, classes="knob-input", select_on_focus=False)
        if not getattr(self.app, "blink", True):
            box.cursor_blink = False
        self.mount(box)
        return box

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
        """Show ``entry``: now, or when the row composes its parts (a row just mounted has none yet)."""
        self.entry = entry
        for label in self.query_children(".knob-label").results(Static):
            label.update(self._label_text())
        for value in self.query_children(".knob-value").results(Static):
            value.update(self._value_text())

    # ------------------------------------------------------------------ editing

    def start_edit(self, initial: str | None = None) -> None:
        box = self._input()
        box.value = initial if initial is not None else input_text(self.entry.value)
        self.editing = True
        self.add_class("-editing")
        focus_now(box)
        box.cursor_position = len(box.value)

    def stop_edit(self, refocus: bool = True) -> None:
        self.editing = False
        self.remove_class("-editing")
        if refocus:
            focus_now(self)

    def request_edit(self, initial: str | None) -> None:
        """Start the edit now if the value can be edited (the keys after this one go into the box),
        and tell the screen, which says so or why not."""
        if self.entry.editable and not self.editing:
            self.start_edit(initial)
        self.post_message(self.EditRequested(self, initial))

    def action_edit(self) -> None:
        self.request_edit(None)

    def action_switch_off(self) -> None:
        self.post_message(self.SwitchOffRequested(self))

    def action_move(self, delta: int) -> None:
        if self.parent is None:
            return
        rows = list(self.parent.query_children(KnobRow))
        i = rows.index(self) + delta
        if 0 <= i < len(rows):
            focus_now(rows[i])  # the next Down, maybe read already, moves on from there
            rows[i].scroll_visible(animate=False)

    def action_type(self, character: str) -> None:
        """A digit (or . or -) starts an edit with it. A binding, not a key handler: bindings run in the
        order of the keys, with the focus of that moment (a burst of Down Down 4 edits the row the
        Downs reached); a key handler would run as soon as the row it was handed to got it."""
        if not self.editing:
            self.request_edit(character)
