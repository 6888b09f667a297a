"""Evaluation semantics (spec §3), for many partners at once.

Everything is columnar: one numpy array per metric and period, one element per partner.
The same functions explain a single partner (a batch of one), so the rules exist once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .periods import Period
from .program import CERT_PREFIX, Program, Rule

EVENTS = ("promoted", "held", "demoted", "grace")
PROMOTED, HELD, DEMOTED, GRACE = range(4)
NEVER = date.max.toordinal()
SCORE_DECIMALS = 6  # float noise is rounded away before any comparison


class EvaluationError(ValueError):
    """Inputs that cannot be evaluated (for example a parent cycle)."""


@dataclass
class Partners:
    """The partners of one evaluation, as parallel columns."""

    ids: Sequence[str]
    regions: Sequence[str]
    types: Sequence[str]
    parent: np.ndarray  # index of the parent partner, -1 for none
    tier_on_record: np.ndarray  # tier index before the first period

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Certifications:
    """Certification rows, as parallel columns."""

    partner: np.ndarray  # partner index
    person: np.ndarray  # person code: equal codes are the same person
    track: Sequence[str]
    earned: np.ndarray  # date ordinals
    expires: np.ndarray  # date ordinals, NEVER for no expiry

    @classmethod
    def empty(cls) -> Certifications:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, [], z, z)


@dataclass(frozen=True)
class ApprovedOverride:
    id: int
    partner: int  # partner index
    tier: int  # tier index
    starts_on: date
    expires_on: date | None
    order: tuple  # sort key: the override approved last sorts last


@dataclass
class Inputs:
    partners: Partners
    periods: Sequence[Period]
    metrics: Mapping[str, np.ndarray]  # metric -> (n_periods, n_partners) own values, 0 if none
    certifications: Certifications = field(default_factory=Certifications.empty)
    overrides: Sequence[ApprovedOverride] = ()


@dataclass
class PeriodResult:
    period: Period
    values: dict[str, np.ndarray]  # group value of every used metric
    score: np.ndarray
    qualified: np.ndarray
    earned: np.ndarray
    effective: np.ndarray
    override: np.ndarray  # override id, -1 for none
    event: np.ndarray
    below: np.ndarray
    at_risk: np.ndarray
    badges: np.ndarray  # (n_badges, n_partners) bool


# ------------------------------------------------------------------- group values (§3.2)


def group_order(parent: np.ndarray) -> list[np.ndarray]:
    """Partners by depth below their root, deepest level last; raises on a cycle."""
    n = len(parent)
    depth = np.zeros(n, dtype=np.int64)
    cursor = parent.copy()
    for level in range(1, n + 2):
        has = cursor >= 0
        if not has.any():
            break
        if level > n:
            raise EvaluationError("the parent links form a cycle")
        depth[has] = level
        cursor = np.where(has, parent[np.maximum(cursor, 0)], -1)
    return [np.flatnonzero(depth == d) for d in range(1, int(depth.max(initial=0)) + 1)]


def roll_up(own: np.ndarray, parent: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """Sum of ``own`` over each partner's group (itself and all descendants); last axis = partners."""
    total = np.array(own, dtype=np.float64, copy=True)
    for nodes in reversed(levels):
        moved = np.moveaxis(total, -1, 0)
        np.add.at(moved, parent[nodes], moved[nodes])
    return total


