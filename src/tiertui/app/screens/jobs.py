"""Long work (levelling, imports) with visible progress; and the import dialog."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from ...safe_text import visible
from ..literal import literal
from .base import fix_blink


class JobScreen(ModalScreen[None]):
    """Progress of a job running in a worker; closes once it is done."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="job.close")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.heading = title
        self.done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="job", classes="dialog"):
            yield Static(literal((self.heading, "bold")), classes="dialog-title")
            yield ProgressBar(total=100, show_eta=False, id="job-progress")
            yield Static("starting…", id="job-message")
            yield Static("", id="job-result")

    def set_progress(self, fraction: float, message: str) -> None:
        self.query_one(ProgressBar).update(progress=round(100 * fraction))
        self.query_one("#job-message", Static).update(literal(message))

    def finished(self, text: str) -> None:
        self.done = True
        self.query_one(ProgressBar).update(progress=100)
        self.query_one("#job-message", Static).update(literal(("✔ done", "bold green"), " · Enter or Escape closes"))
        self.query_one("#job-result", Static).update(Content(visible(text, keep_newlines=True)))

    def failed(self, text: str) -> None:
        self.done = True
        self.query_one("#job-message", Static).update(literal(("✘ failed", "bold red"), " · Enter or Escape closes"))
        self.query_one("#job-result", Static).update(Content(visible(text, keep_newlines=True)))

    def action_close(self) -> None:
        if self.done:
            self.dismiss(None)
        else:
            self.notify("Still working; it will finish on its own.", timeout=2)


class ImportScreen(ModalScreen[tuple[str, str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="import.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="import", classes="dialog"):
            yield Static("[b]Import a file[/b] (CSV or XLSX)", classes="dialog-title")
            yield Label("What it holds")
            yield Select(
                [("Partners", "partners"), ("Metrics", "metrics"), ("Certifications", "certifications")],
                value="partners",
                allow_blank=False,
                id="kind",
            )
            yield Label("File")
            yield Input(placeholder="path/to/file.csv", id="path")
            yield Static("", id="import-problem")
            with Horizontal(classes="buttons"):
                yield Button("Import", variant="primary", id="go")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        fix_blink(self)
        self.query_one("#path").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def go(self) -> None:
        path = Path(self.query_one("#path", Input).value.strip()).expanduser()
        if not path.is_file():
            self.query_one("#import-problem", Static).update(literal(("✘", "bold red"), f" no file {str(path)!r}"))
            return
        self.dismiss((self.query_one("#kind", Select).value, str(path)))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
