"""Every key of the screen underneath, with what it does (? or F1)."""

from __future__ import annotations

from rich import box
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..literal import LiteralTable, literal


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,f1,q", "dismiss(None)", "Close", id="help.close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for every active binding of the screen underneath."""
        app = self.app
        seen: dict[tuple[str, str], list[str]] = {}
        ids: dict[tuple[str, str], str] = {}
        for _key, active in self.under.active_bindings.items():
            binding = active.binding
            if binding.action in ("app.command_palette", "command_palette"):
                label = "Find a partner or command"
            else:
                label = binding.tooltip or binding.description or binding.action  # the longer words first
            group = (label, str(active.node.__class__.__name__))
            seen.setdefault(group, []).append(app.get_key_display(binding))
            ids[group] = binding.id or ""
        return [(" ".join(dict.fromkeys(keys)), label, ids[(label, node)]) for (label, node), keys in seen.items()]

    def compose(self) -> ComposeResult:
        table = LiteralTable(box=box.SIMPLE_HEAD, expand=True, header_style="bold")
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Does")
        table.add_column("Binding id (keys.toml)", style="dim")
        for keys, label, binding_id in self.rows():
            table.add_row(keys, label, binding_id)
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(
                literal((f"Keys: {self.under.title or self.under.__class__.__name__}", "bold")), classes="dialog-title"
            )
            yield Static(table)
            yield Static(
                'Remap keys in keys.toml in your config folder, e.g. [keys] "overrides.approve" = "y". '
                'ctrl+p → "theme" switches the theme. Escape closes.',
                classes="hint",
            )
