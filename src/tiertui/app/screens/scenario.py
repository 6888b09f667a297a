"""What-if scenarios: edit the program's numbers in place and see at once who moves and what it costs.

The partner data is read once, in a thread, by :class:`ScenarioSession` (through the app's
:class:`SessionLoader`, which may have started it in the background already), and kept by the app
for the next visit while nothing is written; the screen itself is kept too (see
``TiertuiApp.action_whatif``). Until the data is read the screen shows what is known already: the
tiers on record from the dashboard's figures (the "before" column), the active program's values
(edits made meanwhile are kept and evaluated once the data is in) and how far the read is.
Every edit is re-evaluated in an exclusive thread worker (the newest edit wins, the session's lock
keeps one evaluation at a time on it). Saving, opening, exporting and activating go through the
scenarios service; refusals are shown and change nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Input, Select, Static
from textual.worker import get_current_worker

from ...safe_text import visible
from ...services import ServiceError
from ...services import scenarios as svc
from ...services.read.sql import Dashboard
from ...services.scenarios import Knob, Mover, ScenarioSession, WhatIf
from ...services.scenarios.costs import regions_of
from ..literal import LiteralTable, data_text, literal
from ..widgets import Column, VirtualTable
from ..widgets.focus import focus_now
from ..widgets.footer import KeysFooter
from ..widgets.knob_row import KnobEntry, KnobInput, KnobRow, number_text
from ..widgets.marks import EVENT_MARKS
from .base import DataScreen, fix_blink
from .dialogs import ConfirmScreen, PickScenarioScreen, PromptScreen

GROUP_TITLES = {"Program": "Program", "Score": "Score components", "Benefits": "Benefits (fractions of revenue)"}
DIRECTION_CHOICES = [("▲ up", svc.UP), ("▼ down", svc.DOWN)]
MOVE_MARKS = {svc.UP: EVENT_MARKS["promoted"], svc.DOWN: EVENT_MARKS["demoted"]}

MOVER_COLUMNS = [
    Column("partner_id", "ID", 6),
    Column("name", "Name", 12, flex=True),
    Column("move", "Change", 10),
    Column("reason", "Reason (what changed the outcome)", 24, cap=60),
    Column("region", "Region", 6, essential=False),
    Column("partner_type", "Type", 4, essential=False),
    Column("manager", "Manager", 7, essential=False),
]


NARROW_BELOW = 112


def _summary_table(title: str, first: str) -> Table:
    table = LiteralTable(
        box=None,
        padding=(0, 1),
        pad_edge=False,
        expand=False,
        header_style="bold",
        title=data_text(title, "bold"),
        title_justify="left",
        title_style="bold",
    )
    table.add_column(first, no_wrap=True, max_width=12, overflow="ellipsis")
    for name in ("before", "after", "change"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def parse_number(text: str) -> float:
    """What a person types: 800000, 800,000, 800_000, 0.1; ValueError otherwise."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        raise ValueError("type a number (delete switches a value off)")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text.strip()!r} is not a number")
    return value


def short_label(knob: Knob) -> str:
    label = knob.label
    for prefix in (f"{knob.group} ", "score "):
        if knob.group != "Benefits" and label.startswith(prefix):
            return label[len(prefix) :]
    return label


def knob_entries(current: list[Knob], original: list[Knob]) -> list[KnobEntry]:
    """Every knob of the active program (switched-off ones too) and any the scenario adds, by group."""
    now = {k.label: k for k in current}
    before = {k.label: k for k in original}
    groups: dict[str, list[KnobEntry]] = {}
    for k in original:
        cur = now.get(k.label)
        entry = KnobEntry(
            k.label, short_label(k), k.group, cur or k, cur.value if cur else None, k.value, cur is not None
        )
        groups.setdefault(k.group, []).append(entry)
    for k in current:
        if k.label not in before:
            groups.setdefault(k.group, []).append(KnobEntry(k.label, short_label(k), k.group, k, k.value, None, True))
    return [e for entries in groups.values() for e in entries]


