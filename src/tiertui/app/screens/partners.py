"""The partner list: type-to-filter, filters, sort on any column, Enter opens the scorecard.

Only the visible rows are fetched (see :class:`VirtualTable`). Everything else is read in thread
workers, through the app's reader (see :mod:`tiertui.services.read.fast`):

* a search (a change of filter or sort) streams the matching keys: the first page shows as soon as
  the database has it (read at once on the UI thread when it takes a few milliseconds, as the ID
  order does, so the first frame has rows), the rest follows; the newest search cancels the one
  before it;
* the filter choices and the partners' search texts load after the first list is up; the seven
  filter Selects are drawn as stubs that look the same until the list is complete (a Select is six
  widgets for Textual to style and lay out: together they were a third of the screen's cost), and
  the footer's keys wait for it too;
* type-to-filter works in memory on the search texts of the current filter's keys, narrowing the
  previous result while the typed text only grows; once those are loaded, a search over up to
  150,000 texts (~10 ms) runs at once in the key's handler, so the list is redrawn in the same
  frame as the search box (a thread's answer comes a frame or two later).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import replace
from itertools import compress

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.content import Content
from textual.widgets import Header, Input, Select, Static
from textual.worker import get_current_worker

from ...safe_text import visible
from ...scoring import score_text
from ...services.read import FilterChoices, PartnerQuery, PartnerRow
from ...services.read import sql as statements
from ..literal import data_text
from ..widgets import Column, VirtualTable, event_text, risk_text, tier_text
from ..widgets.focus import focus_now
from ..widgets.footer import KeysFooter
from ..widgets.search_box import SearchBox
from ..widgets.select_stub import SelectStub
from .base import DataScreen, fix_blink

# Essential at any width (80×24 too): id, name, tier, score and risk; the rest give way, last first.
# Columns are as wide as their widest cell (ids and numbers are never cut); the name takes the rest.
COLUMNS = [
    Column("partner_id", "ID", 6),
    Column("name", "Name", 14, flex=True),
    Column("region", "Region", 6, essential=False),
    Column("partner_type", "Type", 4, essential=False),
    Column("account_manager", "Manager", 7, essential=False),
    Column("tier", "Tier", 8),
    Column("score", "Score", 5, align="right"),
    Column("event", "Event", 5, essential=False),
    Column("at_risk", "Risk", 4),
    Column("badges", "Badges", 6, essential=False),
]
SORTABLE = [c.key for c in COLUMNS]
RISK_CHOICES = [("At risk", "yes"), ("Not at risk", "no")]
EVENT_CHOICES = [
    ("▲ promoted", "promoted"),
    ("▼ demoted", "demoted"),
    ("◆ grace", "grace"),
    ("▣ protected", "protected"),
    ("· held", "held"),
]
PAGE = 100  # rows per fetch; also the first helping of keys of a search
# the filter Selects: id, prompt, the query's field
# (the prompt starts with the filter's label: a narrow box wraps after it, so the label always shows)
FILTERS = (
    ("tier", "Tier: any", "tier"),
    ("region", "Region: any", "region"),
    ("type", "Type: any", "partner_type"),
    ("manager", "Manager: any", "manager"),
    ("risk", "Risk: any", "at_risk"),
    ("event", "Event: any", "event"),
    ("designation", "Designation: any", "designation"),  # (v2 §3.12) held in the period shown
)
FIXED_CHOICES = {"risk": RISK_CHOICES, "event": EVENT_CHOICES}
AT_ONCE = 150_000  # search texts a keystroke searches in its handler (~10 ms); more go to a thread


def render_cell(row: PartnerRow, key: str) -> Text:
    if key == "tier":
        return tier_text(row.tier, row.event, row.overridden)
    if key == "score":
        return Text("" if row.score is None else score_text(row.score))
    if key == "event":
        return event_text(row.event)
    if key == "at_risk":
        return risk_text(row.at_risk)
    if key == "badges":
        return Text(visible(", ".join(row.badges)), style="cyan")
    return Text(visible(getattr(row, key) or ""))


class _Cache:
    """What the searches of one loading of the data share (a reload starts a new one)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # reading the database for one of the fields below
        self.period: str | None = None
        self.period_read = False
        self.tiers: tuple[str, ...] = ()  # the program's, lowest first (a sort by tier)
        self.tiers_read = False
        self.base: tuple[PartnerQuery, list[int]] | None = None  # the keys of a query without its text
        self.texts: dict[int, str] | None = None  # every partner's search text
        # the find texts of ``base``'s keys, split into ids and the rest (statements.split_texts)
        self.base_texts: tuple[PartnerQuery, list[str], list[str]] | None = None
        # the last text search: its query, words, keys found and their split texts
        self.narrow: tuple[PartnerQuery, str, list[int], list[str], list[str]] | None = None


