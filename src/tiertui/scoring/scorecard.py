"""A partner's scorecard for one period: the result, and why (spec §3.8 to §3.10)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import evaluate as ev
from .program import Program


@dataclass(frozen=True)
class ComponentLine:
    metric: str
    label: str
    value: float
    points: float
    max_points: float
    target: float


@dataclass(frozen=True)
class CheckLine:
    """One requirement of one tier: ``kind`` is ``min_score``, ``gate`` or ``maximum``."""

    tier: str
    kind: str
    metric: str
    label: str
    value: float
    threshold: float
    met: bool
    close: bool  # within the at-risk margin

    @property
    def shortfall(self) -> float:
        """How far the value is from meeting the threshold (0 when met)."""
        if self.met:
            return 0.0
        return self.value - self.threshold if self.kind == "maximum" else self.threshold - self.value

    def describe(self) -> str:
        verb = {"gate": "at least", "maximum": "at most", "min_score": "at least"}[self.kind]
        text = f"{self.label}: {fmt(self.value)}, needs {verb} {fmt(self.threshold)}"
        if not self.met:
            more = "less" if self.kind == "maximum" else "more"
            text += f" ({fmt(self.shortfall)} {more})"
        return text


@dataclass(frozen=True)
class Gap:
    tier: str
    unmet: tuple[CheckLine, ...]
    score_shortfall: float

    @property
    def closed(self) -> bool:
        return not self.unmet


@dataclass(frozen=True)
class Scorecard:
    period: str
    score: float
    max_score: float
    qualified: str
    earned: str
    effective: str
    override_id: int | None
    event: str
    below: int
    at_risk: bool
    at_risk_reasons: tuple[str, ...]
    badges: tuple[str, ...]
    components: tuple[ComponentLine, ...]
    checks: tuple[CheckLine, ...]  # the earned tier's and the next tier's
    gap: Gap | None  # None at the top tier
    variant: Mapping[str, str] = field(default_factory=dict)  # tier -> variant applied


def fmt(value: float) -> str:
    """A number as a channel manager reads it: 1,250,000 / 3 / 87.5."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def explain(
    program: Program,
    region: str,
    partner_type: str,
    values: Mapping[str, float],
    period: str,
    earned: int,
    event: int,
    below: int = 0,
    effective: int | None = None,
    override_id: int | None = None,
) -> Scorecard:
    """Explain one partner's result, using the very functions :func:`evaluate.level` uses."""
    arrays = {m: np.array([float(values.get(m, 0.0))]) for m in program.used_metrics()}
    points = ev.component_points(program, arrays)
    score_arr = ev.total_score(points, np.zeros(1))
    score = float(score_arr[0])
    thresholds = ev.resolve(program, [region], [partner_type])
    qualified = int(ev.qualified_tier(thresholds, score_arr, arrays)[0])
    earned_arr = np.array([earned])
    risky = bool(ev.at_risk(thresholds, score_arr, arrays, earned_arr, np.array([event]), program.at_risk_margin)[0])
    components = tuple(
        ComponentLine(c.metric, program.label_of(c.metric), float(arrays[c.metric][0]), float(p[0]), c.points, c.target)
        for c, p in zip(program.score, points)
    )
    tiers_shown = [t for t in (earned, earned + 1) if t in thresholds]
    checks = tuple(line for t in tiers_shown for line in _checks(program, t, thresholds[t], score_arr, arrays))
    gap = None
    if earned + 1 < len(program.tiers):
        nxt = [c for c in checks if c.tier == program.tiers[earned + 1]]
        unmet = tuple(c for c in nxt if not c.met)
        shortfall = next((c.shortfall for c in unmet if c.kind == "min_score"), 0.0)
        gap = Gap(program.tiers[earned + 1], unmet, shortfall)
    reasons = []
    if event == ev.GRACE:
        left = program.grace_periods - below
        reasons.append(
            f"Below {program.tiers[earned]} requirements ({below} of {program.grace_periods} grace "
            f"period{'s' if program.grace_periods != 1 else ''} used): "
            + ("demoted next period unless it qualifies again" if left == 0 else f"{left} more before demotion")
        )
    if earned in thresholds:
        for c in checks:
            if c.tier == program.tiers[earned] and c.close:
                state = "Close to" if c.met else "Below"
                reasons.append(f"{state} {c.tier} threshold: {c.describe()}")
    variant = {}
    for t, th in thresholds.items():
        i = int(th.variant[0])
        if i:
            variant[program.tiers[t]] = program.requirements[program.tiers[t]].variants[i - 1].describe()
    return Scorecard(
        period=period,
        score=score,
        max_score=program.max_score,
        qualified=program.tiers[qualified],
        earned=program.tiers[earned],
        effective=program.tiers[earned if effective is None else effective],
        override_id=override_id,
        event=ev.EVENTS[event],
        below=below,
        at_risk=risky,
        at_risk_reasons=tuple(reasons),
        badges=tuple(sorted(b.name for b in program.badges if arrays[b.metric][0] >= b.min)),
        components=components,
        checks=checks,
        gap=gap,
        variant=variant,
    )


def _checks(program: Program, t: int, th: ev.Thresholds, score, values) -> list[CheckLine]:
    tier, m = program.tiers[t], program.at_risk_margin
    lines = []
    if not np.isnan(th.min_score[0]):
        lines.append(
            CheckLine(
                tier,
                "min_score",
                "score",
                "Score",
                float(score[0]),
                float(th.min_score[0]),
                bool(ev.score_met(score, th.min_score)[0]),
                bool(ev.score_close(score, th.min_score, m)[0]),
            )
        )
    for metric, gate in th.gates.items():
        if not np.isnan(gate[0]):
            v = values[metric]
            lines.append(
                CheckLine(
                    tier,
                    "gate",
                    metric,
                    program.label_of(metric),
                    float(v[0]),
                    float(gate[0]),
                    bool(ev.gate_met(v, gate)[0]),
                    bool(ev.gate_close(v, gate, m)[0]),
                )
            )
    for metric, maximum in th.maxima.items():
        if not np.isnan(maximum[0]):
            v = values[metric]
            lines.append(
                CheckLine(
                    tier,
                    "maximum",
                    metric,
                    program.label_of(metric),
                    float(v[0]),
                    float(maximum[0]),
                    bool(ev.maximum_met(v, maximum)[0]),
                    bool(ev.maximum_close(v, maximum, m)[0]),
                )
            )
    return lines
