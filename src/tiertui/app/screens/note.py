"""Ask for a note (rejecting an override needs one)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from .base import fix_blink


class NoteScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="note.cancel")]

    def __init__(self, title: str, prompt: str = "Note (required)") -> None:
        super().__init__()
        self.heading = title
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog", classes="dialog"):
            yield Static(f"[b]{self.heading}[/b]", classes="dialog-title")
            yield Input(placeholder=self.prompt, id="note")
            yield Static("Enter confirms · Escape cancels", id="note-problem", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Confirm", variant="error", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        fix_blink(self)
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def confirm(self) -> None:
        note = self.query_one(Input).value.strip()
        if not note:
            self.query_one("#note-problem", Static).update("[b red]✘[/] A note is required to reject.")
            return
        self.dismiss(note)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
