"""A partner's scorecard as plain text to paste into an e-mail or a chat (the app's ``y``).

Plain: every piece of data goes through :func:`tiertui.safe_text.visible`, so the text holds no
control or escape character, whatever a partner's name holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...safe_text import visible
from ...scoring.numbers import number_text, score_text

if TYPE_CHECKING:
    from .engine import PartnerScorecard


def summary_text(data: PartnerScorecard) -> str:
    """Partner, period, tier, score, gap to the next tier and at-risk reasons, one fact a line."""
    info, card = data.info, data.card
    lines = [f"{visible(info.name)} ({visible(info.partner_id)})"]
    if card is None or data.period is None:
        lines.append("Not levelled yet.")
        return "\n".join(lines) + "\n"
    lines.append(f"Period: {visible(data.period)}")
    tier = f"Tier: {visible(card.effective)}"
    if card.override_id is not None:
        tier += f" (override #{card.override_id}; earned {visible(card.earned)})"
    elif card.earned != card.effective:
        tier += f" (earned {visible(card.earned)})"
    if card.event != "held":
        tier += f", {visible(card.event)}"
    lines.append(tier)
    lines.append(f"Score: {score_text(card.score)} of {number_text(card.max_score)}")
    if card.gap is None:
        lines.append(f"Gap: none, {visible(card.earned)} is the top tier")
    elif card.gap.closed:
        lines.append(f"Gap: meets every requirement of {visible(card.gap.tier)}")
    else:
        lines.append(f"Gap to {visible(card.gap.tier)}:")
        lines += [f"  - {visible(t)}" for t in card.gap.texts()]
    if card.risks:
        lines.append("At risk:")
        lines += [f"  - {visible(r.text)}" for r in card.risks]
    else:
        lines.append("At risk: no")
    return "\n".join(lines) + "\n"
