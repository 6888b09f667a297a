"""The app's small dialogs: ask for a line of text, a note, a yes/no, or a saved scenario.

Every text in them that can come from data (a partner's name in a title, a scenario's name) is
shown literally (``Content``, never markup), with control characters made visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ...safe_text import visible
from .base import fix_blink

if TYPE_CHECKING:
    from ...services.scenarios import SavedScenario


def title_content(text: str) -> Content:
    """A dialog's title: bold, literal."""
    return Content(visible(text)).stylize("bold")


def problem_content(text: str) -> Content:
    return Content.assemble(("✘ ", "bold red"), visible(text))


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a scenario name, a file path); Enter confirms, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(
        self,
        title: str,
        prompt: str,
        value: str = "",
        hint: str = "",
        *,
        required: str | None = None,
        confirm: str = "OK",
        variant: str = "primary",
    ) -> None:
        super().__init__()
        self.heading = title
        self.prompt = prompt
        self.value = value
        self.hint = hint
        self.required = required or f"{prompt} is required."
        self.confirm_label = confirm
        self.variant = variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog prompt-dialog"):
            yield Static(title_content(self.heading), classes="dialog-title")
            yield Input(self.value, placeholder=self.prompt, id="prompt")
            hint = Content(visible(self.hint, keep_newlines=True) + ("\n" if self.hint else ""))
            yield Static(hint + "Enter confirms · Escape cancels", id="prompt-problem", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button(self.confirm_label, variant=self.variant, id="confirm")  # type: ignore[arg-type]
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        fix_blink(self)
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm")
    def confirm(self) -> None:
        value = self.query_one(Input).value.strip()
        problem = self.problem_with(value)
        if problem:
            self.query_one("#prompt-problem", Static).update(problem_content(problem))
            return
        self.dismiss(value)

    def problem_with(self, value: str) -> str | None:
        """Why ``value`` cannot be confirmed (shown in the dialog, the text kept), or None."""
        return None if value else self.required

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteScreen(PromptScreen):
    """Ask for the note a rejection (or a revocation: ``verb="revoke"``) needs; ``hint``: what it changes."""

    def __init__(self, title: str, prompt: str = "Note (required)", *, verb: str = "reject", hint: str = "") -> None:
        super().__init__(
            title,
            prompt,
            hint=hint,
            required=f"A note is required to {verb}.",
            confirm="Confirm" if verb == "reject" else verb.capitalize(),
            variant="error",
        )


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one consequential step: the confirm button, or Escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, title: str, text: str, confirm: str) -> None:
        super().__init__()
        self.heading = title
        self.text = text
        self.confirm_label = confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm-dialog"):
            yield Static(title_content(self.heading), classes="dialog-title")
            yield Static(Content(visible(self.text, keep_newlines=True)))
            with Horizontal(classes="buttons"):
                yield Button(self.confirm_label, variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class PickScenarioScreen(ModalScreen[str | None]):
    """Pick a saved scenario: arrows, Enter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]

    def __init__(self, saved: Sequence[SavedScenario], current: str | None) -> None:
        super().__init__()
        self.saved = list(saved)
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for s in self.saved:
            label = Text(visible(s.name), style="bold")
            based = f"v{s.base_version}" if s.base_version is not None else "no program"
            label.append(
                f"  · based on {based} · saved {s.updated_at:%Y-%m-%d %H:%M} by {visible(s.created_by)}", style="dim"
            )
            options.append(Option(label, id=s.name))
        with Vertical(classes="dialog pick-dialog"):
            yield Static(title_content("Open a saved scenario"), classes="dialog-title")
            yield OptionList(*options, id="saved-scenarios")
            yield Static("Enter opens · Escape cancels", classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        names = [s.name for s in self.saved]
        if self.current in names:
            options.highlighted = names.index(self.current)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
