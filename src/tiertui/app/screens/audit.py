"""The audit log: who changed what and when, newest first; filter by words or by partner, Enter
shows one entry in full (before and after)."""

from __future__ import annotations

import numpy as np
from rich import box
from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Header, Input, Static
from textual.worker import get_current_worker

from ...safe_text import visible
from ...services import audit
from ...services.audit import AuditLine
from ...services.errors import ServiceError
from ..literal import LiteralTable, data_text, literal
from ..widgets import Column, VirtualTable
from ..widgets.focus import focus_now
from ..widgets.footer import KeysFooter
from .base import DataScreen, fix_blink

PAGE = 2000  # the newest entries loaded at once; `tiertui audit` reads any number

COLUMNS = [
    Column("at", "When (UTC)", 16),
    Column("actor", "Who", 3),
    Column("action", "Action", 6),
    Column("summary", "What", 28, flex=True),
]

ACTION_STYLES = {"approve": "green", "reject": "red"}  # as the overrides queue colours a decision


def render_cell(line: AuditLine, key: str) -> Text:
    if key == "at":
        return Text(f"{line.at:%Y-%m-%d %H:%M}")
    if key == "action":
        return data_text(line.action, ACTION_STYLES.get(line.action.partition(".")[2], ""))
    return data_text(getattr(line, key))


class AuditScreen(DataScreen):
    AUTO_FOCUS = "#audit-table"  # keys typed on the way in are the list's (``/`` searches), not the box's
    BINDINGS = [
        Binding("slash", "search", "Filter", id="audit.search"),
        Binding("p", "partner", "Partner", id="audit.partner"),
        Binding("x", "clear", "Clear filters", id="audit.clear"),
    ]

    def __init__(self, partner_id: str | None = None) -> None:
        super().__init__()
        self.partner_id = partner_id or None  # the partner filter in force
        self.lines: list[AuditLine] = []
        self.more = False  # more entries than PAGE
        self.problem = ""
        self.words = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid(id="audit-filters", classes="filters"):
            yield Input(placeholder="Who, action or words  /", id="audit-text", compact=True)
            yield Input(self.partner_id or "", placeholder="Partner id, Enter  p", id="audit-partner", compact=True)
        yield Static(id="audit-status", classes="status")
        yield VirtualTable(COLUMNS, self._fetch, render_cell, empty_message="No audit entries match.", id="audit-table")
        yield KeysFooter(hold=True)  # its dozen keys after the first rows: they come first

    def on_mount(self) -> None:
        self.title = "Audit log" + (f" · {visible(self.partner_id)}" if self.partner_id else "")
        fix_blink(self)
        focus_now(self.query_one("#audit-table", VirtualTable))

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        table = self.query_one("#audit-table", VirtualTable)
        table.loading_rows = True
        table.set_ids(np.zeros(0, dtype=np.int64))
        self.query_one("#audit-status", Static).update("reading the log…")
        self._load(self.partner_id)

    @work(exclusive=True, thread=True, group="audit-load")
    def _load(self, partner_id: str | None) -> None:
        worker = get_current_worker()
        try:
            lines, problem = audit.entries(self.app.engine, self.app.user, partner_id=partner_id, limit=PAGE + 1), ""
        except ServiceError as exc:
            lines, problem = [], str(exc)
        if not worker.is_cancelled:
            self.report(self._loaded, partner_id, lines, problem)

    def _loaded(self, partner_id: str | None, lines: list[AuditLine], problem: str) -> None:
        if partner_id != self.partner_id:
            return
        self.lines, self.more, self.problem = lines[:PAGE], len(lines) > PAGE, problem
        if lines and partner_id:  # the partner as stored (the filter ignores case)
            self.partner_id = next((line.partner_id for line in lines if line.partner_id), partner_id)
        self.title = "Audit log" + (f" · {visible(self.partner_id)}" if self.partner_id else "")
        self.query_one("#audit-table", VirtualTable).loading_rows = False
        self._show()

    def _fetch(self, ids) -> list[AuditLine]:
        return [self.lines[i] for i in ids]

    def _show(self) -> None:
        self.call_after_refresh(self.query_one(KeysFooter).release)  # the keys after the first rows
        words = self.words.strip().casefold()
        if words:
            shown = [
                i
                for i, line in enumerate(self.lines)
                if words in f"{line.actor}\t{line.action}\t{line.summary}".casefold()
            ]
        else:
            shown = list(range(len(self.lines)))
        table = self.query_one("#audit-table", VirtualTable)
        ids = np.array(shown, dtype=np.int64)
        table.set_ids(ids)
        first = ids[: table.page_size]
        table.prime(0, first, self._fetch(first))  # in memory already: drawn now, not after a worker's round trip
        status = self.query_one("#audit-status", Static)
        if self.problem:
            status.update(data_text(self.problem, "bold red"))
            return
        total = len(self.lines)
        parts = [
            f"{total:,} entr{'y' if total == 1 else 'ies'}" + (" (the newest)" if self.more else ""),
            "newest first",
        ]
        if self.partner_id:
            parts.append(f"partner {self.partner_id}")
        if words:
            parts.append(f"{len(shown):,} match “{self.words.strip()}”")
        if self.more:
            parts.append("older ones: tiertui audit --since DATE")
        status.update(literal(" · ".join(parts)))

    # ------------------------------------------------------------------ events

    @on(Input.Changed, "#audit-text")
    def _words_changed(self, event: Input.Changed) -> None:
        if event.value != self.words:
            self.words = event.value
            self._show()

    @on(Input.Submitted, "#audit-text")
    def _words_submitted(self) -> None:
        focus_now(self.query_one("#audit-table", VirtualTable))

    @on(Input.Submitted, "#audit-partner")
    def _partner_submitted(self, event: Input.Submitted) -> None:
        self.partner_id = event.value.strip() or None
        focus_now(self.query_one("#audit-table", VirtualTable))
        self.reload()

    @on(VirtualTable.Selected, "#audit-table")
    def _open(self, event: VirtualTable.Selected) -> None:
        self.app.push_screen(AuditDetailScreen(event.row))

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        focus_now(self.query_one("#audit-text", Input))

    def action_partner(self) -> None:
        focus_now(self.query_one("#audit-partner", Input))

    def action_clear(self) -> None:
        self.words = ""
        self.query_one("#audit-text", Input).value = ""
        self.query_one("#audit-partner", Input).value = ""
        focus_now(self.query_one("#audit-table", VirtualTable))
        if self.partner_id:
            self.partner_id = None
            self.reload()
        else:
            self._show()


