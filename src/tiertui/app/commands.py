"""Command palette providers: find a partner by id or name from any screen; jump to a screen."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from ..safe_text import visible
from .literal import literal


class PartnerCommands(Provider):
    """ctrl+p, words of the id, name, region or manager in any order, Enter: the partner's scorecard."""

    async def search(self, query: str) -> Hits:
        app = self.app
        text = query.strip()
        if len(text) < 2 and not text.isdigit():
            return
        try:
            hits = await asyncio.to_thread(app.find_partners, text, 15)
        except Exception:  # noqa: BLE001 - the palette shows nothing rather than crash
            return
        matcher = self.matcher(text)
        for rank, hit in enumerate(hits):  # best first (find-a-partner's order): the palette keeps it
            label = visible(f"{hit.name}  ({hit.partner_id})")
            score = 1.0 - rank * 0.01
            detail = visible(" · ".join(x for x in (hit.tier, hit.region, hit.account_manager) if x))
            yield Hit(
                score,
                highlight(matcher, label),
                partial(app.open_scorecard, hit.partner_id),
                text=label,
                # help is read as markup by the palette: as Content it is shown as it is
                help=literal(f"Open the scorecard · {detail}" if detail else "Open the scorecard"),  # type: ignore[arg-type]
            )


def highlight(matcher: Matcher, label: str) -> Content:
    """``label`` with the letters the fuzzy matcher matched highlighted, as Textual's
    ``Matcher.highlight`` does, but literal: that method reads the label as markup."""
    content = Content(label)
    score, offsets = matcher.fuzzy_search.match(matcher.query, label)
    if score:
        for offset in offsets:
            if not label[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class NavigationCommands(Provider):
    """The screens and long jobs, by name."""

    COMMANDS = (
        ("Dashboard", "action_dashboard", "Partners per tier, changes, attention"),
        ("Partner list", "action_partners", "Filter, sort and open partners"),
        ("My partners", "action_my_partners", "The partners you are the account manager of (m)"),
        ("Overrides queue", "action_overrides", "Approve or reject pending tier overrides"),
        ("Certifications", "action_certifications", "Certifications and lapse risk"),
        ("What-if scenarios", "action_whatif", "Edit the program's numbers and see who moves and the cost"),
        ("Audit log", "action_audit", "Who changed what and when, newest first"),
        ("Copy the scorecard summary", "action_copy_summary", "Partner, tier, score, gap and risks as plain text"),
        ("Run levelling", "action_level", "Evaluate every period again"),
        ("Import a file", "action_import_file", "Partners, metrics or certifications (CSV/XLSX)"),
    )

    async def discover(self) -> Hits:
        for name, action, help_text in self.COMMANDS:
            yield DiscoveryHit(name, getattr(self.app, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self.COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), getattr(self.app, action), help=help_text)


class SavedViewCommands(Provider):
    """The partner list's saved views (views.toml), by name: Enter opens the list with that view."""

    def _views(self):
        from .views import load_views

        return load_views(self.app.config_folder)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for name, query in self._views().items():
            yield DiscoveryHit(
                literal(f"View: {name}"),  # type: ignore[arg-type]
                partial(self.app.open_partners, query, name),  # type: ignore[attr-defined]
                help="A saved view of the partner list",
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, view in self._views().items():
            label = visible(f"View: {name}")
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, label),
                    partial(self.app.open_partners, view, name),  # type: ignore[attr-defined]
                    text=label,
                    help="A saved view of the partner list",
                )
