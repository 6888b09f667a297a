"""Write a call note on a partner (``n`` on a scorecard): Enter saves, Escape cancels."""

from __future__ import annotations

from ...services.notes import MAX_LENGTH, problem
from .dialogs import PromptScreen


class CallNoteScreen(PromptScreen):
    """Ask for a call note; dismissed with its text (saved by the scorecard, in a worker) or None.

    An empty or over-long note is refused here with the service's own words, the text kept to fix.
    """

    def __init__(self, partner: str) -> None:
        super().__init__(
            f"Call note on {partner}",
            "What was said",
            hint=f"Dated now, under your name; at most {MAX_LENGTH:,} characters.",
            confirm="Save",
        )

    def problem_with(self, value: str) -> str | None:
        reason = problem(value)
        return None if reason is None else reason[0].upper() + reason[1:] + "."
