"""Periods: which are published and which provisional, publishing, and what was notified to whom.

Opened from the dashboard (``P``). Everything that touches the database runs in a thread worker;
the dialog only shows what the services return.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...safe_text import visible
from ...services import notify, publishing
from ...services.errors import ServiceError
from ...storage import DatabaseError

SHOWN = 30  # notifications listed per period; the command line's record has them all


class PeriodsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("p", "publish", "Publish up to this period", id="periods.publish"),
        Binding("escape", "close", "Close", id="periods.close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.states: list[publishing.PeriodState] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="periods", classes="dialog"):
            yield Static(
                "[b]Periods[/b] · published results never change; the rest are provisional", classes="dialog-title"
            )
            yield OptionList(id="period-list")
            yield Static("", id="period-detail")
            yield Static("[dim]p publishes every period up to the highlighted one · Escape closes[/dim]")

    def on_mount(self) -> None:
        self.query_one("#period-detail", Static).update("Loading…")
        self._load()

    @work(thread=True, exclusive=True, group="periods")
    def _load(self, select: str | None = None) -> None:
        try:
            states = publishing.period_states(self.app.engine)
        except (ServiceError, DatabaseError) as exc:
            self.app.call_from_thread(self._problem, str(exc))
            return
        self.app.call_from_thread(self._show, states, select)

    def _show(self, states: list[publishing.PeriodState], select: str | None) -> None:
        self.states = states
        options = self.query_one("#period-list", OptionList)
        options.clear_options()
        for s in reversed(states):
            label = Text(s.period, style="bold")
            label.append(
                "  ✔ published" if s.published else "  provisional", style="green" if s.published else "yellow"
            )
            options.add_option(Option(label, id=s.period))
        if not states:
            self.query_one("#period-detail", Static).update("Nothing is levelled yet: press L to level.")
            return
        options.highlighted = next((i for i, s in enumerate(reversed(states)) if s.period == select), 0)
        options.focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._detail(event.option.id)

    @work(thread=True, exclusive=True, group="periods-detail")
    def _detail(self, period: str) -> None:
        try:
            sent = notify.sent(self.app.engine, period)
        except (ServiceError, DatabaseError) as exc:
            self.app.call_from_thread(self._problem, str(exc))
            return
        state = next((s for s in self.states if s.period == period), None)
        self.app.call_from_thread(self._show_detail, state, sent)

    def _show_detail(self, state: publishing.PeriodState | None, sent: list[notify.SentLine]) -> None:
        text = Text()
        if state is not None:
            text.append(visible(state.text()) + "\n", style="bold")
        if not sent:
            text.append("No notifications sent for this period (tiertui notify --period P sends them).", style="dim")
        else:
            partners = sum(1 for s in sent if s.kind == "partner")
            text.append(f"Notified: {partners} partner e-mails, {len(sent) - partners} manager digests\n")
            for s in sent[:SHOWN]:
                who = f"{s.partner_id} {s.name}".strip() if s.kind == "partner" else f"digest for {s.name}"
                again = " (resent)" if s.resend else ""
                text.append(f"{s.sent_at}  {visible(who)} → {visible(s.address)}{again}\n")
            if len(sent) > SHOWN:
                text.append(f"… and {len(sent) - SHOWN} more", style="dim")
        self.query_one("#period-detail", Static).update(text)

    def _problem(self, message: str) -> None:
        self.query_one("#period-detail", Static).update(Text(f"✘ {visible(message)}", style="bold red"))

    def action_publish(self) -> None:
        options = self.query_one("#period-list", OptionList)
        if options.highlighted is None:
            return
        option = options.get_option_at_index(options.highlighted)
        if option.id:
            self.query_one("#period-detail", Static).update(f"Publishing up to {option.id}…")
            self._publish(option.id)

    @work(thread=True, exclusive=True, group="periods-publish")
    def _publish(self, period: str) -> None:
        try:
            result = publishing.publish(self.app.engine, self.app.user, period)
        except (ServiceError, DatabaseError) as exc:
            self.app.call_from_thread(self._problem, str(exc))
            return
        self.app.call_from_thread(self._published, result, period)

    def _published(self, result: publishing.PublishResult, period: str) -> None:
        self.app.notify(visible(result.text()), timeout=6)
        self.app.data_changed()
        self._load(period)

    def action_close(self) -> None:
        self.dismiss(None)