class PartnersScreen(DataScreen):
    # the list has the focus from the start: keys typed on the way in (``l/net`` in one go) are the
    # list's (``/`` searches), not characters for the search box, the first focusable widget
    AUTO_FOCUS = "#partners"
    BINDINGS = [
        Binding("slash", "search", "Search", id="partners.search"),
        Binding("s", "sort_next", "Sort column", id="partners.sort"),
        Binding("S", "sort_reverse", "Reverse", id="partners.reverse"),
        Binding("f", "filters", "Filters", id="partners.filters"),
        Binding("x", "clear", "Clear filters", id="partners.clear"),
        Binding("V", "save_view", "Save view", id="partners.save_view"),
    ]

    def __init__(self, query: PartnerQuery | None = None, title: str | None = None) -> None:
        super().__init__()
        self.initial = query or PartnerQuery()
        self.partner_query = self.initial
        self.heading = title
        self.period: str | None = None
        self.counting = False  # the first page is up, the rest of the keys are on their way
        self._searching = False  # the status line says "searching…"
        self._cache = _Cache()
        self._extras: _Cache | None = None  # the cache whose choices and texts are loading or loaded
        self._shown: PartnerQuery | None = None  # the query whose keys the table holds
        self._choices: FilterChoices | None = None
        self._filters = "stubs"  # the filter Selects: "stubs", "mounting", "mounted"
        self._filters_mounted = asyncio.Event()

    def compose(self) -> ComposeResult:
        q = self.initial
        yield Header()
        with Grid(id="partner-filters", classes="filters"):
            yield SearchBox(q.text, placeholder="Find a partner  /", id="search", compact=True)
            for widget_id, prompt, _field in FILTERS:  # the real Selects come when the list is complete
                value = self._filter_value(widget_id, q)
                label = dict((v, p) for p, v in FIXED_CHOICES.get(widget_id, ())).get(value, value)
                yield SelectStub(prompt if value is None else label, has_value=value is not None, stands_for=widget_id)
        yield Static(id="partner-status", classes="status")
        yield VirtualTable(
            COLUMNS,
            self._fetch,
            render_cell,
            page_size=PAGE,
            empty_message="No partners match.",
            rows_by_id=True,
            id="partners",
        )
        yield KeysFooter(hold=True)  # the keys once the list is complete

    def on_mount(self) -> None:
        self.title = "Partners" + (f" · {visible(self.heading)}" if self.heading else "")
        fix_blink(self)
        q = self.initial
        table = self.query_one(VirtualTable)
        table.sort_key, table.descending = q.sort, q.descending
        table.loading_rows = True
        focus_now(table)
        # Searched as the value changes, not on Input.Changed: that message reaches the screen after
        # the frame with the new text is drawn, so the new list would wait for the next frame.
        self.watch(self.query_one("#search", Input), "value", self._text_changed, init=False)
        # the cursor's row in the status line, in the frame that moves the cursor
        self.watch(table, "cursor", lambda _cursor: self._update_status(self._searching), init=False)

    def on_screen_resume(self) -> None:  # DataScreen's handler (reload when stale) runs too
        self.refresh_bindings()  # the footer skips its updates while hidden

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        self._cache = _Cache()  # the data changed: period, program, keys and search texts are read again
        self.query_one(VirtualTable).invalidate()  # and the rows
        self.run_query(self.partner_query, keep_cursor=True)

    def _fetch(self, keys) -> list[PartnerRow]:
        return self.app.reader.partner_rows(keys, self.period)

    def run_query(self, query: PartnerQuery, keep_cursor: bool = False) -> None:
        self.partner_query = query
        table = self.query_one(VirtualTable)
        table.sort_key, table.descending = query.sort, query.descending
        keys = self._in_memory(query)
        if keys is not None:
            self.workers.cancel_group(self, "partner-search")  # the newest query wins
            self._show(query, self._cache.period, keys, keep_cursor, False)
            return
        first_drawn = self._first_page_at_once(query, keep_cursor)
        if first_drawn is True:
            self.workers.cancel_group(self, "partner-search")  # the whole list was that page
            return
        if first_drawn is None:
            table.loading_rows = True
            self._update_status(searching=True)
        self._search(query, keep_cursor, self._cache, first_drawn)

    def _first_page_at_once(self, query: PartnerQuery, keep_cursor: bool) -> threading.Event | bool | None:
        """Show the first page of a new list in the next frame if the database has it within a few
        milliseconds (the ID order is an index); the rest comes from the search thread. Returns the
        event set once that page is drawn, True if that page was the whole list, or None (the thread
        shows the first page too)."""
        if query.text.strip():
            return None
        found = self.app.reader.first_partner_keys(query, PAGE, within=0.005)
        if found is None:
            return None
        period, keys = found
        cache = self._cache
        with cache.lock:
            if not cache.period_read:
                cache.period, cache.period_read = period, True
        # The page's rows too (a hundred rows by primary key: a millisecond or two), so that the
        # first frame has them rather than placeholders and a worker's round trip. With the keys
        # read above, this is the one read on the event loop, and only on the sqlite3 fast path.
        rows = self.app.reader.partner_rows(keys, period)
        if len(keys) < PAGE:  # all of it
            cache.base = (replace(query, text="", period=query.period or cache.period), keys)
            self._show(query, cache.period, keys, keep_cursor, False)
            self.query_one(VirtualTable).prime(0, keys, rows)
            return True
        drawn = threading.Event()
        self._show(query, cache.period, keys, keep_cursor, True, drawn)
        self.query_one(VirtualTable).prime(0, keys, rows)
        return drawn

    @work(exclusive=True, thread=True, group="partner-search")
    def _search(
        self, query: PartnerQuery, keep_cursor: bool, cache: _Cache, first_drawn: threading.Event | None = None
    ) -> None:
        worker = get_current_worker()
        period = self._period(cache)
        base_query = replace(query, text="", period=query.period or period)
        base = cache.base
        if base is not None and base[0] == base_query:
            keys = base[1]
        else:
            tiers = self._tiers(cache) if base_query.sort == "tier" else ()
            chunks = self.app.reader.partner_key_chunks(base_query, tiers, first=PAGE)
            keys = next(chunks)
            drawn = first_drawn
            more_to_come = len(keys) == PAGE  # (the engine's path gives all of them at once)
            if drawn is None and more_to_come and not query.text.strip() and not worker.is_cancelled:
                drawn = threading.Event()
                rows = self.app.reader.partner_rows(keys, period)  # the page with its keys: one report
                self.report(self._show, query, period, keys, keep_cursor, True, drawn, rows)
            if drawn is not None:
                # The rest once that page is on screen: reading it (100,000 rows, the GIL passed back
                # and forth for each) would slow the drawing and the page's own read on the UI thread.
                drawn.wait(0.5)
            for more in chunks:
                if worker.is_cancelled:
                    chunks.close()
                    return
                keys = keys + more
            cache.base = (base_query, keys)
            first_drawn = drawn
        if query.text.strip():
            keys = self._matching(cache, base_query, keys, query.text)
        if not worker.is_cancelled:
            # the first page's rows come with the keys (unless that page is up already): the list is
            # drawn complete in one report, not placeholders and then a page fetched by the table
            first = None if first_drawn is not None else self.app.reader.partner_rows(keys[:PAGE], period)
            self.report(self._show, query, period, keys, keep_cursor, False, None, first)

    def _in_memory(self, query: PartnerQuery) -> list[int] | None:
        """The keys of ``query`` if they are at hand: its filter's keys are loaded and its text (if any)
        means a search over few enough loaded search texts. None: ask a thread."""
        cache = self._cache
        base = cache.base
        if not cache.period_read or base is None:
            return None
        base_query = replace(query, text="", period=query.period or cache.period)
        if base[0] != base_query:
            return None
        if not query.text.strip():
            return base[1]
        if cache.texts is None:
            return None
        narrow = cache.narrow
        needle = " ".join(statements.words_of(query.text))
        narrowing = narrow is not None and narrow[0] == base_query and needle.startswith(narrow[1])
        if len(narrow[2] if narrowing else base[1]) > AT_ONCE:
            return None
        return self._matching(cache, base_query, base[1], query.text)

    def _period(self, cache: _Cache) -> str | None:
        with cache.lock:
            if not cache.period_read:
                cache.period = self.app.reader.latest_period()
                cache.period_read = True
        return cache.period

    def _tiers(self, cache: _Cache) -> tuple[str, ...]:
        with cache.lock:
            if not cache.tiers_read:
                heading = self.app.reader.program_heading()
                cache.tiers = heading.tiers if heading else ()
                cache.tiers_read = True
        return cache.tiers

    def _texts(self, cache: _Cache) -> dict[int, str]:
        with cache.lock:
            if cache.texts is None:
                cache.texts = self.app.reader.partner_find_texts()
        return cache.texts

    def _matching(self, cache: _Cache, base_query: PartnerQuery, keys: list[int], text: str) -> list[int]:
        """The keys among ``keys`` (those of ``base_query``) that find-a-partner finds for ``text``: every
        word, in any order, on id (prefix), name, region or manager (see :func:`statements.find`)."""
        words = statements.words_of(text)
        if not words:
            return []
        needle = " ".join(words)
        narrow = cache.narrow
        if narrow is not None and narrow[0] == base_query and needle.startswith(narrow[1]):
            # the text grew: only the last matches can still match (a longer word matches less)
            keys, ids, rests = narrow[2], narrow[3], narrow[4]
        else:
            base_texts = cache.base_texts
            if base_texts is None or base_texts[0] != base_query:
                everyone = self._texts(cache)
                ids, rests = statements.split_texts([everyone.get(k, "\x00") for k in keys])
                base_texts = cache.base_texts = (base_query, ids, rests)
            ids, rests = base_texts[1], base_texts[2]
        mask = statements.matching_pairs(ids, rests, words)
        found = list(compress(keys, mask))
        cache.narrow = (base_query, needle, found, list(compress(ids, mask)), list(compress(rests, mask)))
        return found

    def _show(
        self,
        query: PartnerQuery,
        period: str | None,
        keys: Sequence[int],
        keep_cursor: bool,
        partial: bool,
        drawn: threading.Event | None = None,
        first_rows: list[PartnerRow] | None = None,
    ) -> None:
        if drawn is not None:
            self.call_after_refresh(drawn.set)
        if query != self.partner_query:
            return  # a newer search is on its way
        table = self.query_one(VirtualTable)
        more = self.counting and self._shown == query  # the rest of the keys whose first page is up
        if period != self.period:
            table.invalidate()  # a row shows its partner in one period
        self.period = period
        self.counting = partial
        self._shown = query
        table.loading_rows = False
        table.set_ids(keys, keep_cursor=keep_cursor or more, keep_rows=more)
        if first_rows is not None:
            table.prime(0, keys[:PAGE], first_rows)
        self._update_status()
        if self._filters == "stubs" and not partial:  # the list is complete: the rest of the screen
            self.call_after_refresh(self.query_one(KeysFooter).release)
            self.call_after_refresh(self._mount_filters)
        if not partial:
            self.app.data_shown()
        if not partial and self._extras is not self._cache:
            self._extras = self._cache
            self._load_extras(self._cache)

    @work(thread=True, group="partner-extras")
    def _load_extras(self, cache: _Cache) -> None:
        """The filter choices, then the search texts (ready for the first keystroke)."""
        choices = self.app.reader.filter_choices(tracks=False)
        if cache is self._cache:
            self.report(self._show_choices, choices)
        texts = self._texts(cache)
        base = cache.base  # split for the first keystroke now, not in its handler
        if base is not None and (cache.base_texts is None or cache.base_texts[0] != base[0]):
            ids, rests = statements.split_texts([texts.get(k, "\x00") for k in base[1]])
            cache.base_texts = (base[0], ids, rests)

    @staticmethod
    def _filter_value(widget_id: str, q: PartnerQuery):
        """What the Select ``widget_id`` shows for ``q`` (None: its prompt)."""
        if widget_id == "risk":
            return None if q.at_risk is None else ("yes" if q.at_risk else "no")
        return getattr(q, next(field for wid, _prompt, field in FILTERS if wid == widget_id))

    @staticmethod
    def _options(widget_id: str, choices: FilterChoices | None) -> list[tuple[str, str]]:
        if widget_id in FIXED_CHOICES:
            return FIXED_CHOICES[widget_id]
        if choices is None:
            return []
        values = {
            "tier": choices.tiers,
            "region": choices.regions,
            "type": choices.types,
            "manager": choices.managers,
            "designation": choices.designations,
        }[widget_id]
        return [(data_text(v) if widget_id == "designation" else v, v) for v in values]

    async def _mount_filters(self) -> None:
        """Put the real Selects where their stubs are (the first rows are on screen)."""
        if self._filters == "stubs":
            self._filters = "mounting"
            q = self.partner_query
            selects = []
            for stub in self.query(SelectStub):
                widget_id = stub.stands_for
                options = self._options(widget_id, self._choices)
                value = self._filter_value(widget_id, q)
                if value is not None and value not in {v for _p, v in options}:
                    options = [*options, (value, value)]  # the choices are not in yet: it shows meanwhile
                prompt = next(p for wid, p, _field in FILTERS if wid == widget_id)
                selects.append(
                    Select(
                        options,
                        prompt=prompt,
                        id=widget_id,
                        compact=True,
                        value=Select.NULL if value is None else value,
                    )
                )
            await self.query_one("#partner-filters", Grid).mount(*selects, after="#search")
            await self.query(SelectStub).remove()
            self._filters = "mounted"
            self._filters_mounted.set()
            if self._choices is not None:  # they came while the Selects were being mounted
                self._show_choices(self._choices)
        await self._filters_mounted.wait()

    def _show_choices(self, choices: FilterChoices) -> None:
        self._choices = choices
        if self._filters != "mounted":
            return  # the Selects get them when they are mounted
        q = self.partner_query
        for widget_id in ("tier", "region", "type", "manager", "designation"):
            select = self.query_one(f"#{widget_id}", Select)
            options = self._options(widget_id, choices)
            current = select.selection if select.selection is not None else self._filter_value(widget_id, q)
            with self.prevent(Select.Changed):  # the query already says what they show
                select.set_options(options)
                if current is not None and current in {v for _p, v in options}:
                    select.value = current

    def _update_status(self, searching: bool = False) -> None:
        table = self.query_one(VirtualTable)
        q = self.partner_query
        label = next(c.label for c in COLUMNS if c.key == q.sort)
        if searching:
            count = "searching…"
        elif self.counting:
            count = "counting partners…"
        else:
            count = f"{table.row_count:,} partner{'s' if table.row_count != 1 else ''}"
            if table.row_count:  # the cursor's row: "row 51 of 200 partners"
                count = f"row {table.cursor + 1:,} of {count}"
        self._searching = searching
        parts = [count]  # then the filters (what was just typed or chosen), then the period and the sort:
        # the line is cut at the screen's edge, so what changes with each key comes first
        active = [
            f"{name}: {value}"
            for name, value in (
                ("text", q.text.strip() or None),
                ("tier", q.tier),
                ("region", q.region),
                ("type", q.partner_type),
                ("manager", q.manager),
                ("event", q.event),
                ("risk", None if q.at_risk is None else ("at risk" if q.at_risk else "not at risk")),
                ("designation", q.designation),
            )
            if value
        ]
        if active:
            parts.append("filters: " + ", ".join(active))
        parts += [
            f"period {self.period}" if self.period else "not levelled yet",
            f"sorted by {label} {'▼' if q.descending else '▲'}",
        ]
        self.query_one("#partner-status", Static).update(
            Content(visible(" · ".join(parts))), layout=False
        )  # one line, always

    # ------------------------------------------------------------------ events

    def _text_changed(self, value: str) -> None:
        if value == self.partner_query.text:
            return
        self.run_query(replace(self.partner_query, text=value))

    @on(Input.Submitted, "#search")
    def _text_submitted(self) -> None:
        focus_now(self.query_one(VirtualTable))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        field = {
            "tier": "tier",
            "region": "region",
            "type": "partner_type",
            "manager": "manager",
            "event": "event",
            "risk": "at_risk",
            "designation": "designation",
        }[event.select.id]
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
        focus_now(self.query_one("#search", Input))  # what is typed right after / goes into the box

    def action_filters(self) -> None:
        if self._filters == "mounted":
            focus_now(self.query_one("#tier", Select))
        else:  # the first moments: the Selects are still stubs
            self.run_worker(self._focus_filters(), group="partner-filters")

    async def _focus_filters(self) -> None:
        await self._mount_filters()
        self.query_one("#tier", Select).focus()

    def action_sort_next(self) -> None:
        q = self.partner_query
        key = SORTABLE[(SORTABLE.index(q.sort) + 1) % len(SORTABLE)]
        self.run_query(replace(q, sort=key, descending=key in ("score", "tier", "at_risk")))

    def action_sort_reverse(self) -> None:
        self.run_query(replace(self.partner_query, descending=not self.partner_query.descending))

    def action_save_view(self) -> None:
        """Save this filter and sort under a name (views.toml); ctrl+p and the name reopen it."""
        from ..views import save_view
        from .dialogs import PromptScreen

        query = self.partner_query

        def named(name: str | None) -> None:
            name = (name or "").strip()
            if not name:
                return
            try:
                path = save_view(self.app.config_folder, name, query)
            except OSError as exc:
                self.notify(f"Could not save the view: {exc}", severity="error", title="Saved views")
                return
            self.notify(f"Saved as {name!r} in {path}; ctrl+p and its name reopen it.", title="Saved views")

        self.app.push_screen(
            PromptScreen("Save this view", "Name", self.heading or "", required="A name is required."), named
        )

    def action_clear(self) -> None:
        q = self.partner_query
        self.run_query(PartnerQuery(sort=q.sort, descending=q.descending))
        self.query_one("#search", Input).value = ""
        for select in self.query(Select):
            select.clear()
