"""A partner's scorecard for one period: who, tiers, why, what next, and the history behind it."""

from __future__ import annotations

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from ...safe_text import visible
from ...scoring import fmt, score_text
from ...services import notes, publishing, report
from ...services.errors import ServiceError
from ...services.notes import NoteView
from ...services.read import engine as reads
from ...services.read.engine import PartnerScorecard
from ...services.read.summary import summary_text
from ..literal import LiteralTable
from ..widgets import event_text, tier_text
from .base import DataScreen

BAR_WIDTH = 40


def _table(*columns: str, right: tuple[int, ...] = ()) -> Table:
    table = LiteralTable(box=box.SIMPLE_HEAD, expand=False, pad_edge=False, show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        table.add_column(name, justify="right" if i in right else "left", no_wrap=i == 0)
    return table


def _numbers_whole(table: Table) -> Table:
    """Never cut or wrap a number (nor its header): on a narrow terminal the words and bars give way
    instead ("$3,734,…" or a threshold over two lines reads wrong; "Poi…" is no header)."""
    for column in table.columns:
        if column.justify == "right":
            column.no_wrap = True
            column.min_width = max([cell_len(str(column.header))] + [cell_len(str(cell)) for cell in column.cells])
        elif not str(column.header):  # a bar: the first to give way, cropped
            column.no_wrap, column.overflow = False, "crop"
        else:  # words (a label, a note) wrap
            column.no_wrap = False
    return table


# a flag: 1 is yes, 0 is no (see docs/program-format.md); "yes=1" is what demo databases built before
# "yes/no" store in their program
FLAG_UNITS = ("yes/no", "yes=1")


def _unit(value: float, unit: str) -> str:
    if unit == "USD":
        return f"${fmt(value)}"
    if unit in FLAG_UNITS:
        return "yes" if value >= 1 else "no"
    return fmt(value) + (f" {unit}" if unit and unit != "people" else "")


def _threshold(need: str, value: float, unit: str) -> str:
    """A requirement's threshold: "≥ $75,000", "≤ 20 tickets"; a flag's just "yes" or "no"."""
    return _unit(value, unit) if unit in FLAG_UNITS else f"{need} {_unit(value, unit)}"


def _shortfall(value: float, unit: str) -> str:
    return "missing" if unit in FLAG_UNITS else _unit(value, unit)


def _bar(fraction: float, width: int) -> str:
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")


class ScorecardScreen(DataScreen):
    BINDINGS = [
        Binding("left,left_square_bracket", "period(-1)", "Prev period", id="scorecard.previous_period"),
        Binding("right,right_square_bracket", "period(1)", "Next period", id="scorecard.next_period"),
        Binding("H", "history", "Why moved", id="scorecard.history"),
        Binding("y", "copy_summary", "Copy", id="scorecard.copy"),
        Binding("n", "add_note", "Note", id="scorecard.note"),
        Binding("r", "request_override", "Request override", id="scorecard.request_override"),
        Binding("e", "edit_override", "Edit override", id="scorecard.edit_override"),
        Binding("u", "parent", "Parent", id="scorecard.parent"),
        Binding("h", "audit", "Audit history", id="scorecard.audit", show=False),
        Binding("R", "partner_page", "Partner page", id="scorecard.partner_page"),
    ]

    def __init__(self, partner_id: str, period: str | None = None) -> None:
        super().__init__()
        self.partner_id = partner_id
        self.period = period
        self.data: PartnerScorecard | None = None
        self._cards: dict[str, PartnerScorecard] = {}  # each period read so far, until the data changes

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="scorecard"):
            yield Static(id="identity")
            yield Static(id="tiers")
            yield Static(id="publish-state")
            yield Static("Score components", classes="section-title")
            yield Static(id="components")
            yield Static("Requirements", classes="section-title", id="requirements-title")
            yield Static(id="requirements")
            yield Static("Gap to next tier and risk", classes="section-title")
            yield Static(id="gap")
            yield Static("Score trend", classes="section-title")
            yield Static(id="trend")
            yield Static("Certifications", classes="section-title")
            yield Static(id="certifications")
            yield Static("Subsidiaries", classes="section-title", id="subsidiaries-title")
            yield Static(id="subsidiaries")
            yield Static("Overrides", classes="section-title")
            yield Static(id="overrides")
            yield Static("Call notes", classes="section-title", id="notes-title")
            yield Static(id="notes")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scorecard").focus()

    # ------------------------------------------------------------------ data

    def reload(self) -> None:
        """Read the scorecard again (the data changed): every period read before is forgotten."""
        self._cards.clear()
        self._load(self.period)
        self._load_notes()

    def _show_period(self, period: str | None) -> None:
        """Show ``period``: at once if it was read before, else from a worker."""
        card = self._cards.get(period) if period is not None else None
        if card is not None:
            self._loaded(card)
        else:
            self._load(period)

    @work(thread=True, exclusive=True, group="scorecard-load", exit_on_error=False)
    def _load(self, period: str | None) -> None:
        try:
            data = reads.partner_scorecard(self.app.engine, self.partner_id, period, self.app.today)
        except ServiceError as exc:
            self.report(self._failed, str(exc))
            return
        self.report(self._loaded, data)

    def _failed(self, message: str) -> None:
        self.query_one("#identity", Static).update(Text(visible(message), style="bold red"))

    def _loaded(self, data: PartnerScorecard) -> None:
        self.data = data
        self.period = data.period
        if data.period is not None:
            self._cards[data.period] = data
        self.title = f"{visible(data.info.name)} · {data.period or 'not levelled'}"
        self._paint()
        if self.period:
            self._publish_state(self.period)

    # ------------------------------------------------------------------ call notes (issue 13)

    @work(thread=True, exclusive=True, group="scorecard-notes", exit_on_error=False)
    def _load_notes(self, saved: NoteView | None = None) -> None:
        try:
            found = notes.list_notes(self.app.engine, self.partner_id)
        except ServiceError as exc:
            self.report(self.refused, str(exc))
            return
        self.report(self._show_notes, found, saved)

    def _show_notes(self, found: list[NoteView], saved: NoteView | None) -> None:
        table = _table("Written (UTC)", "By", "Note")
        for n in found:  # newest first
            table.add_row(f"{n.written_at:%Y-%m-%d %H:%M}", n.author, Text(visible(n.text, keep_newlines=True)))
        shown = self.query_one("#notes", Static)
        shown.update(table if found else Text("No call notes. Press n to add one.", style="dim"))
        if saved is not None:
            self.query_one("#scorecard").scroll_to_widget(self.query_one("#notes-title"), animate=False, top=True)
            self.notify(
                f"Saved your note on {visible(saved.partner_id)} ({saved.written_at:%Y-%m-%d %H:%M} UTC).",
                title="Call note",
                markup=False,
            )

    def action_add_note(self) -> None:
        from .note_dialog import CallNoteScreen

        self.app.push_screen(CallNoteScreen(self.partner_id), self._save_note)

    def _save_note(self, text: str | None) -> None:
        if text:  # None: cancelled (Escape), nothing saved
            partner, user, app = self.partner_id, self.app.user, self.app
            self.run_in_thread(lambda: notes.add_note(app.engine, user, partner, text), self._load_notes, group="notes")

    # ------------------------------------------------------------------ published or provisional (issue 15)

    @work(thread=True, exclusive=True, group="scorecard-published")
    def _publish_state(self, period: str) -> None:
        states = {s.period: s for s in publishing.period_states(self.app.engine)}
        state = states.get(period)
        self.app.call_from_thread(self._show_publish_state, period, state is not None and state.published)

    def _show_publish_state(self, period: str, published: bool) -> None:
        if period != self.period:
            return
        if published:
            text = Text(f"✔ {period} is published: these results no longer change", style="green")
        else:
            text = Text(f"Provisional: {period} is not published yet; these results may still change", style="yellow")
        self.query_one("#publish-state", Static).update(text)

    def action_partner_page(self) -> None:
        """Write this partner's partner-facing HTML page for the period on screen, and say where."""
        if self.period:
            self.notify(f"Writing the partner page of {visible(self.partner_id)} for {self.period}…", timeout=2)
            self._write_page(self.partner_id, self.period)

    @work(thread=True, exclusive=True, group="scorecard-page")
    def _write_page(self, partner_id: str, period: str) -> None:
        folder = report.app_folder(period)
        try:
            written = report.write_report(self.app.engine, period, folder, partner_id)
        except (ServiceError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"✘ {visible(str(exc))}", severity="error", timeout=8)
            return
        path = written.page or folder
        self.app.call_from_thread(self.notify, f"Wrote {visible(str(path))}", title="Partner page", timeout=12)

    def _paint(self) -> None:
        d = self.data
        info, card, program = d.info, d.card, d.program
        ident = Text()
        ident.append(visible(info.name), style="bold")
        ident.append(f"  {visible(info.partner_id)}\n", style="dim")
        pairs = [
            ("Region", info.region),
            ("Country", info.country),
            ("Type", info.partner_type),
            ("Manager", info.account_manager),
        ]
        if info.parent_id:
            pairs.append(("Parent", f"{info.parent_id} {info.parent_name or ''}".strip()))
        if info.tier_on_record:
            since = f" since {info.tier_since}" if info.tier_since else ""
            pairs.append(("On record", f"{info.tier_on_record}{since}"))
        for i, (label, value) in enumerate(p for p in pairs if p[1]):
            if i:
                ident.append(" · ", style="dim")
            ident.append(f"{label} ", style="dim")
            ident.append(visible(value))
        if d.periods:
            index = d.periods.index(d.period) + 1
            ident.append("\nPeriod ", style="dim")
            ident.append(visible(d.period), style="bold")
            ident.append(f" ({index} of {len(d.periods)}; ← → change)", style="dim")
        self.query_one("#identity", Static).update(ident)

        tiers = Text()
        if card is None:
            tiers.append("Not levelled yet for this partner: press L to level.", style="italic")
        else:
            tiers.append("Effective ", style="dim")
            tiers.append_text(tier_text(card.effective, card.event, card.override_id is not None))
            if card.override_id is not None:
                tiers.append(f" (override #{card.override_id})", style="magenta")
            tiers.append("   Earned ", style="dim")
            tiers.append(visible(card.earned), style="bold")
            tiers.append("   Qualified ", style="dim")
            tiers.append(visible(card.qualified), style="bold")
            tiers.append("   Event ", style="dim")
            tiers.append_text(event_text(card.event))
            tiers.append("\nScore ", style="dim")
            tiers.append(score_text(card.score), style="bold")
            tiers.append(f" of {fmt(card.max_score)}", style="dim")
            if card.at_risk:
                tiers.append("   ! at risk", style="bold red")
            tiers.append("   Badges ", style="dim")
            tiers.append(
                visible(", ".join(card.badges)) if card.badges else "none", style="cyan" if card.badges else "dim"
            )
            if card.version:
                tiers.append("\nProgram ", style="dim")
                tiers.append(visible(card.version))
            if card.protection_text:
                tiers.append("\n")
                tiers.append_text(event_text("protected"))
                tiers.append(f" {visible(card.protection_text)}")
            for line in card.designations:
                tiers.append("\n")
                tiers.append("✔ " if line.held else "✘ ", style="green" if line.held else "dim")
                tiers.append(visible(line.text()))
                for gap_line in line.gap_texts() if not line.met else ():
                    tiers.append(f"\n    • {visible(gap_line)}", style="dim")
                if line.lapse:
                    tiers.append(f"\n    ! {visible(line.lapse)}", style="bold red")
        self.query_one("#tiers", Static).update(tiers)

        noted = bool(card and any(c.note for c in card.components))
        comp = _table(
            "Component",
            "Value",
            "Points",
            "of max",
            "Target",
            *(("Reported",) if noted else ()),
            "",
            right=(1, 2, 3, 4),
        )
        if card:
            for c in card.components:
                unit = program.unit_of(c.metric) if program else ""
                note = (Text(c.note, style="bold yellow" if c.note == "not reported" else "yellow"),) if noted else ()
                comp.add_row(
                    c.label,
                    _unit(c.value, unit),
                    score_text(c.points),
                    fmt(c.max_points),
                    _unit(c.target, unit),
                    *note,
                    Text(
                        _bar(c.points / c.max_points if c.max_points else 0, 16 if self.app.size.width >= 100 else 5),
                        style="green",
                    ),
                )
        self.query_one("#components", Static).update(_numbers_whole(comp) if card else Text("—", style="dim"))

        req = _table("Tier", "Requirement", "Value", "Threshold", "Met", "Shortfall", right=(2, 3, 5))
        if card:
            for c in card.checks:
                need = {"gate": "≥", "maximum": "≤", "min_score": "≥"}[c.kind]
                met = Text("✔ met", style="green") if c.met else Text("✘ not met", style="bold red")
                if c.met and c.close:
                    met = Text("✔ met, close", style="yellow")
                unit = program.unit_of(c.metric) if program and c.kind != "min_score" else ""
                tier_label = c.tier + (f" ({card.variant[c.tier]})" if c.tier in card.variant else "")
                req.add_row(
                    tier_label,
                    c.label + (f" ({c.note})" if c.note else ""),
                    _unit(c.value, unit),
                    _threshold(need, c.threshold, unit),
                    met,
                    "" if c.met else _shortfall(c.shortfall, unit),
                )
        self.query_one("#requirements", Static).update(
            _numbers_whole(req) if card and card.checks else Text("No requirements above this tier.", style="dim")
        )

        gap = Text()
        if card:
            if card.gap is None:
                gap.append(f"{visible(card.earned)} is the top tier.\n")
            elif card.gap.closed:
                gap.append(f"Meets every requirement of {visible(card.gap.tier)}.\n", style="green")
            else:
                gap.append(f"To reach {visible(card.gap.tier)}:\n", style="bold")
                for line in card.gap.texts():
                    gap.append(f"  • {visible(line)}\n")
            if card.at_risk_reasons:
                gap.append("At risk:\n", style="bold red")
                for reason in card.at_risk_reasons:
                    gap.append(f"  • {visible(reason)}\n")
            elif not card.at_risk:
                gap.append("Not at risk.", style="green")
        self.query_one("#gap", Static).update(gap if card else Text("—", style="dim"))

        trend = Text()
        top = max((p.score for p in d.trend), default=0.0)
        scale = max(top, program.max_score if program else 0.0, 1.0)
        for p in d.trend:
            current = p.period == d.period
            trend.append("▸ " if current else "  ", style="bold")
            trend.append(f"{p.period:<9}", style="bold" if current else "")
            trend.append(
                f"{_bar(p.score / scale, BAR_WIDTH):<{BAR_WIDTH}}", style="blue" if not current else "bold cyan"
            )
            trend.append(f" {score_text(p.score):>6}  ")
            trend.append_text(tier_text(p.effective_tier, p.event))
            trend.append("\n")
        self.query_one("#trend", Static).update(trend if d.trend else Text("No periods levelled.", style="dim"))

        certs = _table("Track", "Person", "Certification", "Earned", "Expires", "Status")
        for c in d.certifications:
            status = {
                "active": Text("✔ active", style="green"),
                "expiring": Text(f"◔ expires in {c.days_left} d", style="yellow"),
                "expired": Text("✘ expired", style="red"),
            }[c.status]
            certs.add_row(c.track, c.person, c.certification, str(c.earned_on), str(c.expires_on or "never"), status)
        counts = {}
        for c in d.certifications:
            counts.setdefault(c.track, {"active": 0, "expiring": 0, "expired": 0})[c.status] += 1
        summary = Text(
            " · ".join(
                f"{visible(t)}: {v['active'] + v['expiring']} active ({v['expiring']} expiring), {v['expired']} expired"
                for t, v in sorted(counts.items())
            ),
            style="dim",
        )
        self.query_one("#certifications", Static).update(
            Group(summary, certs) if d.certifications else Text("No certifications.", style="dim")
        )

        subs = self.query_one("#subsidiaries", Static)
        self.query_one("#subsidiaries-title").display = bool(d.subsidiaries)
        subs.display = bool(d.subsidiaries)
        if d.subsidiaries and program:
            labels = [program.label_of(m) for m in d.contribution_metrics]
            table = _table("Subsidiary", "Tier", *labels, right=tuple(range(2, 2 + len(labels))))
            for s in d.subsidiaries:
                cells = []
                for m in d.contribution_metrics:
                    total = d.parent_values.get(m, 0.0)
                    share = f" ({s.values[m] / total:.0%})" if total else ""
                    cells.append(_unit(s.values[m], program.unit_of(m)) + share)
                table.add_row(f"{s.partner_id} {s.name}", s.tier or "–", *cells)
            subs.update(table)

        ov = _table("#", "Tier", "Status", "Window", "Requested by", "Decided by", "Reason / note")
        for o in d.overrides:
            style = {"pending": "yellow", "approved": "green", "rejected": "red"}[o.status]
            window = f"{o.starts_on} → {o.expires_on or 'open'}"
            text = o.reason + (f" — {o.note}" if o.note else "")
            ov.add_row(str(o.id), o.tier, Text(o.status, style=style), window, o.requested_by, o.decided_by or "", text)
        self.query_one("#overrides", Static).update(
            ov if d.overrides else Text("No overrides. Press r to request one.", style="dim")
        )

    # ------------------------------------------------------------------ actions

    def action_period(self, step: int) -> None:
        if not self.data or not self.data.periods or self.data.period is None:
            return
        index = self.data.periods.index(self.data.period) + step
        if 0 <= index < len(self.data.periods):
            self.period = self.data.periods[index]
            self._show_period(self.period)
        else:
            self.notify("No " + ("earlier" if step < 0 else "later") + " period.", timeout=2)

    def _own_pending(self):
        if not self.data:
            return None
        return next((o for o in self.data.overrides if o.status == "pending" and o.requested_by == self.app.user), None)

    def action_request_override(self) -> None:
        from .override_form import OverrideForm

        if self.data is None or self.data.program is None:
            self.notify("No program is loaded.", severity="error")
            return
        self.app.push_screen(OverrideForm(self.partner_id, self.data.program.tiers, None), self._after_form)

    def action_edit_override(self) -> None:
        from .override_form import OverrideForm

        mine = self._own_pending()
        if mine is None:
            self.notify(
                "You have no pending override for this partner to edit; press r to request one.", severity="warning"
            )
            return
        self.app.push_screen(OverrideForm(self.partner_id, self.data.program.tiers, mine), self._after_form)

    def _after_form(self, message: str | None) -> None:
        if message:
            self.notify(message, title="Override")
            self.app.data_changed()  # this screen, on top again, reads its scorecard once more

    def action_history(self) -> None:
        from .history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.partner_id, self.period))

    def action_copy_summary(self) -> None:
        """Copy a plain-text summary of the scorecard shown (OSC 52) and say so."""
        if self.data is None:
            self.notify("The scorecard is still loading.", timeout=2)
            return
        text = summary_text(self.data)
        self.app.copy_to_clipboard(text)
        self.notify(
            f"Copied the summary of {visible(self.data.info.partner_id)} ({self.data.period or 'not levelled'}) "
            "to the clipboard.",
            title="Copied",
            markup=False,
        )

    def action_audit(self) -> None:
        from .audit import AuditScreen

        self.app.push_screen(AuditScreen(self.partner_id))

    def action_parent(self) -> None:
        if self.data and self.data.info.parent_id:
            self.app.open_scorecard(self.data.info.parent_id, self.period)
        else:
            self.notify("This partner has no parent.", timeout=2)
