"""A table that renders only the rows on screen, fetched page by page (the Line API).

Textual's DataTable builds every row up front; at 100,000 partners that takes half a minute.
This table holds only the ordered row ids (one integer per row). When a line of a page whose rows
it does not have is drawn, it draws a placeholder and asks ``fetch`` for the page's rows in a thread
worker (``fetch`` reads the database: never on the event loop); the rows come back in a
:class:`VirtualTable.PageFetched` message and the lines are drawn again. A few pages stay cached,
and rows by id, so a list that shows rows seen before (the next keystroke's) draws them at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import Reactive, reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    align: str = "left"  # left | right
    flex: bool = False  # takes the width left over, and is the first to shorten (down to ``width``)
    essential: bool = True  # kept at any width; the others give way (last first) when the table is narrow
    cap: int | None = None  # free text (a reason) is cut beyond this width; ids and numbers have none


Fetch = Callable[[Sequence[int]], list[Any]]
CellRenderer = Callable[[Any, str], Text]


class VirtualTable(ScrollView, can_focus=True):
    """Rows by id; only visible pages are fetched and only visible lines rendered."""

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Open", show=True),
    ]

    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--odd",
        "virtual-table--empty",
    }

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        background: $surface;
        scrollbar-gutter: stable;
    }
    VirtualTable > .virtual-table--header { background: $panel; color: $text; text-style: bold; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .virtual-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    VirtualTable > .virtual-table--odd { background: $surface-lighten-1; }
    VirtualTable > .virtual-table--empty { color: $text-muted; text-style: italic; }
    """

    cursor = reactive(0, always_update=True)
    # A new number of rows (every keystroke of a search) repaints the table and its scrollbar; it does
    # not lay the screen out again, as Textual's virtual size would (see _update_virtual_size).
    virtual_size = Reactive(Size(0, 0), layout=False)

    class Selected(Message):
        """Enter (or a click on the highlighted row) on a row."""

        def __init__(self, table: VirtualTable, index: int, row: Any) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class PageFetched(Message):
        """A page's rows, read by a worker (for ``ids``, which the table may have replaced since)."""

        def __init__(self, page: int, ids: list[int], rows: list[Any], generation: int) -> None:
            super().__init__()
            self.page = page
            self.ids = ids
            self.rows = rows
            self.generation = generation

    class HeaderClicked(Message):
        def __init__(self, table: VirtualTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        fetch: Fetch,
        render_cell: CellRenderer,
        *,
        page_size: int = 100,
        empty_message: str = "Nothing to show.",
        rows_by_id: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.fetch = fetch
        self.render_cell = render_cell
        self.page_size = page_size
        self.empty_message = empty_message
        # True: a row depends on its id alone until invalidate(), so rows fetched for one list serve the
        # next (the partner list: each keystroke's list shows rows of the one before); False: ids are
        # positions (a list of movers) and every new list is fetched afresh
        self.rows_by_id = rows_by_id
        self.ids: Sequence[int] = ()
        self.sort_key: str | None = None
        self.descending = False
        self.loading_rows = False
        self._pages: OrderedDict[int, list[Any]] = OrderedDict()
        self._by_id: OrderedDict[int, Any] = OrderedDict()  # rows fetched lately, by id
        self._generation = 0  # a new one when the rows may have changed (invalidate)
        self._wanted: dict[int, int] = {}  # pages being fetched: page -> generation
        self._select_when_fetched: int | None = None  # Enter on a row still being fetched
        self.fetch_count = 0  # pages fetched, for tests and the benchmark
        # a row's line without the line's own style (stripe, cursor), by (row, column widths): a row
        # that is drawn again (scrolling back, the next keystroke's list) is not laid out again
        self._cells: OrderedDict[tuple, tuple[list[tuple[str, Style | None]], int, dict]] = OrderedDict()
        self._pass: tuple | None = None  # what every line of one drawing shares (see render_lines)
        # the previous list's pages, drawn for a moment where the new list's rows are still on their way
        # (a keystroke's new list: its rows replace the old ones in one frame, no placeholder frame)
        self._stale: tuple[Sequence[int], dict[int, list[Any]], float] | None = None
        self._requests: queue.SimpleQueue | None = None  # the page-fetch thread's (see _request)
        self._fetcher_lock = threading.Lock()
        self._fetcher_busy = False
        # the widest cell seen in each column (rows fetched so far): columns size to their content
        self._seen: dict[str, int] = {}

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self.ids)

    @property
    def position(self) -> str:
        """Where the cursor is, as a person reads it: "row 51 of 412" ("" for an empty list). Screens
        show it in their status line (watch ``cursor``): held-down arrows can be checked by eye."""
        if not self.row_count:
            return ""
        return f"row {self.cursor + 1:,} of {self.row_count:,}"

    def set_ids(self, ids: Sequence[int], *, keep_cursor: bool = False, keep_rows: bool = False) -> None:
        """Show the rows ``ids`` (a list, an array: any sequence of ints), in order.

        Cached pages are dropped, unless ``keep_rows`` says the rows are unchanged: then a page whose
        ids are the same stays (the rest of a list whose first page is up).
        """
        old = self.ids
        if self._pages and not keep_rows:
            self._stale = (old, dict(self._pages), time.monotonic() + 0.5)
        self.ids = ids if hasattr(ids, "__getitem__") else list(ids)
        if keep_rows:
            for page in [p for p in self._pages if not self._same_ids(old, p)]:
                del self._pages[page]
        else:
            self._pages.clear()
            if not self.rows_by_id:
                self._by_id.clear()
                self._generation += 1  # rows on their way are for the old ids
        self._update_virtual_size()
        if keep_cursor:
            self.cursor = min(self.cursor, max(0, self.row_count - 1))
        else:
            self.cursor = 0
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _same_ids(self, old: Sequence[int], page: int) -> bool:
        start, stop = page * self.page_size, (page + 1) * self.page_size
        return _ints(old[start:stop]) == _ints(self.ids[start:stop])

    def invalidate(self) -> None:
        """Forget cached rows (the data changed); visible rows are fetched again."""
        self._pages.clear()
        self._by_id.clear()
        self._stale = None
        self._generation += 1
        self.refresh()

    def row_at(self, index: int) -> Any | None:
        """The row at ``index`` if the table has it; None if not (its page is then fetched in a worker)."""
        if not 0 <= index < self.row_count:
            return None
        page = index // self.page_size
        rows = self._pages.get(page)
        if rows is None:
            rows = self._page_from_ids(page)
            if rows is None:
                self._request(page)
                return None
        else:
            self._pages.move_to_end(page)
        offset = index - page * self.page_size
        return rows[offset] if offset < len(rows) else None

    def _stale_row(self, index: int) -> Any | None:
        """The previous list's row at ``index``, for a moment after a new list came (its rows on their way)."""
        stale = self._stale
        if stale is None:
            return None
        if time.monotonic() > stale[2]:
            self._stale = None
            return None
        page, offset = divmod(index, self.page_size)
        rows = stale[1].get(page)
        return rows[offset] if rows is not None and offset < len(rows) else None

    def _page_ids(self, page: int) -> list[int]:
        start = page * self.page_size
        return _ints(self.ids[start : start + self.page_size])

    def _page_from_ids(self, page: int) -> list[Any] | None:
        """The page assembled from rows fetched before, if the table has all of them."""
        by_id = self._by_id
        ids = self._page_ids(page)
        if not by_id or any(i not in by_id for i in ids):
            return None
        self._store(page, [by_id[i] for i in ids])
        return self._pages[page]

    def _store(self, page: int, rows: list[Any]) -> None:
        self._pages[page] = rows
        while len(self._pages) > 12:
            self._pages.popitem(last=False)

    def _request(self, page: int) -> None:
        if self._wanted.get(page) == self._generation:
            return
        self._wanted[page] = self._generation
        if self._requests is None:
            self._requests = queue.SimpleQueue()
        self._requests.put((page, self._page_ids(page), self._generation))
        with self._fetcher_lock:
            if not self._fetcher_busy:
                # one thread fetches the pages, in the order asked, while any are asked for (a burst of
                # keys or scrolling starts no worker per page); it ends when there is nothing to fetch
                self._fetcher_busy = True
                self.run_worker(self._page_fetcher, thread=True, group="virtual-table-pages", exit_on_error=False)

    def _page_fetcher(self) -> None:
        """In a thread worker: fetch the pages asked for until none is waiting."""
        requests = self._requests
        assert requests is not None
        while True:
            with self._fetcher_lock:
                try:
                    request = requests.get_nowait()
                except queue.Empty:
                    self._fetcher_busy = False
                    return
            try:
                self._fetch_page(*request)
            except BaseException:
                with self._fetcher_lock:
                    self._fetcher_busy = False  # the next page asked for starts a new thread
                raise

    def page_ready(self, page: int = 0) -> bool:
        """Whether the table has the rows of ``page`` of its current list (they draw without waiting)."""
        return page in self._pages or self._page_from_ids(page) is not None

    def prime(self, page: int, ids: Sequence[int], rows: list[Any]) -> None:
        """Rows of ``page`` read already (for ``ids``): drawn without a worker's round trip, if the
        table still shows those ids there."""
        ids = _ints(ids)
        if self._page_ids(page) == ids:
            self._measure(rows)
            self._store(page, rows)
            if self.rows_by_id:
                self._by_id.update(zip(ids, rows))
            self.fetch_count += 1
            self.refresh()

    def _fetch_page(self, page: int, ids: list[int], generation: int) -> None:
        """In a worker: read the rows of ``ids`` and send them to the table."""
        self.post_message(self.PageFetched(page, ids, self.fetch(ids), generation))

    def on_virtual_table_page_fetched(self, message: VirtualTable.PageFetched) -> None:
        message.stop()
        if self._wanted.get(message.page) == message.generation:
            del self._wanted[message.page]
        if message.generation != self._generation:
            return  # the data changed meanwhile
        self.fetch_count += 1
        by_id = self._by_id
        for i, row in zip(message.ids, message.rows):
            by_id[i] = row
            by_id.move_to_end(i)
        while len(by_id) > 4 * self.page_size:
            by_id.popitem(last=False)
        if self._page_ids(message.page) != message.ids:
            self.refresh()  # the list changed meanwhile: its own rows are asked for when drawn
            return
        self._measure(message.rows)
        self._store(message.page, message.rows)
        self.refresh()
        pending = self._select_when_fetched
        if pending is not None and pending // self.page_size == message.page:
            self._select_when_fetched = None
            if pending == self.cursor:
                self.action_select()

    @property
    def current_row(self) -> Any | None:
        return self.row_at(self.cursor)

    # ------------------------------------------------------------------ geometry

    def _measure(self, rows: list[Any]) -> None:
        """Widen the columns (other than the flexible one) to the widest cell of ``rows``."""
        seen = self._seen
        grew = False
        for column in self.columns:
            widest = seen.get(column.key, 0)
            for row in rows:
                width = self.render_cell(row, column.key).cell_len
                if width > widest:
                    widest, grew = width, True
            seen[column.key] = widest
        if grew:
            self._pass = None
            self._update_virtual_size()

    def _natural(self, column: Column) -> int:
        """A column's width: its content (every cell seen), its heading (with a sort arrow), at least ``width``;
        the flexible column's is its least."""
        label = cell_len(column.label) + (2 if column.key == self.sort_key else 0)
        if column.flex:
            return max(column.width, min(label, column.width))
        natural = max(column.width, label, self._seen.get(column.key, 0))
        return natural if column.cap is None else min(natural, max(column.cap, label))

    def _widths(self) -> list[int]:
        """Each column's width; 0 for a column that gives way in a narrow table. Ids and numbers are
        never cut (a column is as wide as its widest cell); the flexible column (a name) takes what is
        left and is the first to shorten; then the columns that are not essential go, last first."""
        naturals = [self._natural(c) for c in self.columns]
        shown = [True] * len(self.columns)
        available = self._scrollable_size.width - 1  # a cell of air at the left edge

        def total() -> int:
            widths = [w for w, s in zip(naturals, shown) if s]
            return sum(widths) + len(widths) - 1

        for i in reversed(range(len(self.columns))):
            if total() <= available:
                break
            if not self.columns[i].essential:
                shown[i] = False
        # still too wide: free text (a column with a cap) shortens down to its least width too
        for i, column in enumerate(self.columns):
            excess = total() - available
            if excess > 0 and shown[i] and column.cap is not None:
                naturals[i] = max(column.width, naturals[i] - excess)
        widths = [w if s else 0 for w, s in zip(naturals, shown)]
        spare = available - total()
        if spare > 0:
            flex = next((i for i, c in enumerate(self.columns) if c.flex and shown[i]), None)
            if flex is not None:
                widths[flex] += spare
        return widths

    @property
    def _scrollable_size(self) -> Size:
        """``scrollable_content_region.size`` from the size the last layout gave (that property looks the
        widget up in the screen's map, which costs a full map of the screen when it is not at hand)."""
        return self._size - self.styles.gutter.totals - self.scrollbar_gutter.totals

    def _update_virtual_size(self) -> None:
        widths = [w for w in self._widths() if w] if self.is_mounted else [c.width for c in self.columns]
        width = sum(widths) + len(widths)
        size = Size(width, self.row_count + 1)
        if size != self.virtual_size:
            self.virtual_size = size
            if self.is_mounted:
                self._scroll_update(size)  # the scrollbars and the scroll limits, as a layout would

    def on_resize(self) -> None:
        self._update_virtual_size()
        self._scroll_cursor_into_view()

    @property
    def _body_height(self) -> int:
        return max(1, self._scrollable_size.height - 1)

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass = None  # styles and widths are read again for each drawing
        styles = self.styles
        if (
            any(edge for edge, _color in styles.border)
            or any(edge for edge, _color in styles.outline)
            or any(styles.padding)
            or styles.tint.a
            or self.opacity != 1.0
            or styles.text_opacity != 1.0
            or (styles.has_rule("hatch") and styles.hatch != "none")
        ):
            return super().render_lines(crop)
        # What Textual's styles cache makes of a plain box (no border, outline, padding, tint, opacity,
        # hatch): each content line at the content width, then the app's line filters. Done here so
        # that a row's cached Strip keeps its padded and filtered forms (Strip caches them), where the
        # styles cache wraps every line in a new Strip: half a keystroke's drawing time.
        base_background, background = self.background_colors
        inner = self._styles_cache.get_inner_outer(base_background, background)[0].rich_style
        content_width = self._size.width - styles.gutter.width
        filters = self.get_line_filters()
        strips = []
        for y in crop.line_range:
            strip = self.render_line(y).adjust_cell_length(content_width, inner)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.column_span != (0, self._size.width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _drawing(self) -> tuple:
        """(base style, row styles by (odd, cursor), column widths, width): the same for every line."""
        if self._pass is None:
            base = self.rich_style
            odd = base + self.get_component_rich_style("virtual-table--odd")
            cursor = self.get_component_rich_style("virtual-table--cursor")
            styles = {
                (False, False): base,
                (True, False): odd,
                (False, True): base + cursor,
                (True, True): odd + cursor,
            }
            self._pass = (base, styles, tuple(self._widths()), self._scrollable_size.width)
        return self._pass

    def render_line(self, y: int) -> Strip:
        base, styles, widths, width = self._drawing()
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            style = base + self.get_component_rich_style("virtual-table--header")
            line = self._header_text()
            return self._strip(line, style, scroll_x, width)
        index = scroll_y + y - 1
        if self.row_count == 0:
            if y == 1:
                style = base + self.get_component_rich_style("virtual-table--empty")
                text = "Loading…" if self.loading_rows else self.empty_message
                return Strip([Segment(f" {text}", style)]).crop_extend(0, width, style)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None and index < self.row_count:
            row = self._stale_row(index)
        if row is None:
            if index >= self.row_count:
                return Strip.blank(width, base)
            style = styles[(bool(index % 2), index == self.cursor)]  # being fetched: a placeholder
            return Strip([Segment(" …", style)]).crop_extend(0, width, style)
        style = styles[(bool(index % 2), index == self.cursor)]
        cells, length, strips = self._row_cells(row, widths)
        strip = strips.get(style)
        if strip is None:
            strip = strips[style] = Strip(
                [Segment(text, style + cell if cell else style) for text, cell in cells], length
            )
        if scroll_x == 0 and length == width:
            return strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def _row_cells(self, row: Any, widths: tuple[int, ...]) -> tuple[list[tuple[str, Style | None]], int, dict]:
        """The text of ``row``'s line in pieces, each with its own style (None: the line's), its length,
        and the row's lines drawn so far, by line style."""
        try:
            key = (row, widths)
            found = self._cells.get(key)
        except TypeError:  # a row that cannot be a key: laid out each time
            key = found = None
        if found is not None:
            self._cells.move_to_end(key)
            return found
        console = self.app.console
        cells: list[tuple[str, Style | None]] = [(" ", None)]  # a little air at the left edge
        first = True
        for column, w in zip(self.columns, widths):
            if not w:
                continue  # gives way at this width
            if not first:
                cells.append((" ", None))
            first = False
            text = self.render_cell(row, column.key)
            if text.spans:  # several styles: as Rich renders the fitted cell
                fitted = self._fit(text, w, column.align)
                line = Text()
                line.append_text(fitted)
                cells.extend((s.text, s.style or None) for s in line.render(console))
                continue
            # one style, as _fit and Text.render make it (faster: most cells are one plain string)
            plain = text.plain
            if cell_len(plain) > w:
                plain = set_cell_size(plain, w - 1) + "…"
            pad = w - cell_len(plain)
            style = console.get_style(text.style) if text.style else None
            if pad > 0 and column.align == "right":  # the padding is not styled, the text is
                cells.extend(((" " * pad, None), (plain, style)))
            else:  # the padding is part of the styled text
                cells.append((plain + " " * max(0, pad), style))
        cells = [(text, style) for text, style in cells if text]
        found = (cells, sum(cell_len(text) for text, _style in cells), {})
        if key is not None:
            self._cells[key] = found
            while len(self._cells) > 1000:
                self._cells.popitem(last=False)
        return found

    def _header_text(self) -> Text:
        line = Text(no_wrap=True)
        for column, w in zip(self.columns, self._widths()):
            if not w:
                continue
            if line:
                line.append(" ")
            label = Text(column.label)
            if column.key == self.sort_key:  # the arrow always shows: the label gives way in a narrow column
                if label.cell_len + 2 > w:
                    label = self._fit(label, max(0, w - 2), "left")
                label.append(" ▼" if self.descending else " ▲")
            line.append_text(self._fit(label, w, column.align))
        return line

    @staticmethod
    def _fit(text: Text, width: int, align: str) -> Text:
        text = text.copy()
        text.no_wrap = True
        if text.cell_len > width:
            text.truncate(width, overflow="ellipsis")
        pad = width - text.cell_len
        if pad > 0:
            if align == "right":
                text = Text(" " * pad) + text
            else:
                text.append(" " * pad)
        return text

    def _strip(self, line: Text, style: Style, scroll_x: int, width: int) -> Strip:
        line = Text(" ") + line  # a little air at the left edge
        segments = [Segment(s.text, style + s.style if s.style else style) for s in line.render(self.app.console)]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, style)

    # ------------------------------------------------------------------ cursor

    def watch_cursor(self, _old: int, _new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        if not self.is_mounted:
            return
        top = int(self.scroll_offset.y)
        height = self._body_height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def move_cursor(self, index: int) -> None:
        if self.row_count:
            self.cursor = max(0, min(self.row_count - 1, index))

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self._body_height)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self._body_height)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_select(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Selected(self, self.cursor, row))
        elif self.row_count:
            self._select_when_fetched = self.cursor  # selected when its page arrives

    # ------------------------------------------------------------------ mouse

    def _column_at(self, x: int) -> str | None:
        x += int(self.scroll_offset.x) - 1
        position = 0
        for column, w in zip(self.columns, self._widths()):
            if not w:
                continue
            if position <= x < position + w + 1:
                return column.key
            position += w + 1
        return None

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            key = self._column_at(offset.x)
            if key:
                self.post_message(self.HeaderClicked(self, key))
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < self.row_count:
            if index == self.cursor or event.chain >= 2:
                self.cursor = index
                self.action_select()
            else:
                self.cursor = index


def _ints(ids: Sequence[int]) -> list[int]:
    """A slice of ids as a list of ints (a numpy array's too)."""
    tolist = getattr(ids, "tolist", None)
    return tolist() if tolist is not None else [int(i) for i in ids]
