"""Movers with reasons: partners whose effective tier differs between the active program and a scenario.

**Movers compare effective tiers.** Approved overrides apply to both sides equally, so an
overridden partner never moves; for every mover the effective tier is the earned tier on both
sides, and the reason explains the change of the earned tier.

**Reasons** compare, for the tier held on one side only (the higher of the two), the partner's
resolved requirements under the active program and under the scenario: the checks that are met
on one side and not on the other ("Gold gate revenue 400,000 < 450,000 (raised from 400,000)",
"score 48.50 < min_score 50 for Gold"). When the checks in P agree, the difference is grace
("grace: 1 of 2 periods below Gold") or history: the reason then explains the period where the
two histories parted ("since 2026-Q1: ...").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...scoring import evaluate as ev
from ...scoring import fmt
from .replay import Run

if TYPE_CHECKING:
    from .session import ScenarioSession

UP, DOWN = "up", "down"


@dataclass(frozen=True)
class Mover:
    partner_id: str
    name: str
    region: str
    partner_type: str
    manager: str
    from_tier: str
    to_tier: str
    direction: str  # "up" | "down"
    reason: str


def movers_of(session: ScenarioSession, history: Run, k: int) -> list[Mover]:
    """Every partner whose effective tier in period ``k`` differs between the baseline and ``history``."""
    before, after = session.baseline.steps[k], history.steps[k]
    idx = np.flatnonzero(before.effective != after.effective)
    if not len(idx):
        return []
    reasons = _Reasons(session, session.baseline, history).explain(idx, k)
    tiers = session.base.tiers
    result = []
    for j, i in enumerate(idx.tolist()):
        a, b = int(before.effective[i]), int(after.effective[i])
        result.append(
            Mover(
                session.partner_ids[i],
                session.names[i],
                session.regions[i],
                session.types[i],
                session.managers[i],
                tiers[a],
                tiers[b],
                UP if b > a else DOWN,
                reasons[j],
            )
        )
    return result


@dataclass
class _Check:
    kind: str  # min_score | gate | maximum
    metric: str
    value_b: np.ndarray
    value_s: np.ndarray
    thr_b: np.ndarray  # NaN: not required on that side
    thr_s: np.ndarray
    met_b: np.ndarray
    met_s: np.ndarray


class _Reasons:
    """Plain-words reasons for a set of movers, vectorised per tier and check."""

    def __init__(self, session: ScenarioSession, base: Run, scenario: Run) -> None:
        self.s = session
        self.tiers = session.base.tiers
        self.b = base
        self.sc = scenario

    def explain(self, idx: np.ndarray, k: int) -> list[str]:
        rb, rs = self.b.steps[k], self.sc.steps[k]
        eb, es = rb.earned[idx], rs.earned[idx]
        tier = np.maximum(eb, es)
        out = self.checks(idx, k, tier, es > eb)
        pending = [j for j, text in enumerate(out) if not text]
        if not pending:
            return out
        # the checks in k agree: the side holding the tier is in grace, or the other side was
        # demoted after its grace. Explain the latest period where one side met the tier and
        # the other did not, then the grace.
        sub = idx[pending]
        tier_sub = tier[pending]
        qb = np.stack([st.qualified[sub] for st in self.b.steps[: k + 1]]) >= tier_sub
        qs = np.stack([st.qualified[sub] for st in self.sc.steps[: k + 1]]) >= tier_sub
        parted = qb != qs
        last = np.where(parted.any(axis=0), k - np.argmax(parted[::-1], axis=0), -1)
        earlier = [""] * len(sub)
        for d in np.unique(last).tolist():
            if d < 0:
                continue
            rows = np.flatnonzero(last == d)
            texts = self.checks(sub[rows], d, tier_sub[rows], qs[d, rows])
            for r, text in zip(rows.tolist(), texts):
                if text:
                    earlier[r] = f"in {self.s.periods[d]}: {text}" if d < k else text
        for j, i, before in zip(pending, sub.tolist(), earlier):
            parts = [p for p in (before, self.grace(i, k)) if p]
            out[j] = "; ".join(parts) or (
                f"{self.tiers[int(self.sc.steps[k].earned[i])]} under the scenario, "
                f"{self.tiers[int(self.b.steps[k].earned[i])]} under the active program"
            )
        return out

    def checks(self, idx: np.ndarray, k: int, tier: np.ndarray, scenario_holds: np.ndarray) -> list[str]:
        """For each partner, the checks of ``tier`` met on the side holding it but not on the other.

        Empty when the holding side does not meet the tier in period ``k`` (it is in grace).
        """
        rb, rs = self.b.steps[k], self.sc.steps[k]
        reasons = [""] * len(idx)
        for t in np.unique(tier).tolist():
            if t == 0:
                continue
            rows = np.flatnonzero(tier == t)
            at = idx[rows]
            tb, ts = self.b.thresholds[t], self.sc.thresholds[t]
            sb, ss = rb.score[at], rs.score[at]
            nan = np.full(len(rows), np.nan)
            checks = [
                _Check(
                    "min_score",
                    "score",
                    sb,
                    ss,
                    tb.min_score[at],
                    ts.min_score[at],
                    ev.score_met(sb, tb.min_score[at]),
                    ev.score_met(ss, ts.min_score[at]),
                )
            ]
            for kind, met, table in (("gate", ev.gate_met, "gates"), ("maximum", ev.maximum_met, "maxima")):
                gates_b, gates_s = getattr(tb, table), getattr(ts, table)
                for m in dict.fromkeys([*gates_b, *gates_s]):
                    gb = gates_b[m][at] if m in gates_b else nan
                    gs = gates_s[m][at] if m in gates_s else nan
                    vb = rb.values[m][at] if m in rb.values else np.zeros(len(rows))
                    vs = rs.values[m][at] if m in rs.values else np.zeros(len(rows))
                    checks.append(_Check(kind, m, vb, vs, gb, gs, met(vb, gb), met(vs, gs)))
            name = self.tiers[t]
            holds = np.asarray(scenario_holds)[rows]
            # only when the side holding the tier meets it do its checks explain the move
            holder_meets = np.ones(len(rows), dtype=bool)
            for c in checks:
                holder_meets &= np.where(holds, c.met_s, c.met_b)
            for c in checks:
                decisive = holder_meets & np.where(holds, c.met_s & ~c.met_b, c.met_b & ~c.met_s)
                for r in np.flatnonzero(decisive).tolist():
                    text = _describe(c, r, name)
                    j = int(rows[r])
                    reasons[j] = f"{reasons[j]}; {text}" if reasons[j] else text
        return reasons

    def grace(self, i: int, k: int) -> str:
        """The grace story in period ``k``: the scenario keeps the tier in grace, or its grace ran out.

        (When the checks in ``k`` do not explain a move, the side holding the tier is in grace.)
        """
        rb, rs = self.b.steps[k], self.sc.steps[k]
        gb, gs = self.b.program.grace_periods, self.sc.program.grace_periods
        change = "" if gb == gs else f" ({'raised' if gs > gb else 'lowered'} from {gb})"
        tier = self.tiers[int(max(rb.earned[i], rs.earned[i]))]
        if rs.earned[i] > rb.earned[i] and rs.event[i] == ev.GRACE:
            below = int(rs.below[i])
            extra = f" (grace_periods raised from {gb})" if gs > gb else ""
            return f"grace: {below} of {gs} period{'s' if gs != 1 else ''} below {tier}{extra}"
        if rs.earned[i] < rb.earned[i] and rs.event[i] == ev.DEMOTED:
            return f"grace over: {gs + 1} period{'s' if gs else ''} below {tier} > grace_periods {gs}{change}"
        return ""


def _num(kind: str, value: float) -> str:
    return f"{value:,.2f}" if kind == "min_score" else fmt(float(value))


def _describe(c: _Check, r: int, tier: str) -> str:
    """One check met on the side holding ``tier`` and not on the other, in plain words.

    The numbers are the scenario's; the active program's follow in brackets where they differ.
    """
    vb, vs, tb, ts = float(c.value_b[r]), float(c.value_s[r]), float(c.thr_b[r]), float(c.thr_s[r])
    ok, fails = {"gate": (">=", "<"), "maximum": ("<=", ">"), "min_score": (">=", "<")}[c.kind]
    if math.isnan(ts):  # switched off in the scenario: it failed under the active program
        was = f"{_num(c.kind, vb)} {fails} {fmt(tb)}"
        if c.kind == "min_score":
            return f"min_score for {tier} switched off (score {was})"
        return f"{tier} {c.kind} {c.metric} switched off (was {was})"
    sign = ok if bool(c.met_s[r]) else fails
    value = _num(c.kind, vs)
    if c.kind == "min_score":
        if vs != vb:
            value += f" (was {_num(c.kind, vb)})"
        text = f"score {value} {sign} min_score {fmt(ts)} for {tier}"
    else:
        text = f"{tier} {c.kind} {c.metric} {value} {sign} {fmt(ts)}"
    if math.isnan(tb):
        text += " (new)"
    elif tb != ts:
        text += f" ({'raised' if ts > tb else 'lowered'} from {fmt(tb)})"
    return text