def ancestors_with_self(partner: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row (by its partner), every partner whose group contains it: (rows, groups)."""
    rows = [np.arange(len(partner))]
    groups = [partner]
    current = partner
    while len(current):
        up = parent[current]
        keep = up >= 0
        rows.append(rows[-1][keep])
        current = up[keep]
        groups.append(current)
    return np.concatenate(rows), np.concatenate(groups)


def certified_people(
    certs: Certifications, tracks: Sequence[str], ends: Sequence[date], parent: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """``cert:<track>`` group values: distinct people per group with an active certification."""
    out = {t: np.zeros((len(ends), n)) for t in tracks}
    if not tracks or len(certs.partner) == 0:
        return out
    track_code = {t: i for i, t in enumerate(tracks)}
    code = np.array([track_code.get(t, -1) for t in certs.track], dtype=np.int64)
    wanted = code >= 0
    rows, groups = ancestors_with_self(certs.partner[wanted], parent)
    src = np.flatnonzero(wanted)[rows]
    people = int(certs.person.max(initial=0)) + 1
    key = (groups.astype(np.int64) * len(tracks) + code[src]) * people + certs.person[src]
    order = np.argsort(key, kind="stable")  # sorted once: equal (group, track, person) side by side
    key, earned, expires = key[order], certs.earned[src][order], certs.expires[src][order]
    for p, end in enumerate(ends):
        e = end.toordinal()
        k = key[(earned <= e) & (expires >= e)]
        first = np.ones(len(k), dtype=bool)
        first[1:] = k[1:] != k[:-1]
        counts = np.bincount(k[first] // people, minlength=n * len(tracks)).reshape(n, len(tracks))
        for t, i in track_code.items():
            out[t][p] = counts[:, i]
    return out


def group_values(program: Program, inputs: Inputs) -> dict[str, np.ndarray]:
    """Every used metric's group value: metric -> (n_periods, n_partners)."""
    partners = inputs.partners
    n, k = len(partners), len(inputs.periods)
    levels = group_order(partners.parent)
    used = program.used_metrics()
    values: dict[str, np.ndarray] = {}
    summed = [m for m in used if not m.startswith(CERT_PREFIX) and program.metrics[m].rollup == "sum"]
    if summed:
        stack = np.stack([_own(inputs, m, k, n) for m in summed])
        rolled = roll_up(stack, partners.parent, levels)
        values.update(zip(summed, rolled))
    for m in used:
        if not m.startswith(CERT_PREFIX) and m not in values:
            values[m] = _own(inputs, m, k, n)
    tracks = [m[len(CERT_PREFIX) :] for m in used if m.startswith(CERT_PREFIX)]
    cert = certified_people(inputs.certifications, tracks, [p.end for p in inputs.periods], partners.parent, n)
    values.update({CERT_PREFIX + t: v for t, v in cert.items()})
    return {m: values[m] for m in used}


def _own(inputs: Inputs, metric: str, k: int, n: int) -> np.ndarray:
    own = inputs.metrics.get(metric)
    return np.zeros((k, n)) if own is None else np.asarray(own, dtype=np.float64)


# ------------------------------------------------------------------------ score (§3.3)


def component_points(program: Program, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Points of each score component: points * min(max(value, 0) / target, 1)."""
    return [c.points * np.clip(values[c.metric] / c.target, 0.0, 1.0) for c in program.score]


def total_score(points: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    total = np.zeros_like(like, dtype=np.float64)
    for p in points:
        total = total + p
    return np.round(total, SCORE_DECIMALS)


# ------------------------------------------------------------- tier requirements (§3.4)


@dataclass
class Thresholds:
    """One tier's resolved requirements, one element per partner (NaN: not required)."""

    min_score: np.ndarray
    gates: dict[str, np.ndarray]
    maxima: dict[str, np.ndarray]
    variant: np.ndarray  # 0: base rule, i: variant i


def kinds_of_partner(regions: Sequence[str], types: Sequence[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The distinct (region, partner type) pairs, and each partner's index into them."""
    if not len(regions):
        return [], np.zeros(0, dtype=np.int64)
    region_names, region_code = np.unique(np.asarray(regions, dtype=str), return_inverse=True)
    type_names, type_code = np.unique(np.asarray(types, dtype=str), return_inverse=True)
    pairs, inverse = np.unique(region_code * len(type_names) + type_code, return_inverse=True)
    kinds = [(str(region_names[c // len(type_names)]), str(type_names[c % len(type_names)])) for c in pairs.tolist()]
    return kinds, inverse.reshape(-1)


def resolve(program: Program, regions: Sequence[str], types: Sequence[str]) -> dict[int, Thresholds]:
    """Each tier's requirements merged with each partner's first matching variant."""
    kinds, kind_of = kinds_of_partner(regions, types)
    result = {}
    for tier, req in program.requirements.items():
        options = req.options()
        variant = (
            np.array([req.variant_index(r, t) for r, t in kinds], dtype=np.int64)[kind_of]
            if kinds
            else (np.zeros(0, dtype=np.int64))
        )
        gate_metrics = {m: None for rule in options for m in rule.gates}
        max_metrics = {m: None for rule in options for m in rule.maxima}
        result[program.tier_index(tier)] = Thresholds(
            _column(options, variant, lambda r: r.min_score),
            {m: _column(options, variant, lambda r, m=m: r.gates.get(m)) for m in gate_metrics},
            {m: _column(options, variant, lambda r, m=m: r.maxima.get(m)) for m in max_metrics},
            variant,
        )
    return result


def _column(options: list[Rule], variant: np.ndarray, get) -> np.ndarray:
    """One threshold per partner: the value in the partner's resolved rule, NaN where absent."""
    table = np.array([np.nan if get(rule) is None else get(rule) for rule in options], dtype=np.float64)
    return table[variant]


def gate_met(value, gate):
    return np.isnan(gate) | (value >= gate)


def maximum_met(value, maximum):
    return np.isnan(maximum) | (value <= maximum)


def score_met(score, min_score):
    return np.isnan(min_score) | (score >= min_score)


def gate_close(value, gate, margin):
    return ~np.isnan(gate) & (value < gate * (1 + margin))


def maximum_close(value, maximum, margin):
    return ~np.isnan(maximum) & (value > maximum * (1 - margin))


def score_close(score, min_score, margin):
    return ~np.isnan(min_score) & (score < min_score * (1 + margin))


def meets(th: Thresholds, score: np.ndarray, values: Mapping[str, np.ndarray]) -> np.ndarray:
    ok = score_met(score, th.min_score)
    for m, gate in th.gates.items():
        ok = ok & gate_met(values[m], gate)
    for m, maximum in th.maxima.items():
        ok = ok & maximum_met(values[m], maximum)
    return ok


def close_to_losing(th: Thresholds, score, values, margin: float) -> np.ndarray:
    risky = score_close(score, th.min_score, margin)
    for m, gate in th.gates.items():
        risky = risky | gate_close(values[m], gate, margin)
    for m, maximum in th.maxima.items():
        risky = risky | maximum_close(values[m], maximum, margin)
    return risky


def qualified_tier(thresholds: Mapping[int, Thresholds], score, values) -> np.ndarray:
    """The highest tier whose requirements are met; the entry tier (0) if none (§3.5)."""
    tier = np.zeros(np.shape(score), dtype=np.int64)
    for t in sorted(thresholds):
        tier = np.where(meets(thresholds[t], score, values), t, tier)
    return tier


def step_earned(qualified, earned, below, grace: int):
    """One period of §3.6: returns (earned, below, event)."""
    up = qualified > earned
    down = qualified < earned
    below = np.where(down, below + 1, 0)
    demote = down & (below > grace)
    event = np.select([up, demote, down], [PROMOTED, DEMOTED, GRACE], HELD)
    earned = np.where(up | demote, qualified, earned)
    below = np.where(demote, 0, below)
    return earned, below, event


def at_risk(thresholds, score, values, earned, event, margin: float) -> np.ndarray:
    """§3.8: in grace, or close to a threshold of the earned tier."""
    risky = event == GRACE
    for t, th in thresholds.items():
        mine = earned == t
        if mine.any():
            risky = risky | (mine & close_to_losing(th, score, values, margin))
    return risky


def badge_flags(program: Program, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    if not program.badges:
        return np.zeros((0, n), dtype=bool)
    return np.stack([values[b.metric] >= b.min for b in program.badges])


def apply_overrides(
    overrides: Sequence[ApprovedOverride], end: date, earned: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """§3.7: the approved override whose window holds ``end``, approved last, wins."""
    effective = earned.copy()
    chosen = np.full(len(earned), -1, dtype=np.int64)
    for o in sorted(overrides, key=lambda o: o.order):
        if o.starts_on <= end and (o.expires_on is None or end <= o.expires_on):
            effective[o.partner] = o.tier
            chosen[o.partner] = o.id
    return effective, chosen


# ------------------------------------------------------------------------- the run


def check_periods(program: Program, periods: Sequence[Period]) -> None:
    for p in periods:
        if p.frequency != program.frequency:
            raise EvaluationError(
                f"period {p.label} is {p.frequency} but the program {program.name!r} is {program.frequency}"
            )


def level(program: Program, inputs: Inputs) -> list[PeriodResult]:
    """Evaluate every period, oldest first (§3)."""
    check_periods(program, inputs.periods)
    return level_values(program, inputs, group_values(program, inputs))


def level_values(
    program: Program, inputs: Inputs, values: Mapping[str, np.ndarray], upto: int | None = None
) -> list[PeriodResult]:
    """§3.3 to §3.9 on precomputed group values (metric -> (n_periods, n_partners)).

    Group values depend only on the data and on which metrics a program uses, not on its
    thresholds, so a what-if scenario computes them once and re-evaluates after every edit.
    ``upto`` stops after that many periods.
    """
    periods = list(inputs.periods)[:upto]
    check_periods(program, periods)
    partners = inputs.partners
    n = len(partners)
    thresholds = resolve(program, partners.regions, partners.types)
    earned = np.asarray(partners.tier_on_record, dtype=np.int64).copy()
    below = np.zeros(n, dtype=np.int64)
    zeros = np.zeros(n)
    results = []
    for k, period in enumerate(periods):
        v = {m: values[m][k] for m in program.used_metrics()}
        score = total_score(component_points(program, v), zeros)
        qualified = qualified_tier(thresholds, score, v)
        earned, below, event = step_earned(qualified, earned, below, program.grace_periods)
        effective, chosen = apply_overrides(inputs.overrides, period.end, earned)
        results.append(
            PeriodResult(
                period=period,
                values=v,
                score=score,
                qualified=qualified,
                earned=earned,
                effective=effective,
                override=chosen,
                event=event,
                below=below,
                at_risk=at_risk(thresholds, score, v, earned, event, program.at_risk_margin),
                badges=badge_flags(program, v, n),
            )
        )
    return results
