"""Command palette providers: find a partner by id or name from any screen; jump to a screen."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from ..safe_text import visible
from ..services.read import engine as reads
from .literal import literal


class PartnerCommands(Provider):
    """ctrl+p, a few letters of the name or id, Enter: the partner's scorecard."""

    async def search(self, query: str) -> Hits:
        app = self.app
        text = query.strip()
        if len(text) < 2 and not text.isdigit():
            return
        try:
            hits = await asyncio.to_thread(reads.find_partners, app.engine, text, 15)
        except Exception:  # noqa: BLE001 - the palette shows nothing rather than crash
            return
        matcher = self.matcher(text)
        for rank, hit in enumerate(hits):
            label = visible(f"{hit.name}  ({hit.partner_id})")
            exact = hit.partner_id.casefold() == text.casefold()
            score = 1.0 if exact else max(matcher.match(label), 0.9 - rank * 0.01)
            detail = visible(" · ".join(x for x in (hit.tier, hit.region) if x))
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
        ("Overrides queue", "action_overrides", "Approve or reject pending tier overrides"),
        ("Certifications", "action_certifications", "Certifications and lapse risk"),
        ("What-if scenarios", "action_whatif", "Edit the program's numbers and see who moves and the cost"),
        ("Audit log", "action_audit", "Who changed what and when, newest first"),
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
