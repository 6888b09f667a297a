"""The queue of override requests: a approves, r rejects (with a note), Enter opens the partner;
space marks several for one decision, u undoes your last decision, R revokes an approved override
(with a note), a pane shows the request in full and the periods deciding it changes.

The queue is read, and a decision made, in thread workers: an approval is one round of statements
(the decision, then the queue and the partners' tiers read once) and one repaint, while the keys
stay live. What deciding the highlighted override changes (``services.override_effect``) is worked
out in a worker too, one at a time (the latest highlighted row next), and kept until the data changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Header, Static

from ...safe_text import visible
from ...services import overrides
from ...services.errors import ServiceError
from ...services.overrides import OverrideView
from ...services.read import engine as reads
from ..widgets.cell import Cell
from ..widgets.footer import KeysFooter
from .base import DataScreen

if TYPE_CHECKING:
    from textual.timer import Timer

    from ...services.override_effect import Effect

# What a decision needs first (essential, on screen at 80 columns): the mark, the number, the partner,
# the tier asked for beside the partner's earned and effective tier, the status and the reason; the
# detail pane below shows the request in full.
COLUMNS = (
    "✓",
    "#",
    "Partner",
    "Requested",
    "Effective",
    "Earned",
    "Status",
    "Reason",
    "Name",
    "Requested by",
    "Window",
    "Note",
)
STATUS_STYLES = {"pending": "yellow", "approved": "green", "rejected": "red", "revoked": "magenta"}
DECIDING_NOTE_AFTER = 0.15  # seconds: a decision taking longer says "Deciding…" meanwhile
PANE_PERIODS = (2, 4)  # period lines the pane spells out (at 80 columns, at 120) before "and N more"


@dataclass(frozen=True)
class Queue:
    """What the screen shows: the overrides, the latest period, each partner's tier in it."""

    rows: list[OverrideView]
    period: str | None
    tiers: dict[str, str | None]  # effective, in the latest period
    earned: dict[str, str | None] = field(default_factory=dict)  # earned, in the latest period

    def shows_like(self, other: Queue) -> bool:
        """Whether the screen would show ``other`` exactly as this (the rows, and their tiers)."""
        ids = {o.partner_id for o in self.rows}
        return (self.rows, self.period) == (other.rows, other.period) and all(
            (self.tiers.get(p), self.earned.get(p)) == (other.tiers.get(p), other.earned.get(p)) for p in ids
        )


def read_queue(engine, show_all: bool, also: tuple[str, ...] = ()) -> Queue:
    """The queue (pending, or all newest first) and the tiers of its partners and of ``also``."""
    rows = overrides.list_overrides(engine, None if show_all else "pending")
    if show_all:
        rows = list(reversed(rows))
    period = reads.latest_period(engine)
    ids = [o.partner_id for o in rows] + list(also)
    hits = reads.partners_by_id(engine, ids, period) if ids else []
    return Queue(rows, period, {h.partner_id: h.tier for h in hits}, {h.partner_id: h.earned_tier for h in hits})


