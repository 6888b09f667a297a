"""Why a partner moved: one line per period, and for each change of tier or of at-risk the
requirements whose result changed from the period before (the scorecard's ``H``).

(v2 §3.11) Across a program change the first period of the new version says so and maps the tier
names ("◇ new program version 'FY27' in 2026-Q1: Authorized is now Registered"): a tier carried
by the map is no move; a real move across the change is a move naming both names."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from ...safe_text import visible
from ...scoring import score_text
from ...services.errors import ServiceError
from ...services.read import engine as reads
from ...services.read.engine import HistoryLine
from ..widgets import event_text
from .base import DataScreen


class HistoryScreen(DataScreen):
    BINDINGS = [Binding("q", "app.back", "Back to the scorecard", id="history.close", show=False)]

    def __init__(self, partner_id: str, period: str | None = None) -> None:
        super().__init__()
        self.partner_id = partner_id
        self.period = period
        self.lines: list[HistoryLine] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="history"):
            yield Static(Text("Reading the history…", style="dim"), id="history-lines")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"{visible(self.partner_id)} · why it moved"
        self.query_one("#history").focus()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            lines = reads.partner_history(self.app.engine, self.partner_id)
        except ServiceError as exc:
            self.report(self._failed, str(exc))
            return
        self.report(self._loaded, lines)

    def _failed(self, message: str) -> None:
        self.query_one("#history-lines", Static).update(Text(visible(message), style="bold red"))

    def _loaded(self, lines: list[HistoryLine]) -> None:
        self.lines = lines
        parts: list[RenderableType] = []
        if not lines:
            parts.append(Text("Not levelled yet.", style="dim"))
        for line in lines:
            current = line.period == self.period
            text = Text()
            text.append("▸ " if current else "  ", style="bold")
            text.append(f"{visible(line.period):<8}", style="bold" if current else "")
            text.append(f" {visible(line.tier):<11}")
            event = event_text(line.event)
            text.append_text(event)
            text.append(" " * max(1, 12 - event.cell_len))
            text.append(f"score {score_text(line.score):>6}")
            if line.at_risk:
                text.append("  ! at risk", style="bold red")
            parts.append(text)
            if line.change:
                # a long line (a program's name) wraps under its own start, not at the screen's edge
                style = (
                    "bold green"
                    if line.change.startswith(("▲", "✔"))
                    else "bold red"
                    if line.change[0] in "▼!"
                    else "bold"
                )
                change = Text(visible(line.change) + (":" if line.reasons else ""), style=style)
                parts.append(Padding(change, (0, 0, 0, 4)))
                for reason in line.reasons:
                    bullet = Table.grid()
                    bullet.add_column(width=2)
                    bullet.add_column(ratio=1)
                    bullet.add_row("•", Text(visible(reason)))
                    parts.append(Padding(bullet, (0, 0, 0, 6)))
        self.query_one("#history-lines", Static).update(Group(*parts))
