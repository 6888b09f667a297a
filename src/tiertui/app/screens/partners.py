"""The partner list: type-to-filter, filters, sort on any column, Enter opens the scorecard.

Only the visible rows are fetched (see :class:`VirtualTable`); the filtering query runs in a
thread worker, the newest keystroke cancelling the search before it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Footer, Header, Input, Select, Static
from textual.worker import get_current_worker

from ...services import browse
from ...services.browse import PartnerQuery, PartnerRow
from ..widgets import Column, VirtualTable, event_text, risk_text, tier_text
from .base import DataScreen, fix_blink

COLUMNS = [
    Column("partner_id", "ID", 8),
    Column("name", "Name", 18, flex=True),
    Column("region", "Region", 6),
    Column("partner_type", "Type", 11),
    Column("account_manager", "Manager", 12),
    Column("tier", "Tier", 12),
    Column("score", "Score", 6, align="right"),
    Column("event", "Event", 10),
    Column("at_risk", "Risk", 9),
    Column("badges", "Badges", 16),
]
SORTABLE = [c.key for c in COLUMNS]
RISK_CHOICES = [("At risk", "yes"), ("Not at risk", "no")]
EVENT_CHOICES = [("▲ promoted", "promoted"), ("▼ demoted", "demoted"), ("◆ grace", "grace"), ("· held", "held")]


def render_cell(row: PartnerRow, key: str) -> Text:
    if key == "tier":
        return tier_text(row.tier, row.event, row.overridden)
    if key == "score":
        return Text("" if row.score is None else f"{row.score:.2f}")
    if key == "event":
        return event_text(row.event)
    if key == "at_risk":
        return risk_text(row.at_risk)
    if key == "badges":
        return Text(", ".join(row.badges), style="cyan")
    return Text(str(getattr(row, key) or ""))


class PartnersScreen(DataScreen):
    BINDINGS = [
        Binding("slash", "search", "Search", id="partners.search"),
        Binding("s", "sort_next", "Sort column", id="partners.sort"),
        Binding("S", "sort_reverse", "Reverse", id="partners.reverse"),
        Binding("f", "filters", "Filters", id="partners.filters"),
        Binding("x", "clear", "Clear filters", id="partners.clear"),
    ]

    def __init__(self, query: PartnerQuery | None = None, title: str | None = None) -> None:
        super().__init__()
        self.initial = query or PartnerQuery()
        self.partner_query = self.initial
        self.heading = title
        self.program = None
        self.period: str | None = None
        # type-to-filter works in memory: the keys of the query without its text, and their search texts
        self._texts: dict[int, str] | None = None
        self._base: tuple[PartnerQuery, np.ndarray, list[str] | None] | None = None

    def compose(self) -> ComposeResult:
        q = self.initial
        yield Header()
        with Grid(id="partner-filters", classes="filters"):
            yield Input(q.text, placeholder="Filter id or name  /", id="search", compact=True)
            yield Select([], prompt="Any tier", id="tier", compact=True)
            yield Select([], prompt="Any region", id="region", compact=True)
            yield Select([], prompt="Any type", id="type", compact=True)
            yield Select([], prompt="Any manager", id="manager", compact=True)
            yield Select(RISK_CHOICES, prompt="Any risk", id="risk", compact=True)
            yield Select(EVENT_CHOICES, prompt="Any event", id="event", compact=True)
        yield Static(id="partner-status", classes="status")
        yield VirtualTable(COLUMNS, self._fetch, render_cell, empty_message="No partners match.", id="partners")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Partners" + (f" · {self.heading}" if self.heading else "")
        fix_blink(self)
        choices = browse.filter_choices(self.app.engine, tracks=False)
        self.program = browse.program_or_none(self.app.engine)
        for widget_id, options in (("tier", choices.tiers), ("region", choices.regions),
                                   ("type", choices.types), ("manager", choices.managers)):
            self.query_one(f"#{widget_id}", Select).set_options((o, o) for o in options)
        q = self.initial
        for widget_id, value in (("tier", q.tier), ("region", q.region), ("type", q.partner_type),
                                 ("manager", q.manager), ("event", q.event),
                                 ("risk", None if q.at_risk is None else ("yes" if q.at_risk else "no"))):
            if value is not None:
                self.query_one(f"#{widget_id}", Select).value = value
        table = self.query_one(VirtualTable)
        table.sort_key, table.descending = q.sort, q.descending
        table.focus()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        self.period = browse.latest_period(self.app.engine)
        self._texts = self._base = None  # the data changed: names, results
        self.run_query(self.partner_query, keep_cursor=True)

    def _fetch(self, keys) -> list[PartnerRow]:
        return browse.partner_rows(self.app.engine, keys, self.period)

    def run_query(self, query: PartnerQuery, keep_cursor: bool = False) -> None:
        self.partner_query = query
        table = self.query_one(VirtualTable)
        table.sort_key, table.descending = query.sort, query.descending
        table.loading_rows = True
        self._update_status(searching=True)
        self._search(query, keep_cursor)

    @work(exclusive=True, thread=True, group="partner-search")
    def _search(self, query: PartnerQuery, keep_cursor: bool) -> None:
        worker = get_current_worker()
        keys = self._keys(query)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, query, keys, keep_cursor)
        if self._texts is None and not worker.is_cancelled:
            self._search_texts(keys[:0])  # ready for the first keystroke, after the rows are up

    def _keys(self, query: PartnerQuery) -> np.ndarray:
        """The keys ``query`` selects; only a change of filter or sort goes to the database."""
        base_query = replace(query, text="", period=query.period or self.period)
        base = self._base
        if base is None or base[0] != base_query:
            keys = browse.partner_keys(self.app.engine, base_query, self.program)
            base = self._base = (base_query, keys, None)
        if not query.text.strip():
            return base[1]
        if base[2] is None:  # the first search over these keys
            base = self._base = (base_query, base[1], self._search_texts(base[1]))
        return base[1][browse.text_matches(base[2], query.text)]

    def _search_texts(self, keys: np.ndarray) -> list[str]:
        texts = self._texts
        if texts is None:
            texts = self._texts = browse.partner_search_texts(self.app.engine)
        return [texts.get(k, "") for k in keys.tolist()]

    def _show(self, query: PartnerQuery, keys: np.ndarray, keep_cursor: bool) -> None:
        if query != self.partner_query:
            return  # a newer search is on its way
        table = self.query_one(VirtualTable)
        table.loading_rows = False
        table.set_ids(keys, keep_cursor=keep_cursor)
        self._update_status()

    def _update_status(self, searching: bool = False) -> None:
        table = self.query_one(VirtualTable)
        q = self.partner_query
        label = next(c.label for c in COLUMNS if c.key == q.sort)
        parts = [
            "searching…" if searching else f"{table.row_count:,} partner{'s' if table.row_count != 1 else ''}",
            f"period {self.period}" if self.period else "not levelled yet",
            f"sorted by {label} {'▼' if q.descending else '▲'}",
        ]
        active = [f"{name}: {value}" for name, value in (
            ("text", q.text.strip() or None), ("tier", q.tier), ("region", q.region), ("type", q.partner_type),
            ("manager", q.manager), ("event", q.event),
            ("risk", None if q.at_risk is None else ("at risk" if q.at_risk else "not at risk")),
        ) if value]
        if active:
            parts.append("filters: " + ", ".join(active))
        self.query_one("#partner-status", Static).update(" · ".join(parts))

    # ------------------------------------------------------------------ events

    @on(Input.Changed, "#search")
    def _text_changed(self, event: Input.Changed) -> None:
        if event.value == self.partner_query.text:
            return
        self.run_query(replace(self.partner_query, text=event.value))

    @on(Input.Submitted, "#search")
    def _text_submitted(self) -> None:
        self.query_one(VirtualTable).focus()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        field = {"tier": "tier", "region": "region", "type": "partner_type", "manager": "manager",
                 "event": "event", "risk": "at_risk"}[event.select.id]
        if field == "at_risk" and value is not None:
            value = value == "yes"
        if getattr(self.partner_query, field) == value:
            return
        self.run_query(replace(self.partner_query, **{field: value}))

    @on(VirtualTable.Selected, "#partners")
    def _open(self, event: VirtualTable.Selected) -> None:
        self.app.open_scorecard(event.row.partner_id, self.period)

    @on(VirtualTable.HeaderClicked, "#partners")
    def _header(self, event: VirtualTable.HeaderClicked) -> None:
        q = self.partner_query
        descending = not q.descending if q.sort == event.column else event.column in ("score", "tier", "at_risk")
        self.run_query(replace(q, sort=event.column, descending=descending))

    # ------------------------------------------------------------------ actions

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_filters(self) -> None:
        self.query_one("#tier", Select).focus()

    def action_sort_next(self) -> None:
        q = self.partner_query
        key = SORTABLE[(SORTABLE.index(q.sort) + 1) % len(SORTABLE)]
        self.run_query(replace(q, sort=key, descending=key in ("score", "tier", "at_risk")))

    def action_sort_reverse(self) -> None:
        self.run_query(replace(self.partner_query, descending=not self.partner_query.descending))

    def action_clear(self) -> None:
        q = self.partner_query
        self.run_query(PartnerQuery(sort=q.sort, descending=q.descending))
        self.query_one("#search", Input).value = ""
        for select in self.query(Select):
            select.clear()
