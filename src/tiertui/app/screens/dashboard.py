"""Home: partners per tier for the latest period, changes, and what needs attention.

When the app opens, the figures are those read while it imported (``services/read/early.py``), so
the first frame shows them; later they are counted in a thread worker (60–150 ms at 100,000
partners), and the figures on screen stay until the new ones arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from ...services.errors import ServiceError
from ...services.read import CertificationQuery, Dashboard, PartnerQuery
from ..literal import literal
from ..widgets.figure import Figure
from ..widgets.footer import KeysFooter
from ..widgets.marks import EVENT_MARKS
from ..widgets.tier_mix import completeness_text, tier_mix_chart
from .base import DataScreen

if TYPE_CHECKING:
    from textual.content import Content

    from ...services.read.engine import DashboardData


class DashboardScreen(DataScreen):
    """Each figure opens the matching filtered list."""

    BINDINGS = [
        Binding("right,down", "app.focus_next", "Next figure", show=False),
        Binding("left,up", "app.focus_previous", "Previous figure", show=False),
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
        Binding("w", "app.whatif", "What-if", id="dashboard.whatif"),
        Binding("P", "periods", "Publish…", id="dashboard.periods"),
    ]

    _waiting: Dashboard | None = None
    _early: Dashboard | None = None  # the figures the first frame was composed with, until the first reload
    more: DashboardData | None = None  # figures that came in while another screen was on top

    def compose(self) -> ComposeResult:
        # the figures read while the app imported (services/read/early.py): the first frame has them
        early = self.app.early.take(self.app.today) if self.app.early is not None else None
        self._early = early
        yield Header()
        with VerticalScroll(id="dashboard"):
            yield Static(_title(early) if early else "Loading the figures…", id="dashboard-title")
            yield Static(id="completeness")
            yield Static("Partners per tier (effective)", classes="section-title")
            tiers = Grid(id="tier-figures", classes="figures")
            if early:
                tiers.styles.grid_size_columns = max(1, len(early.tiers))
            with tiers:
                yield from _tier_figures(early) if early else ()
            yield Static("Changes and attention", classes="section-title")
            with Grid(id="attention-figures", classes="figures"):
                yield from _attention_figures(early) if early else ()
            yield Static("Tier mix over the periods", classes="section-title", id="tier-mix-title")
            yield Static(id="tier-mix")
            yield Static(HINT if early else "", id="dashboard-hint", classes="hint")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "Dashboard"
        if self._early is not None:
            self.call_after_refresh(self._early_shown)

    def _early_shown(self) -> None:
        if self.query(Figure):
            self.query(Figure).first().focus()
        self.app.data_shown()

    def on_screen_resume(self) -> None:  # DataScreen's handler runs too (Textual calls each class's)
        self.refresh_bindings()  # the footer skips its updates while hidden
        if self._waiting is not None:
            data, self._waiting = self._waiting, None
            self._show(data)

    def action_refresh(self) -> None:
        self.reload()

    def action_periods(self) -> None:
        """Published and provisional periods, publishing, and what was notified (issue 15)."""
        from .periods import PeriodsScreen

        self.app.push_screen(PeriodsScreen())

    def reload(self) -> None:
        if self._early is not None:  # the first load: the figures on screen were read a moment ago
            self.app.known_dashboard = (self.loaded_version, self._early)  # the what-if screen's first figures
            self._early = None
        else:
            self._load()  # the figures on screen stay until the new ones are in
        self._load_more()

    @work(thread=True, exclusive=True, group="dashboard-more", exit_on_error=False)
    def _load_more(self) -> None:
        """Completeness of the latest period, the tier mix: read with the engine, after the figures."""
        engine = self.app.engine  # first: opened (SQLAlchemy imported) under the app's lock, once
        from ...services.read.engine import dashboard_data

        try:
            data = dashboard_data(engine)
        except ServiceError:
            return
        if not get_current_worker().is_cancelled:
            self.report(self._show_more, data)

    def _show_more(self, data: DashboardData) -> None:
        self.more = data
        self.query_one("#completeness", Static).update(completeness_text(data))
        self.query_one("#tier-mix", Static).update(tier_mix_chart(data.tiers, data.mix))

    @work(thread=True, exclusive=True, group="dashboard-load")
    def _load(self) -> None:
        early = self.app.early.take(self.app.today, wait=30) if self.app.early is not None else None
        data = early or self.app.reader.dashboard(self.app.today)
        if not get_current_worker().is_cancelled:
            self.report(self._show, data)

    def _show(self, data: Dashboard) -> None:
        self.app.known_dashboard = (self.loaded_version, data)  # the what-if screen's first figures
        self.app.data_shown()
        if self.app.screen is not self:  # built when the dashboard is shown again, not behind another screen
            self._waiting = data
            return
        self._waiting = None
        self.query_one("#dashboard-title", Static).update(_title(data))
        self.query_one("#dashboard-hint", Static).update(HINT)
        self.run_worker(self._rebuild(data), exclusive=True, group="dashboard")

    async def _rebuild(self, data: Dashboard) -> None:
        focused_id = self.focused.id if self.focused else None
        tiers = self.query_one("#tier-figures", Grid)
        await tiers.remove_children()
        tiers.styles.grid_size_columns = max(1, len(data.tiers))
        await tiers.mount_all(_tier_figures(data))
        attention = self.query_one("#attention-figures", Grid)
        await attention.remove_children()
        await attention.mount_all(_attention_figures(data))
        target = self.query(f"#{focused_id}") if focused_id else None
        if target:
            target.first().focus()
        elif self.query(Figure):
            self.query(Figure).first().focus()

    def on_figure_opened(self, event: Figure.Opened) -> None:
        target = event.figure.target
        if target == "overrides":
            self.app.action_overrides()
        elif isinstance(target, CertificationQuery):
            self.app.open_certifications(target)
        elif isinstance(target, PartnerQuery):
            self.app.open_partners(target, f"{event.figure.label}")


HINT = "Arrows or Tab move between figures · Enter opens the list · ctrl+p finds a partner · ? shows every key"


def _title(data: Dashboard) -> Content:
    if data.program is None:
        return literal(
            "No program is loaded yet: run ",
            ("tiertui program load FILE.toml", "bold"),
            " (or ",
            ("tiertui demo", "bold"),
            " for a demo database).",
        )
    if data.period is None:
        return literal(
            (data.program, "bold"),
            f" · {data.partners:,} partners · not levelled yet: press ",
            ("L", "bold"),
            " to level.",
        )
    return literal(
        (data.program, "bold"),
        " · latest period ",
        (data.period, "bold"),
        f" · {data.partners:,} partners · today {data.today.isoformat()}",
    )


def _tier_figures(data: Dashboard) -> list[Figure]:
    """A figure per tier, highest first."""
    return [
        Figure(count, tier, PartnerQuery(tier=tier), id=f"fig-tier-{i}")
        for i, (tier, count) in reversed(list(enumerate(data.tiers)))
    ]


def _attention_figures(data: Dashboard) -> list[Figure]:
    """Promoted, demoted, in grace, at risk, pending overrides, certifications expiring."""
    return [
        *(
            Figure(
                count,
                label,
                PartnerQuery(event=event),
                mark=EVENT_MARKS[event][0],
                mark_style=EVENT_MARKS[event][1],
                id=f"fig-{event}",
            )
            for event, label, count in (
                ("promoted", "promoted", data.promoted),
                ("demoted", "demoted", data.demoted),
                ("grace", "in grace", data.grace),
            )
        ),
        Figure(data.at_risk, "at risk", PartnerQuery(at_risk=True), mark="!", mark_style="bold red", id="fig-at-risk"),
        Figure(
            data.pending_overrides,
            "pending overrides",
            "overrides",
            mark="✎",
            mark_style="bold magenta",
            id="fig-pending",
        ),
        Figure(
            data.expiring_certifications,
            "certs expiring ≤ 90 days",
            CertificationQuery(status="expiring90"),
            mark="◔",
            mark_style="bold yellow",
            id="fig-expiring",
        ),
    ]
