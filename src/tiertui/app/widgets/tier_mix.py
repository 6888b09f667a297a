"""The dashboard's data lines: completeness of the latest period, and the tier mix as a chart.

The chart is drawn by hand with Rich (one line a period: a stacked bar, the count of each tier,
promotions and demotions): textual-plotext 1.0.1 works with Textual 8.2.8, but in the six to eight
rows the dashboard has at 80×24 its axes and legend leave a few rows of bars whose series differ
only by colour and whose counts cannot be read out; here every tier has its own glyph (readable
without colour), and every number is printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from ...safe_text import visible

if TYPE_CHECKING:
    from ...services.read.engine import DashboardData, MixPeriod

GLYPHS = ("░", "▒", "▓", "█", "▚", "▞")  # lowest tier first
STYLES = ("grey62", "bright_white", "yellow", "cyan", "magenta", "green")
BAR = 24


def completeness_text(data: DashboardData) -> Text:
    """ "Reported for 2026-Q3: Product revenue: 4,961 of 5,000 reported · …", and a warning line for
    each period that looks partial."""
    status = data.status
    text = Text()
    latest = status.latest() if status is not None else None  # type: ignore[attr-defined]
    if latest is None:
        return text
    text.append(f"Data for {visible(latest.period)}: ", style="dim")
    short = [m for m in latest.metrics if m.reported < m.partners]
    if not short:
        partners = latest.metrics[0].partners if latest.metrics else 0
        text.append(f"every metric reported by all {partners:,} partners")
    else:
        text.append(" · ".join(visible(m.text()) for m in short))
        if len(short) < len(latest.metrics):
            text.append(" · the other metrics by every partner", style="dim")
    for period in status.periods:  # type: ignore[attr-defined]
        for reason in period.partial:
            text.append(f"\n! {visible(period.period)} looks partial: {visible(reason)}", style="bold yellow")
    return text


def _cells(counts: list[int], width: int) -> list[int]:
    """Each count's share of ``width`` cells (largest remainder; a tier with partners gets one at least)."""
    total = sum(counts)
    if not total:
        return [0] * len(counts)
    exact = [c * width / total for c in counts]
    cells = [max(1, int(x)) if c else 0 for c, x in zip(counts, exact)]
    order = sorted(range(len(counts)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    i = 0
    while sum(cells) < width and order:
        if counts[order[i % len(order)]]:
            cells[order[i % len(order)]] += 1
        i += 1
    while sum(cells) > width:
        cells[cells.index(max(cells))] -= 1
    return cells


def tier_mix_chart(tiers: tuple[str, ...], mix: list[MixPeriod]) -> Text:
    text = Text()
    if not mix or not tiers:
        text.append("No periods levelled yet.", style="dim")
        return text
    text.append("  ")
    for i, tier in enumerate(tiers):
        text.append(GLYPHS[i % len(GLYPHS)], style=STYLES[i % len(STYLES)])
        text.append(f" {visible(tier)}  ")
    text.append("▲ promoted  ▼ demoted\n", style="dim")
    width = max(len(str(sum(m.tiers.values()))) for m in mix)
    for m in mix:
        counts = [m.tiers.get(t, 0) for t in tiers]
        text.append(f"  {visible(m.period):<8} ")
        for i, cells in enumerate(_cells(counts, BAR)):
            text.append(GLYPHS[i % len(GLYPHS)] * cells, style=STYLES[i % len(STYLES)])
        text.append("  ")
        text.append(" ".join(f"{GLYPHS[i % len(GLYPHS)]}{c:>{width}}" for i, c in enumerate(counts)))
        text.append(f"  ▲{m.promoted:<{width}}", style="green")
        text.append(f" ▼{m.demoted}", style="red")
        text.append("\n")
    text.rstrip()
    return text
