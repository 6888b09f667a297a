"""The queue of override requests: a approves, r rejects (with a note), Enter opens the partner."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ...services import browse, overrides
from ...services.errors import ServiceError
from .base import DataScreen


class OverridesScreen(DataScreen):
    BINDINGS = [
        Binding("a", "decide(True)", "Approve", id="overrides.approve"),
        Binding("r", "reject", "Reject", id="overrides.reject"),
        Binding("enter", "open", "Open partner", id="overrides.open"),
        Binding("v", "toggle_all", "Pending/all", id="overrides.toggle_all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self.rows = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="overrides-status", classes="status")
        yield DataTable(id="override-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="override-message", classes="message")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Overrides"
        table = self.query_one(DataTable)
        # what a decision needs first: at 120 columns the window and the reason used to be off-screen
        table.add_columns("#", "Partner", "Name", "Current", "Requested", "Status", "Requested by", "Reason", "Window")
        table.focus()

    def reload(self) -> None:
        engine = self.app.engine
        self.rows = overrides.list_overrides(engine, None if self.show_all else "pending")
        if self.show_all:
            self.rows = list(reversed(self.rows))
        period = browse.latest_period(engine)
        current = {}
        if self.rows:
            hits = browse.partners_by_id(engine, [o.partner_id for o in self.rows], period)
            current = {h.partner_id: h for h in hits}
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for o in self.rows:
            now = current.get(o.partner_id)
            status_style = {"pending": "yellow", "approved": "green", "rejected": "red"}[o.status]
            mine = " (you)" if o.requested_by == self.app.user else ""
            table.add_row(
                str(o.id),
                o.partner_id,
                _clip(o.partner_name, 28),
                now.tier if now and now.tier else "–",
                o.tier,
                Text(o.status, style=status_style),
                o.requested_by + mine,
                _clip(o.reason, 30),
                f"{o.starts_on} → {o.expires_on or 'open'}",
                key=str(o.id),
            )
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
        what = "overrides" if self.show_all else "pending requests"
        self.query_one("#overrides-status", Static).update(
            f"{len(self.rows)} {what} · you are [b]{self.app.user}[/b]; you cannot decide your own requests"
            + ("" if self.rows else " · nothing waiting")
        )

    def selected(self):
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#override-message", Static).update(Text(text, style="bold red" if error else "green"))
        self.notify(text, severity="error" if error else "information", title="Refused" if error else "Override")

    def action_decide(self, approve: bool, note: str = "") -> None:
        o = self.selected()
        if o is None:
            return
        if o.status != "pending":
            self._say(f"Override #{o.id} is already {o.status}.", error=True)
            return
        try:
            view = overrides.decide(self.app.engine, self.app.user, o.id, approve, note)
        except ServiceError as exc:
            self._say(str(exc), error=True)
            return
        engine = self.app.engine
        period = browse.latest_period(engine)
        rows = browse.partners_by_id(engine, [view.partner_id], period)
        tier = rows[0].tier if rows else None
        verb = "approved" if approve else "rejected"
        later = ""
        if approve and tier != view.tier:  # e.g. the window starts after the latest levelled period
            later = f" {view.tier} applies from {view.starts_on}."
        self._say(
            f"Override #{view.id} {verb}: {view.partner_id} is now {tier or 'not levelled'}"
            + (f" in {period}." if period else ".")
            + later
        )
        self.app.data_changed()
        self.loaded_version = self.app.data_version
        self.reload()

    def action_reject(self) -> None:
        from .note import NoteScreen

        o = self.selected()
        if o is None:
            return
        if o.requested_by == self.app.user:
            self._say(f"you requested override {o.id}; someone else must reject it", error=True)
            return

        def done(note: str | None) -> None:
            if note:
                self.action_decide(False, note)

        self.app.push_screen(NoteScreen(f"Reject override #{o.id} ({o.partner_id} → {o.tier})"), done)

    def action_open(self) -> None:
        o = self.selected()
        if o is not None:
            self.app.open_scorecard(o.partner_id)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.reload()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
