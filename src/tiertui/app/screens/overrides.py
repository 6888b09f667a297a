"""The queue of override requests: a approves, r rejects (with a note), Enter opens the partner.

The queue is read, and a decision made, in thread workers: an approval is one round of statements
(the decision, then the queue and the partners' tiers read once) and one repaint, while the keys
stay live.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Static

from ...safe_text import visible
from ...services import overrides
from ...services.errors import ServiceError
from ...services.overrides import OverrideView
from ...services.read import engine as reads
from .base import DataScreen

# what a decision needs first: at 120 columns the window and the reason used to be off-screen
COLUMNS = ("#", "Partner", "Name", "Current", "Requested", "Status", "Requested by", "Reason", "Window")
STATUS_STYLES = {"pending": "yellow", "approved": "green", "rejected": "red"}


@dataclass(frozen=True)
class Queue:
    """What the screen shows: the overrides, the latest period, each partner's tier in it."""

    rows: list[OverrideView]
    period: str | None
    tiers: dict[str, str | None]


def read_queue(engine, show_all: bool, also: tuple[str, ...] = ()) -> Queue:
    """The queue (pending, or all newest first) and the tiers of its partners and of ``also``."""
    rows = overrides.list_overrides(engine, None if show_all else "pending")
    if show_all:
        rows = list(reversed(rows))
    period = reads.latest_period(engine)
    ids = [o.partner_id for o in rows] + list(also)
    hits = reads.partners_by_id(engine, ids, period) if ids else []
    return Queue(rows, period, {h.partner_id: h.tier for h in hits})


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
        self.rows: list[OverrideView] = []
        self.deciding: int | None = None  # the override whose decision is being written

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the overrides…", id="overrides-status", classes="status")
        yield DataTable(id="override-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="override-message", classes="message")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Overrides"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        self._load(self.show_all)

    @work(thread=True, exclusive=True, group="overrides-load", exit_on_error=False)
    def _load(self, show_all: bool) -> None:
        queue = read_queue(self.app.engine, show_all)
        self.report(self._show, show_all, queue)

    def _show(self, show_all: bool, queue: Queue) -> None:
        if show_all != self.show_all:
            return  # v was pressed again meanwhile: its own read is on the way
        self.rows = queue.rows
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        rows = []
        for o in self.rows:
            tier = queue.tiers.get(o.partner_id)
            mine = " (you)" if o.requested_by == self.app.user else ""
            rows.append(
                (
                    Text(str(o.id)),
                    _cell(o.partner_id),
                    _cell(o.partner_name, 28),
                    _cell(tier or "–"),
                    _cell(o.tier),
                    Text(o.status, style=STATUS_STYLES[o.status]),
                    _cell(o.requested_by + mine),
                    _cell(o.reason, 30),
                    Text(f"{o.starts_on} → {o.expires_on or 'open'}"),
                )
            )
        # The columns as wide as their widest cell, set here: a DataTable measures rows added to a
        # table already on screen only when it next goes idle, and a line drawn before then keeps
        # its narrow cells in the table's cache (columns cut to the width of their headings).
        table.clear(columns=True)
        for i, heading in enumerate(COLUMNS):
            table.add_column(heading, width=max([cell_len(heading), *(row[i].cell_len for row in rows)]))
        for o, row in zip(self.rows, rows):
            table.add_row(*row, key=str(o.id))
        if self.rows:
            table.move_cursor(row=min(cursor, len(self.rows) - 1))
        what = "overrides" if self.show_all else "pending requests"
        status = Content.assemble(
            f"{len(self.rows)} {what} · you are ",
            (visible(self.app.user), "bold"),
            "; you cannot decide your own requests",
            "" if self.rows else " · nothing waiting",
        )
        self.query_one("#overrides-status", Static).update(status)

    def selected(self) -> OverrideView | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _say(self, text: str, error: bool = False) -> None:
        self.query_one("#override-message", Static).update(Text(visible(text), style="bold red" if error else "green"))
        self.notify(text, severity="error" if error else "information", title="Refused" if error else "Override")

    # ------------------------------------------------------------------ actions

    def action_decide(self, approve: bool, note: str = "") -> None:
        o = self.selected()
        if o is None:
            return
        if o.status != "pending":
            self._say(f"Override #{o.id} is already {o.status}.", error=True)
            return
        if self.deciding is not None:
            self._say(f"Override #{self.deciding} is still being written; try again in a moment.", error=True)
            return
        self.deciding = o.id
        self.query_one("#override-message", Static).update(Text(f"Deciding override #{o.id}…", style="dim"))
        self._decide(o.id, approve, note, self.show_all)

    @work(thread=True, group="overrides-decide", exit_on_error=False)
    def _decide(self, override_id: int, approve: bool, note: str, show_all: bool) -> None:
        engine = self.app.engine
        try:
            view = overrides.decide(engine, self.app.user, override_id, approve, note)
        except ServiceError as exc:
            self.report(self._refused, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person, the app keeps running
            self.report(self._refused, f"unexpected {exc.__class__.__name__}: {exc}")
            return
        queue = read_queue(engine, show_all, also=(view.partner_id,))
        self.report(self._decided, view, approve, show_all, queue)

    def _refused(self, message: str) -> None:
        self.deciding = None
        self._say(message, error=True)

    def _decided(self, view: OverrideView, approve: bool, show_all: bool, queue: Queue) -> None:
        self.deciding = None
        self.loaded_version = self.app.data_changed()  # this screen shows the new data already
        tier = queue.tiers.get(view.partner_id)
        verb = "approved" if approve else "rejected"
        later = ""
        if approve and tier != view.tier:  # e.g. the window starts after the latest levelled period
            later = f" {view.tier} applies from {view.starts_on}."
        self._say(
            f"Override #{view.id} {verb}: {view.partner_id} is now {tier or 'not levelled'}"
            + (f" in {queue.period}." if queue.period else ".")
            + later
        )
        self._show(show_all, queue)

    def action_reject(self) -> None:
        from .dialogs import NoteScreen

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


def _cell(text: str, width: int | None = None) -> Text:
    """A cell from data: literal (a DataTable reads a str as markup), control characters visible."""
    shown = visible(text)
    if width is not None and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return Text(shown)
