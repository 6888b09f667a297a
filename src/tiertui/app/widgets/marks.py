"""How tier changes and risk look: always a symbol and a word, colour only on top."""

from __future__ import annotations

from rich.text import Text

from ...safe_text import visible

EVENT_MARKS = {
    "promoted": ("▲", "bold green"),
    "demoted": ("▼", "bold red"),
    "grace": ("◆", "bold yellow"),
    "protected": ("▣", "bold cyan"),  # (v2 §3.11) kept by a program change's protection
    "held": ("·", ""),
}
OVERRIDE_MARK = "✎"


def event_text(event: str | None) -> Text:
    if not event:
        return Text("–", style="dim")
    symbol, style = EVENT_MARKS.get(event, ("?", ""))
    return Text(f"{symbol} {event}", style=style)


def tier_text(tier: str | None, event: str | None = None, overridden: bool = False) -> Text:
    if not tier:
        return Text("not levelled", style="dim")
    symbol, style = EVENT_MARKS.get(event or "held", ("·", ""))
    text = Text(f"{symbol} {visible(tier)}", style=style)
    if overridden:
        text.append(f" {OVERRIDE_MARK}", style="bold magenta")
    return text


def risk_text(at_risk: bool) -> Text:
    return Text("! at risk", style="bold red") if at_risk else Text("")
