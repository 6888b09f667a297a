"""Every certification, filterable by track, partner and status; and who would lose a gate of
their tier, or (v2 §3.12) a designation, if the certifications expiring before the next period
end lapse."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Header, Input, Select, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from ...safe_text import visible
from ...services.read import engine as reads
from ...services.read.engine import CERT_STATUS_LABELS, CertificationQuery, CertificationRow, LapseReport
from ..literal import data_text, literal
from ..widgets import Column, VirtualTable
from ..widgets.focus import focus_now
from ..widgets.footer import KeysFooter
from ..widgets.select_stub import SelectStub
from .base import DataScreen, fix_blink

PAGE = 100  # the first rows of a list, shown while the rest of it is read

COLUMNS = [
    Column("partner_id", "Partner", 7),
    Column("partner_name", "Name", 12, flex=True),
    Column("track", "Track", 5),
    Column("person", "Person", 6, essential=False),
    Column("certification", "Certification", 13, essential=False),
    Column("earned_on", "Earned", 10, essential=False),
    Column("expires_on", "Expires", 10),
    Column("status", "Status", 6),
]


def render_cell(row: CertificationRow, key: str) -> Text:
    if key == "status":
        if row.status == "expired":
            return Text(f"✘ expired {-row.days_left} d ago", style="red")
        if row.status == "expiring":
            return Text(f"◔ expires in {row.days_left} d", style="yellow")
        return Text("✔ active", style="green")
    if key == "expires_on":
        return Text(str(row.expires_on) if row.expires_on else "never", style="" if row.expires_on else "dim")
    return data_text(getattr(row, key))


TRACK_PROMPT = "Track: any"
STATUS_PROMPT = "Status: any"


class CertificationsScreen(DataScreen):
    AUTO_FOCUS = "#certs"  # keys typed on the way in are the list's (``/`` searches), not the box's
    BINDINGS = [
        Binding("slash", "search", "Partner filter", id="certifications.search"),
        Binding("f", "filters", "Filters", id="certifications.filters"),
        Binding("t", "toggle_tab", "Lapse risk / all", id="certifications.toggle_tab"),
        Binding("x", "clear", "Clear filters", id="certifications.clear"),
    ]

    def __init__(self, query: CertificationQuery | None = None) -> None:
        super().__init__()
        self.initial = query or CertificationQuery()
        self.cert_query = self.initial
        self._counting: CertificationQuery | None = None  # the query whose first page is up, the rest coming
        self.lapse_version = -1  # the data version the lapse-risk tab shows (or is computing)
        self._tracks: tuple[str, ...] = ()  # the track filter's choices, once read
        self._filters = "stubs"  # the filter Selects: "stubs", "mounting", "mounted"
        self._filters_mounted = asyncio.Event()

    def compose(self) -> ComposeResult:
        q = self.initial
        yield Header()
        with TabbedContent(id="cert-tabs"):
            with TabPane("All certifications", id="all"):
                with Grid(id="cert-filters", classes="filters"):
                    yield Input(q.partner, placeholder="Partner id or name  /", id="cert-partner", compact=True)
                    # stand-ins that look the same until the first rows are drawn (a Select is six
                    # widgets to style and lay out): see _mount_filters
                    yield SelectStub(q.track or TRACK_PROMPT, has_value=q.track is not None, stands_for="track")
                    yield SelectStub(
                        CERT_STATUS_LABELS[q.status] if q.status != "all" else STATUS_PROMPT,
                        has_value=q.status != "all",
                        stands_for="status",
                    )
                yield Static(id="cert-status", classes="status")
                yield VirtualTable(
                    COLUMNS, self._fetch, render_cell, empty_message="No certifications match.", id="certs"
                )
            with TabPane("Lapse risk", id="lapse"):
                with Vertical(id="lapse-pane"):
                    yield Static(id="lapse-status", classes="status")
                    # its table is made when the tab is first shown (_lapse_table): the list comes first
        yield KeysFooter(hold=True)  # its dozen keys after the first rows: they come first

    def on_mount(self) -> None:
        self.title = "Certifications"
        fix_blink(self)
        self._load_choices()
        focus_now(self.query_one("#certs", VirtualTable))

    def _lapse_table(self) -> DataTable:
        """The lapse-risk table, made and mounted the first time it is needed (the tab is shown): one
        widget fewer to style and lay out before the list's first rows."""
        found = self.query("#lapse-table")
        if found:
            return found.first(DataTable)
        table: DataTable = DataTable(id="lapse-table", cursor_type="row", zebra_stripes=True)
        _lapse_columns(table, [])
        self.query_one("#lapse-pane").mount(table)
        return table

    @work(thread=True, group="cert-choices", exit_on_error=False)
    def _load_choices(self) -> None:
        self.report(self._show_choices, reads.certification_tracks(self.app.engine))

    async def _mount_filters(self) -> None:
        """Put the real Selects where their stand-ins are (the first rows are on screen)."""
        if self._filters == "stubs":
            self._filters = "mounting"
            q = self.cert_query
            tracks = list(self._tracks)
            if q.track is not None and q.track not in tracks:
                tracks.append(q.track)  # the choices are not in yet: it shows meanwhile
            selects = [
                Select(
                    [(visible(t), t) for t in tracks],
                    prompt=TRACK_PROMPT,
                    id="track",
                    compact=True,
                    value=Select.NULL if q.track is None else q.track,
                ),
                Select(
                    [(label, key) for key, label in CERT_STATUS_LABELS.items() if key != "all"],
                    prompt=STATUS_PROMPT,
                    id="status",
                    compact=True,
                    value=Select.NULL if q.status == "all" else q.status,
                ),
            ]
            await self.query_one("#cert-filters", Grid).mount(*selects, after="#cert-partner")
            await self.query(SelectStub).remove()
            self._filters = "mounted"
            self._filters_mounted.set()
            if self._tracks:  # they came while the Selects were being mounted
                self._show_choices(self._tracks)
        await self._filters_mounted.wait()

    def _with_filters(self, action: Callable[[], object]) -> None:
        """``action`` once the real Selects are mounted (at once when they are)."""
        if self._filters == "mounted":
            action()
            return

        async def then() -> None:
            await self._mount_filters()
            action()

        self.run_worker(then(), group="cert-filters")

    def _show_choices(self, tracks: tuple[str, ...]) -> None:
        self._tracks = tracks
        if self._filters != "mounted":
            return  # the Select gets them when it is mounted
        track = self.query_one("#track", Select)
        chosen = track.selection or self.initial.track
        with self.prevent(Select.Changed):
            track.set_options((visible(t), t) for t in tracks)
            if chosen in tracks:
                track.value = chosen

    def reload(self) -> None:
        self.run_query(self.cert_query, keep_cursor=True)
        if self.query_one(TabbedContent).active == "lapse":
            self._load_lapse()
        # else: the lapse risk is computed when its tab is first shown (it evaluates the next
        # period's gates for every partner: seconds at 100,000 partners, which would slow the list)

    def _load_lapse(self) -> None:
        """Compute the lapse risk (in a worker) unless it is shown, or being computed, for the data in hand."""
        self._lapse_table()
        if self.lapse_version == self.loaded_version:
            return
        self.lapse_version = self.loaded_version
        self.query_one("#lapse-status", Static).update("computing lapse risk…")
        self._lapse()

    @on(TabbedContent.TabActivated, "#cert-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "lapse":
            self._load_lapse()

    def _fetch(self, ids) -> list[CertificationRow]:
        return reads.certification_rows(self.app.engine, ids, self.app.today)

    def run_query(self, query: CertificationQuery, keep_cursor: bool = False) -> None:
        self.cert_query = query
        self.query_one("#certs", VirtualTable).loading_rows = True
        self.query_one("#cert-status", Static).update("searching…")
        self._search(query, keep_cursor)

    @work(exclusive=True, thread=True, group="cert-search")
    def _search(self, query: CertificationQuery, keep_cursor: bool) -> None:
        """The first page of the list with its rows (an index gives them in milliseconds), then all
        the ids (hundreds of thousands at 100,000 partners: seconds) once that page is on screen."""
        worker = get_current_worker()
        engine, today = self.app.engine, self.app.today
        first = reads.certification_ids(engine, query, today, limit=PAGE)
        if len(first) < PAGE:  # the whole list
            if not worker.is_cancelled:
                self.report(self._show, query, first, keep_cursor, reads.certification_rows(engine, first, today))
            return
        drawn = threading.Event()
        if not worker.is_cancelled:
            rows = reads.certification_rows(engine, first, today)
            self.report(self._show, query, first, keep_cursor, rows, drawn)
            drawn.wait(0.5)  # reading the rest would slow the drawing of that page
        if worker.is_cancelled:
            return
        # read in chunks: leaving the screen (or a newer query) stops the read, rather than leaving
        # hundreds of thousands of rows to be read for nobody while the next screen opens
        ids = reads.certification_ids(engine, query, today, cancelled=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.report(self._show, query, ids, True)

    def _show(
        self,
        query: CertificationQuery,
        ids: np.ndarray,
        keep_cursor: bool,
        first_rows: list[CertificationRow] | None = None,
        drawn: threading.Event | None = None,
    ) -> None:
        """Show ``ids``: the whole list, or (``drawn`` given) its first page while the rest is counted."""
        if drawn is not None:
            self.call_after_refresh(drawn.set)
        self.call_after_refresh(self.query_one(KeysFooter).release)  # the keys after the first rows
        if self._filters == "stubs":
            self.call_after_refresh(self._mount_filters)
        if query != self.cert_query:
            return
        table = self.query_one("#certs", VirtualTable)
        more = self._counting == query  # the whole list of the page on screen: its rows stay
        self._counting = query if drawn is not None else None
        table.loading_rows = False
        table.set_ids(ids, keep_cursor=keep_cursor or more, keep_rows=more)
        if first_rows is not None:
            table.prime(0, ids[:PAGE], first_rows)
        filters = [
            f
            for f in (
                f"track: {query.track}" if query.track else "",
                f"partner: {query.partner.strip()}" if query.partner.strip() else "",
                CERT_STATUS_LABELS[query.status].lower() if query.status != "all" else "",
            )
            if f
        ]
        count = (
            f"first {len(ids):,} certifications, counting…"
            if drawn is not None
            else f"{len(ids):,} certification{'s' if len(ids) != 1 else ''}"
        )
        self.query_one("#cert-status", Static).update(
            literal(f"{count} · today {self.app.today}" + (" · " + ", ".join(filters) if filters else ""))
        )

    @work(exclusive=True, thread=True, group="lapse")
    def _lapse(self) -> None:
        worker = get_current_worker()
        report = reads.lapse_risk(self.app.engine, self.app.today)
        if not worker.is_cancelled:
            self.report(self._show_lapse, report)

    def _show_lapse(self, report: LapseReport) -> None:
        table = self._lapse_table()
        rows = [
            (
                data_text(r.partner_id),
                data_text(r.name),
                data_text(r.tier),
                data_text(r.track),
                Text(f"≥ {r.required:g}") if r.gate else Text("met", style="dim"),
                Text(str(r.now)),
                Text(str(r.at_period_end), style="bold red" if r.gate else "yellow"),
                Text(str(r.lapsing)),
                data_text(r.designation_words, style="yellow") if r.designations else Text("—", style="dim"),
            )
            for r in report.rows
        ]
        table.clear(columns=True)
        _lapse_columns(table, rows)
        for r, row in zip(report.rows, rows, strict=True):
            table.add_row(*row, key=f"{r.partner_id}\t{r.track}")  # a partner can be at risk on several tracks
        if report.period is None:
            text = "Nothing levelled yet."
        else:
            gates = len({r.partner_id for r in report.rows if r.gate})
            losing = len({r.partner_id for r in report.rows if r.designations})
            text = (
                f"{gates} partner{'s' if gates != 1 else ''} would fall below a "
                f"certification gate of their tier at the end of {report.period} ({report.end}) if the "
                "certifications expiring before then lapse"
                + (f"; {losing} would lose a designation" if losing else "")
                + ". Enter opens the partner."
            )
        self.query_one("#lapse-status", Static).update(literal(text))

    # ------------------------------------------------------------------ events

    @on(Input.Changed, "#cert-partner")
    def _partner_changed(self, event: Input.Changed) -> None:
        if event.value != self.cert_query.partner:
            self.run_query(replace(self.cert_query, partner=event.value))

    @on(Input.Submitted, "#cert-partner")
    def _partner_submitted(self) -> None:
        focus_now(self.query_one("#certs", VirtualTable))

    @on(Select.Changed, "#track")
    def _track(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        if value != self.cert_query.track:
            self.run_query(replace(self.cert_query, track=value))

    @on(Select.Changed, "#status")
    def _status(self, event: Select.Changed) -> None:
        value = "all" if event.value is Select.NULL else event.value
        if value != self.cert_query.status:
            self.run_query(replace(self.cert_query, status=value))

    @on(VirtualTable.Selected, "#certs")
    def _open_cert(self, event: VirtualTable.Selected) -> None:
        self.app.open_scorecard(event.row.partner_id)

    @on(DataTable.RowSelected, "#lapse-table")
    def _open_lapse(self, event: DataTable.RowSelected) -> None:
        self.app.open_scorecard(event.row_key.value.split("\t")[0])

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "all"
        focus_now(self.query_one("#cert-partner", Input))

    def action_filters(self) -> None:
        self.query_one(TabbedContent).active = "all"
        self._with_filters(lambda: focus_now(self.query_one("#track", Select)))

    def action_toggle_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "lapse" if tabs.active == "all" else "all"
        (self._lapse_table() if tabs.active == "lapse" else self.query_one("#certs")).focus()

    def action_clear(self) -> None:
        self.run_query(CertificationQuery())
        self.query_one("#cert-partner", Input).value = ""

        def clear() -> None:
            self.query_one("#track", Select).clear()
            self.query_one("#status", Select).clear()

        self._with_filters(clear)


LAPSE_COLUMNS = ("Partner", "Name", "Tier", "Track", "Gate", "Now", "At end", "Lapsing", "Designations lost")
LAPSE_NAME_WIDTH = 14  # a long partner name is cut here (Enter opens its scorecard, which has it whole)


def _lapse_columns(table: DataTable, rows: list[tuple[Text, ...]]) -> None:
    """The lapse-risk table's columns, each as wide as its widest cell, set with the rows: a DataTable
    measures rows added to a table already on screen only when it next goes idle, and a header drawn
    before then keeps its narrow cells (seen in CI: "Tier  Track" over wider rows).

    The tier's gate and the counts, short, come before the designations that would be lost, whose
    names are as long as a program makes them: last, so that no number is pushed off the screen."""
    for i, heading in enumerate(LAPSE_COLUMNS):
        width = LAPSE_NAME_WIDTH if heading == "Name" else max([len(heading), *(row[i].cell_len for row in rows)])
        table.add_column(heading, width=width)