def _field_table(title: str, *columns: str) -> LiteralTable:
    """A titled table of an entry's fields: their names, then ``columns`` sharing the width."""
    table = LiteralTable(
        box=box.SIMPLE_HEAD,
        expand=True,
        header_style="bold",
        title=title,
        title_justify="left",
        title_style="bold",
    )
    table.add_column("Field", style="cyan", no_wrap=True)
    for column in columns:
        table.add_column(column, ratio=1)
    return table


class AuditDetailScreen(ModalScreen[None]):
    """One entry in full: when, who, what, and every field of its detail (a change: before and after)."""

    BINDINGS = [
        Binding("escape,enter,q", "dismiss(None)", "Close", id="audit_detail.close"),
        Binding("s", "scorecard", "Scorecard", id="audit_detail.scorecard"),
    ]

    def __init__(self, line: AuditLine) -> None:
        super().__init__()
        self.line = line

    def compose(self) -> ComposeResult:
        line = self.line
        head = LiteralTable.grid(padding=(0, 2))
        head.add_column(style="dim", no_wrap=True)
        head.add_column()
        for label, value in [
            ("When", f"{line.at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Who", line.actor),
            ("Action", line.action),
            ("About", " ".join(x for x in (line.entity, line.entity_id) if x) or "–"),
            ("Partner", line.partner_id or ""),
        ]:
            if value:
                head.add_row(label, value)
        changes, rest = audit.detail_rows(line)
        parts = [head, Text(), data_text(line.summary, "bold")]
        if changes:
            table = _field_table("Change", "Before", "After")
            for name, before, after in changes:
                table.add_row(name, before, data_text(after, "bold" if after != before else ""))
            parts += [Text(), table]
        if rest:
            table = _field_table("Detail", "Value")
            for name, value in rest:
                table.add_row(name, value)
            parts += [Text(), table]
        with VerticalScroll(id="audit-detail", classes="dialog"):
            yield Static(literal((f"Audit entry #{line.id}", "bold")), classes="dialog-title")
            yield Static(Group(*parts), id="audit-detail-body")
            hint = "Escape closes" + (" · s opens the partner's scorecard" if line.partner_id else "")
            yield Static(hint, classes="hint")

    def action_scorecard(self) -> None:
        partner_id = self.line.partner_id
        if partner_id is None:
            self.notify("This entry is not about a partner.", timeout=2)
            return
        self.dismiss(None)
        self.app.open_scorecard(partner_id)
