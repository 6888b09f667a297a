"""Request or edit a tier override: tier, reason (required), start, optional expiry; checked as you type."""

from __future__ import annotations

from datetime import date

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...safe_text import visible
from ...services import overrides
from ...services.errors import ServiceError
from ...services.read.engine import OverrideLine
from ..literal import literal
from .base import fix_blink


def parse_date(text: str) -> date | None:
    return date.fromisoformat(text.strip())


def problems_of(tier, reason: str, starts: str, expires: str) -> list[str]:
    """What stops the request from being filed, in words; empty when it can be."""
    found = []
    if tier is None or tier is Select.NULL:
        found.append("choose a tier")
    if not reason.strip():
        found.append("a reason is required")
    start = end = None
    if not starts.strip():
        found.append("a start date is required")
    else:
        try:
            start = parse_date(starts)
        except ValueError:
            found.append(f"start {starts.strip()!r} is not a date (YYYY-MM-DD)")
    if expires.strip():
        try:
            end = parse_date(expires)
        except ValueError:
            found.append(f"expiry {expires.strip()!r} is not a date (YYYY-MM-DD)")
    if start and end and end < start:
        found.append(f"expiry {end} is before the start {start}")
    return found


class OverrideForm(ModalScreen[str | None]):
    """Dismisses with a message for a person once filed, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", id="override_form.submit", priority=True),
        Binding("escape", "cancel", "Cancel", id="override_form.cancel"),
    ]

    def __init__(self, partner_id: str, tiers, existing: OverrideLine | None) -> None:
        super().__init__()
        self.partner_id = partner_id
        self.tiers = tuple(tiers)
        self.existing = existing
        self.submitting = False  # the request is being written

    def compose(self) -> ComposeResult:
        e = self.existing
        today = self.app.today
        with Vertical(id="override-form", classes="dialog"):
            title = f"Edit override #{e.id}" if e else "Request a tier override"
            yield Static(literal((title, "bold"), f" for {self.partner_id}"), classes="dialog-title")
            yield Label("Tier")
            yield Select(
                [(visible(t), t) for t in reversed(self.tiers)],
                prompt="Choose a tier",
                id="tier",
                value=e.tier if e else Select.NULL,
            )
            yield Label("Reason (required)")
            yield Input(
                e.reason if e else "",
                placeholder="Why this partner should have this tier",
                id="reason",
                select_on_focus=False,
            )
            with Horizontal(classes="dates"):
                with Vertical():
                    yield Label("Starts on")
                    yield Input(str(e.starts_on) if e else today.isoformat(), placeholder="YYYY-MM-DD", id="starts")
                with Vertical():
                    yield Label("Expires on (optional)")
                    yield Input(str(e.expires_on or "") if e else "", placeholder="YYYY-MM-DD or empty", id="expires")
            yield Static(id="problems")
            with Horizontal(classes="buttons"):
                yield Button("Submit  ctrl+s", variant="primary", id="submit")
                yield Button("Cancel  esc", id="cancel")

    def on_mount(self) -> None:
        fix_blink(self)
        self.validate_form()
        self.query_one("#tier" if self.existing is None else "#reason").focus()

    def values(self):
        return (
            self.query_one("#tier", Select).value,
            self.query_one("#reason", Input).value,
            self.query_one("#starts", Input).value,
            self.query_one("#expires", Input).value,
        )

    def validate_form(self) -> list[str]:
        found = problems_of(*self.values())
        box = self.query_one("#problems", Static)
        if found:
            box.update(
                literal(
                    *(piece for i, p in enumerate(found) for piece in ("\n" if i else "", ("✘", "bold red"), f" {p}"))
                )
            )
            box.set_class(True, "invalid")
        else:
            box.update(literal(("✔", "bold green"), " Ready to submit: it takes effect once someone else approves it."))
            box.set_class(False, "invalid")
        self.query_one("#submit", Button).disabled = bool(found)
        return found

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.validate_form()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.submitting:  # a request being written closes the form when it is done
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.validate_form():
            self.query_one("#problems", Static).add_class("shake")
            return
        tier, reason, starts, expires = self.values()
        start = parse_date(starts)
        end = parse_date(expires) if expires.strip() else None
        if self.submitting:
            return
        self.submitting = True
        self.query_one("#submit", Button).disabled = True
        self._submit(tier, reason, start, end)

    @work(thread=True, group="override-submit", exit_on_error=False)
    def _submit(self, tier: str, reason: str, start, end) -> None:
        """Write the request (or the edit) in a thread; the form closes with the outcome."""
        existing = self.existing
        try:
            if existing:
                overrides.edit(self.app.engine, self.app.user, existing.id, tier, reason, start, end)
                message = f"Override #{existing.id} updated: {self.partner_id} → {tier}."
            else:
                new_id = overrides.request(self.app.engine, self.app.user, self.partner_id, tier, reason, start, end)
                message = f"Override #{new_id} requested: {self.partner_id} → {tier}; waiting for approval."
        except ServiceError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self._written, message)

    def _written(self, message: str) -> None:
        if self in self.app.screen_stack:
            self.dismiss(message)

    def _refused(self, message: str) -> None:
        if self not in self.app.screen_stack:
            return
        self.submitting = False
        self.query_one("#submit", Button).disabled = False
        self.query_one("#problems", Static).update(literal(("✘", "bold red"), f" {message}"))