def money(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.2f}B"
    if size >= 1e6:
        return f"{value / 1e6:.2f}M"
    if size >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def change_text(delta: float, text: str) -> Text:
    if delta > 0:
        return Text(f"▲ +{text}", style="bold green")
    if delta < 0:
        return Text(f"▼ -{text}", style="bold red")
    return Text("· 0", style="dim")


def move_text(m: Mover) -> Text:
    symbol, style = MOVE_MARKS[m.direction]
    text = Text(f"{symbol} {m.direction} ", style=style)
    text.append(visible(f"{m.from_tier}→{m.to_tier}"))
    return text


def render_mover(m: Mover, key: str) -> Text:
    if key == "move":
        return move_text(m)
    return data_text(getattr(m, key) or "")


def file_name(name: str) -> str:
    return (re.sub(r"[^\w.-]+", "-", name).strip("-.") or "scenario") + ".toml"


# =============================================================================== the screen


class ScenarioScreen(DataScreen):
    """Knobs on the left; tiers, cost and movers on the right."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="scenario.save"),
        Binding("ctrl+o", "open", "Open", id="scenario.open"),
        Binding("x", "export", "Export", id="scenario.export"),
        Binding("A", "activate", "Activate", id="scenario.activate"),
        Binding("p", "period(-1)", "◀ Period", id="scenario.previous_period"),
        Binding("n", "period(1)", "Period ▶", id="scenario.next_period"),
        Binding("r", "reset", "Reset", id="scenario.reset"),
        Binding("f", "filters", "Filter", id="scenario.filters"),
        Binding("F", "clear_filters", "Clear filters", id="scenario.clear_filters", show=False),
        Binding("m", "movers", "Movers", id="scenario.movers", show=False),
        Binding("k", "knobs", "Values", id="scenario.knobs", show=False),
        Binding("escape", "leave", "Back", id="scenario.leave", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session: ScenarioSession | None = None
        self.text: str | None = None  # the scenario's program text; None: the active program's
        self.saved_text: str | None = None  # what is saved under scenario_name
        self.scenario_name: str | None = None
        self.period: str | None = None  # None: the latest
        self.original: list[Knob] = []
        self.entries: list[KnobEntry] = []
        self.result: WhatIf | None = None
        self.movers: list[Mover] = []
        self.generation = 0
        self.movers_summary: list[str] = []  # the movers' status line, but for the cursor's row
        self.evaluating = False
        self._knobs_shown = False
        self._knob_labels: list[str] = []  # the values the knob pane lists (or is being built with)
        self._provisional_base: str | None = None  # the active program's text as read before the session
        self._reading: tuple[float, str] | None = (0.0, "")  # how far the partner data is read; None: read
        self._partners: int | None = None  # from the dashboard's figures, for the progress line

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading partner data…", id="scenario-status", classes="status")
        with Horizontal(id="scenario-body"):
            yield VerticalScroll(id="knobs", can_focus=False)
            with Vertical(id="scenario-results"):
                with Horizontal(id="scenario-summary"):
                    yield Static(id="tier-counts")
                    yield Static(id="costs")
                with Grid(id="mover-filters", classes="filters"):
                    yield Select([], prompt="Region", id="mover-region", compact=True)
                    yield Select([], prompt="Type", id="mover-type", compact=True)
                    yield Select([], prompt="Manager", id="mover-manager", compact=True)
                    yield Select(DIRECTION_CHOICES, prompt="Up/down", id="mover-direction", compact=True)
                yield Static(id="movers-status", classes="status")
                yield VirtualTable(
                    MOVER_COLUMNS, self._fetch_movers, render_mover, empty_message="No partner moves.", id="movers"
                )
        yield Static(id="scenario-message", classes="message")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "What-if scenarios"
        fix_blink(self)
        # the cursor's row in the status line ("row 51 of 161"), in the frame that moves the cursor
        self.watch(self.query_one("#movers", VirtualTable), "cursor", self._show_movers_status, init=False)
        known = self.app.known_dashboard
        if known is not None and known[0] == self.app.data_version:
            self._show_known(known[1])  # in the first frame: the figures are in memory
        else:
            self._read_known()
        self.call_after_refresh(self._read_program)

    def fresh_visit(self) -> None:
        """Shown again after a visit (the app keeps the screen while nothing is written): as a new
        screen would be, with no edits, the latest period, no filters and the first value focused; the
        figures of the active program at once when they are the ones on screen, else evaluated."""
        for row in self.query(KnobRow):
            if row.editing:
                row.stop_edit(refocus=False)
        self.scenario_name = self.saved_text = None
        self._say()
        filtered = False
        for select in self.query("#mover-filters Select").results(Select):
            if select.value is not Select.NULL:
                select.clear()
                filtered = True
        s = self.session
        if s is not None:
            edited = self.text != s.base_text
            shown = self.result is not None and not edited and self.result.period == s.periods[-1]
            self.text, self.period = s.base_text, None
            if edited:
                self._rebuild_knobs()
            if not shown:
                self.evaluate()
            elif filtered:
                self._filter_movers()
            self._update_status()
        self.query_one("#movers", VirtualTable).cursor = 0
        self.query_one("#knobs", VerticalScroll).scroll_home(animate=False)
        rows = list(self.query(KnobRow))
        if rows:
            focus_now(rows[0])
        self._open_session()  # written since by someone else? (a millisecond to tell, in a thread)

    # ------------------------------------------------------------------ before the partner data is read

    @work(thread=True, exclusive=True, group="scenario-known", exit_on_error=False)
    def _read_known(self) -> None:
        """The tiers on record (stored results), when the dashboard's figures are not at hand."""
        try:
            data = self.app.reader.dashboard(self.app.today)
        except Exception:  # noqa: BLE001 - only a preview: the evaluation shows the tiers (or why not)
            return
        self.report(self._show_known, data)

    def _show_known(self, data: Dashboard) -> None:
        """The tiers on record in the latest levelled period, as the "before" column, while the
        partner data is read (the evaluation replaces them)."""
        self._partners = data.partners
        if self.result is not None or data.period is None or not data.tiers:
            self._show_reading()
            return
        table = _summary_table(f"Partners per tier · {data.period}", "Tier")
        for tier, count in reversed(data.tiers):
            table.add_row(tier, f"{count:,}", Text("…", style="dim"), "")
        self.query_one("#tier-counts", Static).update(table)
        self.query_one("#costs", Static).update(
            Text("Benefit cost and movers: once the partner data is read.", style="dim")
        )
        self._show_reading()

    @work(thread=True, exclusive=True, group="scenario-program", exit_on_error=False)
    def _read_program(self) -> None:
        """The active program's values, to edit while the partner data is read."""
        try:
            program = self.app.reader.program()
        except Exception:  # noqa: BLE001 - the session's read says what is wrong
            return
        if program is not None:
            self.report(self._program_ready, program.source)

    def _program_ready(self, text: str) -> None:
        if self.session is not None:
            return  # the session's program is shown already
        try:
            self.original = svc.editable_values(text)
        except ServiceError:
            return
        self._provisional_base = text
        if self.text is None:
            self.text = text
        self._rebuild_knobs()

    def _show_reading(self) -> None:
        """How far the partner data is read, on the status line and where the movers will be."""
        if self._reading is None:
            return
        fraction, message = self._reading
        partners = f"{self._partners:,} partners" if self._partners else "partner data"
        line = f"Reading {partners}… {fraction:.0%}" + (f" ({message})" if message else "")
        if self.session is None:
            edits = self.edits()
            kept = f" · {edits} edit{'s' if edits != 1 else ''}, evaluated once read" if edits else ""
            self._status(line + kept)
        else:
            self._update_status()
        if self.result is None:
            self.query_one("#movers-status", Static).update(
                literal(f"Movers: once read ({fraction:.0%})"), layout=False
            )

    def on_resize(self) -> None:
        # tiers and cost side by side when they fit, one above the other otherwise
        self.set_class(self.size.width < NARROW_BELOW, "-narrow")

    # ------------------------------------------------------------------ loading

    def reload(self) -> None:
        """Read the partner data (again) in a thread; edits are kept when the program stays; the
        figures on screen stay until the new ones are in. Started after the next frame: the read
        (or the wait for it) takes the GIL in turns with the event loop, and the first frame shows
        what is known already."""
        self.call_after_refresh(self._open_session)

    @work(thread=True, exclusive=True, group="scenario-open")
    def _open_session(self) -> None:
        worker = get_current_worker()

        said = [-1.0, ""]

        def progress(fraction: float, message: str = "") -> None:
            # every 2% or new step at most: each report is a frame to draw while the read holds the GIL
            if worker.is_cancelled or (fraction - said[0] < 0.02 and message == said[1] and fraction < 1.0):
                return
            said[:] = [fraction, message]
            self.report(self._progress, fraction, message)

        try:
            # the session read at an earlier visit if nothing was written since (by anyone), or the
            # one being read (started in the background once the first screen had its data)
            session = self.app.whatif_loader.get(self.app.engine, progress)
        except ServiceError as exc:
            if not worker.is_cancelled:
                self.report(self._open_failed, str(exc))
            return
        if not worker.is_cancelled:
            self.report(self._session_ready, session)

    def _progress(self, fraction: float, message: str) -> None:
        self._reading = (fraction, message)
        self._show_reading()

    def _open_failed(self, message: str) -> None:
        self._reading = None
        self._status("No scenario can be evaluated.")
        self.query_one("#movers-status", Static).update("✘ not evaluated", layout=False)
        self._say(("✘ ", "bold red"), message)

    def _session_ready(self, session: ScenarioSession) -> None:
        self._reading = None
        old = self.session
        if session is old:
            self._update_status()
            return  # the kept session: nothing was written since
        self.session = session
        base = old.base_text if old is not None else self._provisional_base
        if self.text is None or self.text == base:
            self.text = session.base_text  # no edits: the scenario is the active program
        if self.period not in session.periods:
            self.period = None
        self.original = svc.editable_values(session.base_text)
        self._fill_filters(session)
        self._rebuild_knobs()
        self.evaluate()

    def _fill_filters(self, session: ScenarioSession) -> None:
        choices = session.filter_choices  # worked out once per session, in its thread
        for widget_id, options in (
            ("mover-region", choices.regions),
            ("mover-type", choices.types),
            ("mover-manager", choices.managers),
        ):
            select = self.query_one(f"#{widget_id}", Select)
            keep = select.value
            select.set_options((o, o) for o in options)
            if keep is not Select.NULL and keep in options:
                select.value = keep

    # ------------------------------------------------------------------ knobs

    async def _rebuild_knobs_async(self, focus_label: str | None) -> None:
        pane = self.query_one("#knobs", VerticalScroll)
        await pane.remove_children()
        entries = self.entries  # the newest (an update of the same values may have come meanwhile)
        widgets = []
        group = None
        for e in entries:
            if e.group != group:
                group = e.group
                widgets.append(Static(GROUP_TITLES.get(group, group), classes="knob-group"))
            widgets.append(KnobRow(e))
        first = not self._knobs_shown
        self._knobs_shown = True
        await pane.mount_all(widgets)
        self._focus_knob(focus_label, force=first)

    def _focus_knob(self, label: str | None, force: bool = False) -> None:
        rows = list(self.query(KnobRow))
        if not rows:
            return
        target = next((r for r in rows if r.entry.label == label), None)
        results = self.query_one("#scenario-results")
        if (
            not force
            and target is None
            and label is None
            and self.focused is not None
            and results in self.focused.ancestors
        ):
            return  # focus is on the movers or their filters: leave it
        focus_now(target or rows[0])

    def _rebuild_knobs(self, focus_label: str | None = None) -> None:
        """Show the knobs of ``self.text``: updated in place when the same values are listed."""
        if self.text is None or not self.original:
            return
        try:
            current = svc.editable_values(self.text)
        except ServiceError as exc:
            self._say(("✘ ", "bold red"), str(exc))
            return
        entries = knob_entries(current, self.original)
        self.entries = entries
        labels = [e.label for e in entries]
        if labels == self._knob_labels:  # the rows listed (or being built) are these: updated in place
            rows = list(self.query(KnobRow))
            if [r.entry.label for r in rows] == labels:
                for row, entry in zip(rows, entries):
                    row.set_entry(entry)
                if focus_label is not None:
                    self._focus_knob(focus_label)
        else:
            self._knob_labels = labels
            self.run_worker(self._rebuild_knobs_async(focus_label), exclusive=True, group="scenario-knobs")

    @on(KnobRow.EditRequested)
    def _edit_requested(self, event: KnobRow.EditRequested) -> None:
        event.stop()
        entry = event.row.entry
        if not entry.editable:
            self._say(
                ("✘", "bold red"),
                f" The score component of {entry.label} is switched off: press ",
                ("r", "bold"),
                " to reset all edits to bring it back.",
            )
            return
        if not event.row.editing:
            return  # the keys after it ended the edit already (applied or cancelled)
        self._say(
            "Editing ",
            (entry.label, "bold"),
            f" (active program: {_plain(entry.original)}) · Enter applies · Escape cancels",
        )

    @on(Input.Submitted, ".knob-input")
    def _edit_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        row = event.input.parent
        if not isinstance(row, KnobRow):
            return
        entry = row.entry
        try:
            value = parse_number(event.value)
        except ValueError as exc:
            self._refuse(f"{entry.label}: {exc}")
            return
        if self.apply(entry, value):
            row.stop_edit()

    @on(KnobInput.Cancelled)
    def _edit_cancelled(self, event: KnobInput.Cancelled) -> None:
        event.stop()
        row = event.input.parent
        if isinstance(row, KnobRow):
            row.stop_edit()
            self._say(f"Edit of {row.entry.label} cancelled: nothing changed.")

    @on(KnobRow.SwitchOffRequested)
    def _switch_off(self, event: KnobRow.SwitchOffRequested) -> None:
        event.stop()
        entry = event.row.entry
        if not entry.knob.removable:
            self._refuse(f"{entry.label} cannot be switched off (it can be set to 0).")
            return
        if entry.value is None:
            self._say(f"{entry.label} is already off.")
            return
        self.apply(entry, None)

    def apply(self, entry: KnobEntry, value: float | None) -> bool:
        """Set one value of the scenario; a refusal changes nothing."""
        if self.text is None:
            return False
        try:
            text = svc.apply_edit(self.text, entry.knob, value)
        except ServiceError as exc:
            self._refuse(str(exc))
            return False
        self.text = text
        if value is None:
            self._say(("✘", "bold"), f" {entry.label} switched off.")
        else:
            self._say(("✎", "bold"), f" {entry.label} = {_plain(value)} (active program: {_plain(entry.original)}).")
        self._rebuild_knobs(entry.label)
        self.evaluate()
        self._show_reading()  # while the partner data is read: the edit is kept, evaluated once read
        return True

    # ------------------------------------------------------------------ evaluation

    def evaluate(self) -> None:
        if self.session is None or self.text is None:
            return
        self.generation += 1
        self.evaluating = True
        self._update_status()
        self.query_one("#movers-status", Static).update("evaluating…", layout=False)
        self._evaluate(self.session, self.text, self.period, self.scenario_name or "scenario", self.generation)

    @work(thread=True, exclusive=True, group="scenario-eval")
    def _evaluate(self, session: ScenarioSession, text: str, period: str | None, name: str, generation: int) -> None:
        worker = get_current_worker()
        with session.lock:  # one evaluation at a time on the session (kept across visits)
            if worker.is_cancelled:
                return
            try:
                result = session.evaluate_text(text, period, name)
                _ = result.movers  # the reasons, worked out here rather than on the UI thread
                error = None
            except ServiceError as exc:
                result, error = None, str(exc)
        if not worker.is_cancelled:
            self.report(self._show_result, generation, result, error)

    def _show_result(self, generation: int, result: WhatIf | None, error: str | None) -> None:
        if generation != self.generation:
            return  # a newer edit is being evaluated
        self.evaluating = False
        if result is None:
            self._refuse(f"cannot evaluate the scenario: {error}")
            self.movers_summary = []
            self.query_one("#movers-status", Static).update("✘ not evaluated", layout=False)
            self._update_status()
            return
        self.result = result
        self.period = result.period
        self._show_tiers(result)
        self._show_costs(result)
        self._filter_movers()
        self._update_status()

    def _show_tiers(self, r: WhatIf) -> None:
        table = _summary_table(f"Partners per tier · {r.period}", "Tier")
        for t in reversed(r.tiers):
            b, a = r.tiers_before[t], r.tiers_after[t]
            table.add_row(t, f"{b:,}", f"{a:,}", change_text(a - b, f"{abs(a - b):,}" if a < b else f"{a - b:,}"))
        self.query_one("#tier-counts", Static).update(table)

    def _show_costs(self, r: WhatIf) -> None:
        metric = r.cost_after.metric or r.cost_before.metric
        target = self.query_one("#costs", Static)
        if not metric:
            target.update(
                Text("Benefit cost: the program names no revenue_metric, so benefits cost nothing.", style="dim")
            )
            return
        table = _summary_table(f"Benefit cost · {metric}", "Region")

        def row(label: str, b: float, a: float, style: str = "") -> None:
            table.add_row(data_text(label, style), money(b), money(a), change_text(a - b, money(abs(a - b))))

        row("Total", r.cost_before.total.total, r.cost_after.total.total, "bold")
        for region in regions_of(r.cost_before, r.cost_after):
            row(
                region,
                r.cost_before.by_region.get(region, svc.CostSplit()).total,
                r.cost_after.by_region.get(region, svc.CostSplit()).total,
            )
        target.update(table)

    # ------------------------------------------------------------------ movers

    def _fetch_movers(self, keys) -> list[Mover]:
        return [self.movers[k] for k in keys]

    def mover_filter(self) -> dict[str, str | None]:
        def value(widget_id: str) -> str | None:
            v = self.query_one(f"#{widget_id}", Select).value
            return None if v is Select.NULL else str(v)

        return {
            "region": value("mover-region"),
            "partner_type": value("mover-type"),
            "manager": value("mover-manager"),
            "direction": value("mover-direction"),
        }

    def _filter_movers(self) -> None:
        table = self.query_one("#movers", VirtualTable)
        r = self.result
        if r is None:
            return
        chosen = self.mover_filter()
        self.movers = r.filter(**chosen)
        table.set_ids(np.arange(len(self.movers)), keep_cursor=True)
        parts = [f"Movers: {r.moved_up:,} ▲ up, {r.moved_down:,} ▼ down"]
        active = {k: v for k, v in chosen.items() if v}
        if active:
            parts.append(
                f"showing {len(self.movers):,}: "
                + ", ".join(f"{k.replace('partner_type', 'type')} {v}" for k, v in active.items())
            )
        self.movers_summary = parts
        self._show_movers_status()

    def _show_movers_status(self, _cursor: int | None = None) -> None:
        """The movers' summary, the cursor's row ("row 51 of 161") and what Enter does."""
        if not self.movers_summary or self.evaluating:
            return  # not evaluated (yet): the status line says so
        parts = list(self.movers_summary)
        table = self.query_one("#movers", VirtualTable)
        if table.row_count:
            parts.append(table.position)
            if not self.has_class("-narrow"):  # at 80 columns the footer's "⏎ Open" says it
                parts.append("Enter opens the scorecard")
        self.query_one("#movers-status", Static).update(literal(" · ".join(parts)), layout=False)

    @on(Select.Changed)
    def _filter_changed(self, event: Select.Changed) -> None:
        if event.select.id and event.select.id.startswith("mover-"):
            self._filter_movers()

    @on(VirtualTable.Selected, "#movers")
    def _open_mover(self, event: VirtualTable.Selected) -> None:
        period = self.result.period if self.result else None
        self.app.open_scorecard(event.row.partner_id, period)

    def action_filters(self) -> None:
        focus_now(self.query_one("#mover-region", Select))

    def action_clear_filters(self) -> None:
        for select in self.query("#mover-filters Select").results(Select):
            select.clear()
        self._filter_movers()

    def action_movers(self) -> None:
        focus_now(self.query_one("#movers", VirtualTable))  # the Down keys right after m go to the movers

    def action_leave(self) -> None:
        """Escape: leave the focused field first; then the screen, asking first if edits are unsaved."""
        from textual.widgets import Input, Select

        from ..widgets.search_box import leave_field

        focused = self.app.focused
        if isinstance(focused, Input | Select):
            leave_field(focused)
            return
        if not self.dirty:
            self.app.pop_screen()
            return
        edits = self.edits()

        def answered(leave: bool | None) -> None:
            if leave and self.app.screen is self:
                self.app.pop_screen()

        self.app.push_screen(
            ConfirmScreen(
                "Leave the what-if screen?",
                f"{edits} unsaved edit{'s' if edits != 1 else ''} will be lost (ctrl+s saves them).",
                "Leave without saving",
            ),
            answered,
        )

    def action_knobs(self) -> None:
        self._focus_knob(self.entries[0].label if self.entries else None)

    # ------------------------------------------------------------------ status

    @property
    def dirty(self) -> bool:
        """Edits not saved under the scenario's name."""
        if self.text is None or self.session is None:
            return False
        if self.scenario_name is None:
            return self.text != self.session.base_text
        return self.text != self.saved_text

    def edits(self) -> int:
        return sum(1 for e in self.entries if e.status != "same")

    def _update_status(self) -> None:
        s = self.session
        if s is None:
            return
        parts: list[str | tuple[str, str]] = [
            (self.scenario_name or "unsaved scenario", "bold"),
            (" ✎ unsaved edits" if self.dirty and self.scenario_name else "") + " · ",
            f"{self.edits()} edit{'s' if self.edits() != 1 else ''} to {s.base.name} v{s.base_version}",
            f" · period {self.period or s.periods[-1] if s.periods else '–'}",
            f" · {s.n:,} partners",
        ]
        if self.evaluating:
            parts.append(" · evaluating…")
        if self._reading is not None:  # written since: the partner data is read again
            parts.append(f" · reading the partner data again… {self._reading[0]:.0%}")
        self._status(*parts)

    def _status(self, *parts: str | tuple[str, str]) -> None:
        # a status line is one row of the screen's width whatever it says: no layout (a layout of this
        # screen, with its 80 values, costs tens of milliseconds at every progress report)
        self.query_one("#scenario-status", Static).update(literal(*parts), layout=False)

    def _say(self, *parts: str | tuple[str, str]) -> None:
        """A message below the panes: ``parts`` are literal text, or (literal text, style)."""
        self.query_one("#scenario-message", Static).update(literal(*parts))

    def refused(self, message: str) -> None:
        self._refuse(message)

    def _refuse(self, message: str) -> None:
        self._say(("✘ Refused:", "bold red"), f" {message} · nothing changed.")

    # ------------------------------------------------------------------ actions

    def action_period(self, delta: int) -> None:
        s = self.session
        if s is None or not s.periods:
            return
        current = s.periods.index(self.period) if self.period in s.periods else len(s.periods) - 1
        target = current + delta
        if not 0 <= target < len(s.periods):
            self._say(f"{s.periods[current]} is the {'first' if target < 0 else 'latest'} period with metrics.")
            return
        self.period = s.periods[target]
        self._say(f"Period {self.period}.")
        self.evaluate()

    def action_reset(self) -> None:
        if self.session is None:
            return
        if self.text == self.session.base_text:
            self._say("No edits to reset.")
            return
        self.text = self.session.base_text
        self._say(
            f"All edits reset: the scenario is the active program again ({self.session.base.name} "
            f"v{self.session.base_version})."
        )
        focused = self.focused.entry.label if isinstance(self.focused, KnobRow) else None
        self._rebuild_knobs(focused)
        self.evaluate()

    def action_save(self) -> None:
        if self.text is None:
            return

        def chosen(name: str | None) -> None:
            if not name:
                self._say("Not saved.")
                return
            text = self.text
            self.run_in_thread(lambda: svc.save_scenario(self.app.engine, self.app.user, name, text), saved)

        def saved(result: svc.SavedScenario) -> None:
            self.scenario_name, self.saved_text = result.name, result.content
            self._say(
                ("✔", "bold green"),
                " Saved scenario ",
                (result.name, "bold"),
                f" (based on {self.session.base.name} v{result.base_version}).",
            )
            self._update_status()

        self.app.push_screen(
            PromptScreen(
                "Save the scenario",
                "Scenario name",
                self.scenario_name or "",
                "Saving under an existing name replaces that scenario.",
            ),
            chosen,
        )

    def action_open(self) -> None:
        self.run_in_thread(lambda: svc.list_scenarios(self.app.engine), self._pick)

    def _pick(self, saved: list[svc.SavedScenario]) -> None:
        if not saved:
            self._say("No saved scenarios yet: ", ("ctrl+s", "bold"), " saves this one under a name.")
            return

        def chosen(name: str | None) -> None:
            if not name:
                return
            self.run_in_thread(lambda: svc.open_scenario(self.app.engine, name), opened)

        def opened(scenario: svc.SavedScenario) -> None:
            self.text = scenario.content
            self.scenario_name, self.saved_text = scenario.name, scenario.content
            self._say("Opened scenario ", (scenario.name, "bold"), ".")
            self._rebuild_knobs()
            self.evaluate()

        self.app.push_screen(PickScenarioScreen(saved, self.scenario_name), chosen)

    def _needs_saved(self, doing: str) -> bool:
        if self.scenario_name is None:
            self._refuse(f"save the scenario under a name first (ctrl+s) to {doing} it.")
            return False
        if self.dirty:
            self._refuse(
                f"{self.scenario_name} has unsaved edits: save them (ctrl+s) first, so what you "
                f"{doing} is what was saved."
            )
            return False
        return True

    def action_export(self) -> None:
        if not self._needs_saved("export"):
            return
        name = self.scenario_name

        def chosen(path: str | None) -> None:
            if not path:
                self._say("Not exported.")
                return
            self.run_in_thread(
                lambda: svc.export_scenario(self.app.engine, name, Path(path).expanduser()),
                lambda written: self._say(("✔", "bold green"), " Exported ", (name, "bold"), f" to {written}."),
            )

        self.app.push_screen(
            PromptScreen(
                f"Export {name} as a program file",
                "File path",
                file_name(name),
                f"Relative paths are in {Path.cwd()}. An existing file is replaced.",
            ),
            chosen,
        )

    def action_activate(self) -> None:
        if not self._needs_saved("activate"):
            return
        name = self.scenario_name
        s = self.session

        def confirmed(yes: bool | None) -> None:
            if not yes:
                self._say("Not activated: nothing changed.")
                return
            self.run_in_thread(lambda: svc.activate_scenario(self.app.engine, self.app.user, name), activated)

        def activated(version) -> None:
            message = (
                f"Scenario {name} is now the active program: {version.name} v{version.version} "
                f"(v{s.base_version} stays in the history). Press L to level every period with it."
            )
            self._say(("✔ ", "bold green"), message)
            self.app.notify(message, title="New program version active")
            self.text = None  # the scenario is the program now: no edits against it
            self.app.data_changed()

        self.app.push_screen(
            ConfirmScreen(
                f"Activate scenario {name}?",
                f"{name} becomes the active program as a new version of {s.base.name} (now v{s.base_version}). "
                "Earlier versions stay; the change is audited. Results are not re-levelled until you run levelling (L).",
                "Activate",
            ),
            confirmed,
        )


def _plain(value: float | None) -> str:
    return number_text(value)