class QueueTable(DataTable):
    """The queue: Home/End go to the first/last request (not sideways), space marks a request."""

    BINDINGS = [
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
        Binding("space", "mark", "Mark", id="overrides.mark"),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def action_mark(self) -> None:
        screen = self.screen
        if isinstance(screen, OverridesScreen):
            screen.toggle_mark()


class OverridesScreen(DataScreen):
    BINDINGS = [
        Binding("a", "decide(True)", "Approve", id="overrides.approve"),
        Binding("r", "reject", "Reject", id="overrides.reject"),
        Binding("enter", "open", "Open partner", id="overrides.open"),
        Binding("v", "toggle_all", "Pending/all", id="overrides.toggle_all"),
        Binding("u", "undo", "Undo", id="overrides.undo", tooltip="Undo my last decision"),
        Binding(
            "R", "revoke", "Revoke", id="overrides.revoke", tooltip="Revoke an approved override (asks for a note)"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self.rows: list[OverrideView] = []
        self.deciding: int | None = None  # the override whose decision is being written
        self.deciding_note: Timer | None = None  # says "Deciding…" if the decision takes a while
        self.marked: set[int] = set()  # overrides marked (space) for one decision together
        self.last_decided: int | None = None  # my last decision in this queue (u undoes it)
        self.queue: Queue | None = None
        # what deciding each override changes (its effect's lines), for the data as shown; one
        # worker at a time works one out, the highlighted row's next
        self.effects: dict[int, Effect | str] = {}  # str: why it could not be worked out
        self.effect_generation = 0
        self.effect_running = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the overrides…", id="overrides-status", classes="status")
        yield QueueTable(id="override-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="override-detail")
        yield Static(id="override-message", classes="message")
        yield KeysFooter(hold=True)  # its dozen keys after the first rows: they come first

    def on_mount(self) -> None:
        self.title = "Overrides"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        self._load(self.show_all)

    @work(thread=True, exclusive=True, group="overrides-load", exit_on_error=False)
    def _load(self, show_all: bool, again: bool = False) -> None:
        """Read the queue and show it (``again``: only if it differs from what is shown by then)."""
        queue = read_queue(self.app.engine, show_all)
        self.report(self._show_if_changed if again else self._show, show_all, queue)

    def _show_if_changed(self, show_all: bool, queue: Queue) -> None:
        if self.queue is None or not queue.shows_like(self.queue):
            self._show(show_all, queue)

    def _show(self, show_all: bool, queue: Queue) -> None:
        if show_all != self.show_all:
            return  # v was pressed again meanwhile: its own read is on the way
        self.call_after_refresh(self.query_one(KeysFooter).release)  # the keys after the first rows
        self.rows = queue.rows
        self.queue = queue
        self.effects = {}  # new data: every effect is worked out again
        self.effect_generation += 1
        self.marked &= {o.id for o in self.rows if o.status == "pending"}
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        rows = [self._cells(o, queue) for o in self.rows]
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
        self._show_detail()
        what = "overrides" if self.show_all else "pending requests"
        status = Content.assemble(
            f"{len(self.rows)} {what} · you are ",
            (visible(self.app.user), "bold"),
            "; you cannot decide your own requests",
            "" if self.rows else " · nothing waiting",
        )
        self.query_one("#overrides-status", Static).update(status)

    def _cells(self, o: OverrideView, queue: Queue) -> tuple[Cell, ...]:
        effective = queue.tiers.get(o.partner_id)
        mine = " (you)" if o.requested_by == self.app.user else ""
        same = o.status == "pending" and effective == o.tier
        # a request that changes nothing in the latest period: said in words, not colour only
        requested = Cell(visible(o.tier), (" = no change", "dim")) if same else _cell(o.tier)
        return (
            _mark(o.id in self.marked),
            Cell(str(o.id)),
            _cell(o.partner_id),
            requested,
            _cell(effective or "–"),
            _cell(queue.earned.get(o.partner_id) or "–"),
            Cell((o.status, STATUS_STYLES[o.status])),
            _cell(o.reason, 30),
            _cell(o.partner_name, 28),
            _cell(o.requested_by + mine),
            Cell(f"{o.starts_on} → {o.expires_on or 'open'}"),
            _cell((o.revoke_note if o.status == "revoked" else o.note) or "", 30),
        )

    def toggle_mark(self) -> None:
        o = self.selected()
        table = self.query_one(DataTable)
        if o is None:
            return
        if o.status != "pending":
            self._say(f"Override #{o.id} is already {o.status}: only pending requests can be marked.", error=True)
            return
        self.marked ^= {o.id}
        table.update_cell_at((table.cursor_row, 0), _mark(o.id in self.marked))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._show_detail()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted request in full: reason, dates, who, notes, and what deciding it changes."""
        o, queue = self.selected(), self.queue
        pane = self.query_one("#override-detail", Static)
        if o is None or queue is None:
            pane.update("")
            return
        window = f"from {o.starts_on} " + (f"to {o.expires_on}" if o.expires_on else "with no end")
        lines = [
            f"#{o.id} {o.partner_id} {o.partner_name}: {o.tier}, {window}",
            f"Requested by {o.requested_by}. Reason: {o.reason}",
        ]
        if o.decided_by:
            verb = "Rejected" if o.status == "rejected" else "Approved"
            lines.append(
                f"{verb} by {o.decided_by} at {str(o.decided_at)[:16]}." + (f" Note: {o.note}" if o.note else "")
            )
        if o.status == "revoked":
            lines.append(f"Revoked by {o.revoked_by} at {str(o.revoked_at)[:16]}. Note: {o.revoke_note}")
        if o.status in ("pending", "approved"):
            effect = self.effects.get(o.id)
            if effect is None:
                verb = "approving" if o.status == "pending" else "revoking"
                lines.append(f"Working out what {verb} changes…")
                # once this frame is drawn: a worker started now would compete with the drawing
                self.call_after_refresh(self._want_effect)
            else:
                shown = PANE_PERIODS[1] if self.app.size.width >= 100 else PANE_PERIODS[0]
                lines += [effect] if isinstance(effect, str) else effect.lines(shown)
        if self.marked:
            lines.append(f"{len(self.marked)} marked: a approves them, r rejects them (one note), space unmarks.")
        pane.update(Content(visible("\n".join(lines), keep_newlines=True)))

    def _want_effect(self) -> None:
        """Work out what deciding the highlighted override changes, unless a worker is at it: when
        it reports, the row highlighted then is worked out next (held-down arrows start one worker)."""
        if not self.effect_running:
            o = self.selected()
            if o is not None:
                self.effect_running = True
                self._load_effect(o.id, self.effect_generation)

    @work(thread=True, group="overrides-effect", exit_on_error=False)
    def _load_effect(self, override_id: int, generation: int) -> None:
        engine = self.app.engine  # before the services' SQLAlchemy side is imported
        from ...services.override_effect import effect_of

        result: Effect | str
        try:
            result = effect_of(engine, override_id)
        except ServiceError as exc:
            result = f"What deciding it changes could not be worked out: {exc}"
        except Exception as exc:  # noqa: BLE001 - shown to the person, the app keeps running
            result = f"What deciding it changes could not be worked out: unexpected {exc.__class__.__name__}: {exc}"
        self.report(self._effect_loaded, override_id, generation, result)

    def _effect_loaded(self, override_id: int, generation: int, result: Effect | str) -> None:
        self.effect_running = False
        if generation == self.effect_generation:  # else the data changed meanwhile: worked out again
            self.effects[override_id] = result
        self._show_detail()

    def selected(self) -> OverrideView | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _say(self, text: str, error: bool = False) -> None:
        """``text`` in the message line, and as a notification once the frame with it is drawn
        (mounting a toast, and moving those still up, held up that frame: the queue's repaint)."""
        self.query_one("#override-message", Static).update(Text(visible(text), style="bold red" if error else "green"))
        severity, title = ("error", "Refused") if error else ("information", "Override")
        self.call_after_refresh(lambda: self.notify(text, severity=severity, title=title))

    # ------------------------------------------------------------------ actions

    def action_decide(self, approve: bool, note: str = "") -> None:
        if self.deciding is not None:
            self._say(f"Override #{self.deciding} is still being written; try again in a moment.", error=True)
            return
        if self.marked:
            ids = [o.id for o in self.rows if o.id in self.marked]
        else:
            o = self.selected()
            if o is None:
                return
            if o.status != "pending":
                self._say(f"Override #{o.id} is already {o.status}.", error=True)
                return
            ids = [o.id]
        self.deciding = ids[0]
        # said only when the decision takes a while: a repaint at once would hold up the repaint
        # with the decision (the screen refreshes at most every 1/60 s) and compete with its worker
        text = Text(f"Deciding override{'s' if len(ids) > 1 else ''} {', '.join(f'#{i}' for i in ids)}…", style="dim")
        self.deciding_note = self.set_timer(
            DECIDING_NOTE_AFTER, lambda: self.query_one("#override-message", Static).update(text)
        )
        self._decide(ids, approve, note, self.show_all)

    @work(thread=True, group="overrides-decide", exit_on_error=False)
    def _decide(self, override_ids: list[int], approve: bool, note: str, show_all: bool) -> None:
        """Each request its own decision (its own unit of work, audited, the four-eyes rule checked):
        a refusal leaves the others decided and is reported."""
        engine = self.app.engine
        decided: list[OverrideView] = []
        refused: list[str] = []
        for override_id in override_ids:
            try:
                decided.append(overrides.decide(engine, self.app.user, override_id, approve, note))
            except ServiceError as exc:
                refused.append(f"#{override_id}: {exc}")
            except Exception as exc:  # noqa: BLE001 - shown to the person, the app keeps running
                refused.append(f"#{override_id}: unexpected {exc.__class__.__name__}: {exc}")
        if not decided:
            self.report(self._refused, "; ".join(refused))
            return
        # Repainted from the decisions' own results (their rows, their partners' tiers as the
        # decision re-levelled them: one read by id); once that is drawn the whole queue is read
        # again, and drawn again only when it differs (another person's change meanwhile).
        shown = self.queue
        if shown is not None and shown.period == reads.latest_period(engine):
            by_id = {v.id: v for v in decided}
            rows = [by_id.get(o.id, o) for o in shown.rows if show_all or o.id not in by_id]
            hits = reads.partners_by_id(engine, [v.partner_id for v in decided], shown.period)
            tiers = {**shown.tiers, **{h.partner_id: h.tier for h in hits}}
            earned = {**shown.earned, **{h.partner_id: h.earned_tier for h in hits}}
            quick = Queue(rows, shown.period, tiers, earned)
            self.report(self._decided, decided, refused, approve, show_all, quick, True)
            return
        queue = read_queue(engine, show_all, also=tuple(v.partner_id for v in decided))
        self.report(self._decided, decided, refused, approve, show_all, queue)

    def _refused(self, message: str) -> None:
        self._written()
        self._say(message, error=True)

    def _written(self) -> None:
        """The decision (or undo, or revocation) being written has landed or been refused."""
        self.deciding = None
        if self.deciding_note is not None:
            self.deciding_note.stop()
            self.deciding_note = None

    def _decided(
        self,
        views: list[OverrideView],
        refused: list[str],
        approve: bool,
        show_all: bool,
        queue: Queue,
        read_again: bool = False,
    ) -> None:
        self._written()
        self.marked -= {v.id for v in views}
        self.marked -= {int(r[1 : r.index(":")]) for r in refused}
        self.last_decided = views[-1].id
        self.loaded_version = self.app.data_changed()  # this screen shows the new data already
        verb = "approved" if approve else "rejected"
        if len(views) == 1 and not refused:
            view = views[0]
            tier = queue.tiers.get(view.partner_id)
            later = ""
            if approve and tier != view.tier:  # e.g. the window starts after the latest levelled period
                later = f" {view.tier} applies from {view.starts_on}."
            self._say(
                f"Override #{view.id} {verb}: {view.partner_id} is now {tier or 'not levelled'}"
                + (f" in {queue.period}." if queue.period else ".")
                + later
                + " u undoes it."
            )
        else:
            done = ", ".join(f"#{v.id}" for v in views)
            text = f"{len(views)} override{'s' if len(views) != 1 else ''} {verb} ({done})."
            if refused:
                text += f" Refused {len(refused)}: " + "; ".join(refused)
            self._say(text, error=bool(refused))
        self._show(show_all, queue)
        if read_again:  # ``queue`` was made from the decisions' results: the whole queue, once drawn
            self.call_after_refresh(self._load, show_all, True)

    def action_undo(self) -> None:
        if self.last_decided is None:
            self._say("You have decided nothing here yet: nothing to undo.", error=True)
            return
        if self.deciding is not None:
            self._say(f"Override #{self.deciding} is still being written; try again in a moment.", error=True)
            return
        self.deciding = self.last_decided
        self._undo(self.last_decided, self.show_all)

    @work(thread=True, group="overrides-decide", exit_on_error=False)
    def _undo(self, override_id: int, show_all: bool) -> None:
        engine = self.app.engine
        try:
            view = overrides.undo(engine, self.app.user, override_id)
        except ServiceError as exc:
            self.report(self._refused, str(exc))
            return
        queue = read_queue(engine, show_all, also=(view.partner_id,))
        self.report(self._undone, view, show_all, queue)

    def _undone(self, view: OverrideView, show_all: bool, queue: Queue) -> None:
        self._written()
        self.last_decided = None
        self.loaded_version = self.app.data_changed()
        tier = queue.tiers.get(view.partner_id)
        self._say(f"Override #{view.id} is pending again: {view.partner_id} is {tier or 'not levelled'}.")
        self._show(show_all, queue)

    def action_revoke(self) -> None:
        """R on an approved override: say at once why it cannot be revoked (status, role, four eyes),
        else ask for the note, then revoke it in a worker (re-levelled and audited by the service)."""
        o = self.selected()
        if o is None:
            return
        if self.deciding is not None:
            self._say(f"Override #{self.deciding} is still being written; try again in a moment.", error=True)
            return
        if o.status != "approved":
            hint = "" if self.show_all else " (v shows every override)"
            self._say(f"Override #{o.id} is {o.status}: only an approved override can be revoked{hint}.", error=True)
            return
        engine, user, override_id = self.app.engine, self.app.user, o.id
        self.run_in_thread(
            lambda: overrides.revocation_refused(engine, user, override_id),
            lambda why: self._ask_revocation_note(o, why),
            group="overrides-decide",
        )

    def _ask_revocation_note(self, o: OverrideView, refused: str | None) -> None:
        from .dialogs import NoteScreen

        if refused:
            self._say(refused, error=True)
            return
        effect = self.effects.get(o.id)
        hint = "" if effect is None or isinstance(effect, str) else "\n".join(effect.lines(PANE_PERIODS[0]))

        def done(note: str | None) -> None:
            if note:
                self.deciding = o.id
                self.query_one("#override-message", Static).update(Text(f"Revoking override #{o.id}…", style="dim"))
                self._revoke(o.id, note, self.show_all)

        title = f"Revoke override #{o.id} ({o.partner_id} → {o.tier})"
        self.app.push_screen(NoteScreen(title, verb="revoke", hint=hint), done)

    @work(thread=True, group="overrides-decide", exit_on_error=False)
    def _revoke(self, override_id: int, note: str, show_all: bool) -> None:
        engine = self.app.engine
        try:
            view = overrides.revoke(engine, self.app.user, override_id, note)
        except ServiceError as exc:
            self.report(self._refused, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown to the person, the app keeps running
            self.report(self._refused, f"#{override_id}: unexpected {exc.__class__.__name__}: {exc}")
            return
        queue = read_queue(engine, show_all, also=(view.partner_id,))
        self.report(self._revoked, view, show_all, queue)

    def _revoked(self, view: OverrideView, show_all: bool, queue: Queue) -> None:
        self._written()
        self.loaded_version = self.app.data_changed()  # this screen shows the new data already
        tier = queue.tiers.get(view.partner_id)
        self._say(
            f"Override #{view.id} revoked: it no longer applies; {view.partner_id} is {tier or 'not levelled'}"
            + (f" in {queue.period}." if queue.period else ".")
        )
        self._show(show_all, queue)

    def action_reject(self) -> None:
        from .dialogs import NoteScreen

        def done(note: str | None) -> None:
            if note:
                self.action_decide(False, note)

        if self.marked:  # one note for the batch
            ids = ", ".join(f"#{o.id}" for o in self.rows if o.id in self.marked)
            self.app.push_screen(NoteScreen(f"Reject {len(self.marked)} overrides ({ids})"), done)
            return
        o = self.selected()
        if o is None:
            return
        if o.requested_by == self.app.user:
            self._say(f"you requested override {o.id}; someone else must reject it", error=True)
            return
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


def _cell(text: str, width: int | None = None) -> Cell:
    """A cell from data: literal (a DataTable reads a str as markup), control characters visible."""
    shown = visible(text)
    if width is not None and len(shown) > width:
        shown = shown[: width - 1] + "…"
    return Cell(shown)


def _mark(marked: bool) -> Cell:
    return Cell(("●" if marked else " ", "bold yellow"))
