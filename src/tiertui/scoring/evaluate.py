"""Evaluation semantics (spec §3), for many partners at once.

Everything is columnar: one numpy array per metric and period, one element per partner.
The same functions explain a single partner (a batch of one), so the rules exist once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .numbers import round6
from .periods import Period, next_period
from .program import (
    CERT_PREFIX,
    DESIGNATIONS,
    Metric,
    Program,
    Requirement,
    Rule,
    ScoreComponent,
    sort_timeline,
)

EVENTS = ("promoted", "held", "demoted", "grace", "protected")
PROMOTED, HELD, DEMOTED, GRACE, PROTECTED = range(5)
NEVER = date.max.toordinal()
SCORE_DECIMALS = 6  # float noise is rounded away before any comparison (§3.0: numbers.round6)


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
    # (v2 §3.11) the tier on record by name ("" for the entry tier); when given it is read in the
    # version in force at the first evaluated period (through its [transition] map) instead of
    # ``tier_on_record``
    record_names: Sequence[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Certifications:
    """Certification rows, as parallel columns."""

    partner: np.ndarray  # partner index
    person: np.ndarray  # person code: equal codes are the same person (see person_key)
    track: Sequence[str]
    earned: np.ndarray  # date ordinals
    expires: np.ndarray  # date ordinals, NEVER for no expiry
    person_name: Sequence[str] = ()  # optional, per row: the name as written, for lapse-risk texts

    @classmethod
    def empty(cls) -> Certifications:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, [], z, z)


def person_key(text: str) -> str:
    """A person's identity (v2 §3.2): the ``person`` text trimmed and case-folded."""
    return text.strip().casefold()


def person_codes(names: Sequence[str]) -> np.ndarray:
    """Person codes for :class:`Certifications`: equal :func:`person_key` gives an equal code."""
    codes: dict[str, int] = {}
    return np.array([codes.setdefault(person_key(p), len(codes)) for p in names], dtype=np.int64)


@dataclass(frozen=True)
class ApprovedOverride:
    """An approved, not revoked override (§3.7): rejected, pending and revoked ones are never passed."""

    id: int
    partner: int  # partner index
    tier: int  # tier index
    starts_on: date
    expires_on: date | None
    order: tuple  # sort key: the override approved last sorts last
    # (v2 §3.11) the tier by name: when given, read in each period's version (through its map;
    # ignored where the version has no such tier) instead of ``tier``
    tier_name: str | None = None


@dataclass
class Inputs:
    partners: Partners
    periods: Sequence[Period]
    metrics: Mapping[str, np.ndarray]  # metric -> (n_periods, n_partners) own values, 0 if none
    certifications: Certifications = field(default_factory=Certifications.empty)
    overrides: Sequence[ApprovedOverride] = ()
    # (v2 §3.1) metric -> (n_periods, n_partners) bool: True where the partner reported a value
    # (a reported 0 included). None: every value counts as reported. When given, a metric missing
    # from it has no reported value at all.
    reported: Mapping[str, np.ndarray] | None = None


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
    # (v2 §3.1) declared metric -> index of the period the partner's own value comes from:
    # this period's index when reported, an earlier one when carried, -1 when not reported (0)
    sources: dict[str, np.ndarray] = field(default_factory=dict)
    # (v2 §3.8) cert:<track> of a gate -> people counted now who still hold the track at the end
    # of the next period (lapse risk)
    remaining: dict[str, np.ndarray] = field(default_factory=dict)
    # (v2 §3.11) the version in force for this period (tier indices are into its tiers)
    program: Program | None = None
    # (v2 §3.11) in a protected period: each partner's floor (tier index); None: not protected
    floor: np.ndarray | None = None
    protected_through: date | None = None
    # (v2 §3.12) designation -> met in this period (bool); designation -> index into the evaluated
    # periods of the last period it was met (-1: never); held is values["designation:<name>"]
    designation_met: dict[str, np.ndarray] = field(default_factory=dict)
    designation_last: dict[str, np.ndarray] = field(default_factory=dict)


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
    return _people(certs, tracks, ends, parent, n)[0]


def certified_people_remaining(
    certs: Certifications,
    tracks: Sequence[str],
    ends: Sequence[date],
    next_ends: Sequence[date],
    parent: np.ndarray,
    n: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(counted now, remaining): of the people counted at each ``ends[p]``, those who still hold an
    active certification of the track at ``next_ends[p]`` (a renewal on file counts; v2 §3.8)."""
    now, remaining = _people(certs, tracks, ends, parent, n, next_ends)
    assert remaining is not None
    return now, remaining


def _people(certs, tracks, ends, parent, n, next_ends=None):
    out = {t: np.zeros((len(ends), n)) for t in tracks}
    remaining = None if next_ends is None else {t: np.zeros((len(ends), n)) for t in tracks}
    if not tracks or len(certs.partner) == 0:
        return out, remaining
    track_code = {t: i for i, t in enumerate(tracks)}
    code = np.array([track_code.get(t, -1) for t in certs.track], dtype=np.int64)
    wanted = code >= 0
    rows, groups = ancestors_with_self(certs.partner[wanted], parent)
    src = np.flatnonzero(wanted)[rows]
    people = int(certs.person.max(initial=0)) + 1
    key = (groups.astype(np.int64) * len(tracks) + code[src]) * people + certs.person[src]
    order = np.argsort(key, kind="stable")  # sorted once: equal (group, track, person) side by side
    key, earned, expires = key[order], certs.earned[src][order], certs.expires[src][order]
    if not len(key):
        return out, remaining
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    slot = key[starts] // people  # (group, track) of each distinct (group, track, person)

    def active(day: int) -> np.ndarray:
        """Per distinct (group, track, person): some certification active on ``day``."""
        return np.logical_or.reduceat((earned <= day) & (expires >= day), starts)

    def fill(target, p, held):
        counts = np.bincount(slot[held], minlength=n * len(tracks)).reshape(n, len(tracks))
        for t, i in track_code.items():
            target[t][p] = counts[:, i]

    for p, end in enumerate(ends):
        now = active(end.toordinal())
        fill(out, p, now)
        if remaining is not None:
            fill(remaining, p, now & active(next_ends[p].toordinal()))
    return out, remaining


@dataclass(frozen=True)
class Lapse:
    """One person counted now whose certifications of the track all expire before the next period ends."""

    person: str
    expires_on: date  # the last expiry of the certifications counted now


def lapsing_people(
    certs: Certifications, parent: np.ndarray, partner: int, track: str, end: date, next_end: date
) -> list[Lapse]:
    """The people of ``partner``'s group behind its lapse risk on ``track`` (v2 §3.8), by expiry date.

    The same rule as :func:`certified_people_remaining`, for one partner: counted at ``end``, and no
    certification of the track active at ``next_end``. Names come from ``certs.person_name``.
    """
    if len(certs.partner) == 0:
        return []
    rows, groups = ancestors_with_self(certs.partner, parent)
    mine = rows[groups == partner]
    mine = mine[np.array([certs.track[r] == track for r in mine.tolist()], dtype=bool)] if len(mine) else mine
    e, e2 = end.toordinal(), next_end.toordinal()
    now = mine[(certs.earned[mine] <= e) & (certs.expires[mine] >= e)]
    later = set(certs.person[mine[(certs.earned[mine] <= e2) & (certs.expires[mine] >= e2)]].tolist())
    result: dict[int, Lapse] = {}
    for r in now.tolist():
        code = int(certs.person[r])
        if code in later:
            continue
        name = certs.person_name[r].strip() if len(certs.person_name) else str(code)
        expiry = date.fromordinal(int(certs.expires[r]))
        if code not in result or expiry > result[code].expires_on:
            result[code] = Lapse(result[code].person if code in result else name, expiry)
    return sorted(result.values(), key=lambda x: (x.expires_on, x.person.casefold()))


def group_values(program: Program, inputs: Inputs) -> dict[str, np.ndarray]:
    """Every used metric's group value: metric -> (n_periods, n_partners)."""
    return _inputs_values(program, inputs, extras=False)[0]


def _inputs_values(program: Program, inputs: Inputs, extras: bool):
    """(group values, own-value sources, people remaining for lapse risk) in one pass over the inputs;
    without ``extras`` no remaining people."""
    partners = inputs.partners
    n, k = len(partners), len(inputs.periods)
    levels = group_order(partners.parent)
    used = program.input_metrics()
    values: dict[str, np.ndarray] = {}
    declared = [m for m in used if not m.startswith(CERT_PREFIX)]
    own, sources = {}, {}
    for m in declared:
        own[m], sources[m] = own_values(program.metrics[m], inputs, k, n)
    summed = [m for m in declared if program.metrics[m].rollup == "sum"]
    if summed:
        rolled = roll_up(np.stack([own[m] for m in summed]), partners.parent, levels)
        values.update(zip(summed, rolled))
    for m in declared:
        if m not in values:
            values[m] = rollup_value(program.metrics[m], own[m], partners.parent, levels)
    tracks = [m[len(CERT_PREFIX) :] for m in used if m.startswith(CERT_PREFIX)]
    ends = [p.end for p in inputs.periods]
    gated = _gated_tracks(program)
    next_ends = [next_period(p).end for p in inputs.periods] if extras and gated else None
    cert, left = _people(inputs.certifications, tracks, ends, partners.parent, n, next_ends)
    values.update({CERT_PREFIX + t: v for t, v in cert.items()})
    remaining = {CERT_PREFIX + t: left[t] for t in gated} if left is not None else {}
    return {m: values[m] for m in used}, sources, remaining


def _gated_tracks(program: Program) -> list[str]:
    """Certification tracks some tier's or (v2) designation's gate uses (lapse risk looks at those only)."""
    return sorted(
        {
            m[len(CERT_PREFIX) :]
            for req in program.requirements.values()
            for rule in req.options()
            for m in rule.gates
            if m.startswith(CERT_PREFIX)
        }
        | {m[len(CERT_PREFIX) :] for d in program.designations for m in d.rule.gates if m.startswith(CERT_PREFIX)}
    )


def rollup_value(metric: Metric, own: np.ndarray, parent: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """One metric's group value from the partners' own values (§3.2): sum, none or any (flags)."""
    if metric.rollup == "sum":
        return roll_up(own, parent, levels)
    if metric.rollup == "any":
        return (roll_up(round6(own) == 1, parent, levels) > 0).astype(np.float64)
    return np.asarray(own, dtype=np.float64)


def reported_mask(inputs: Inputs, metric: str, k: int, n: int) -> np.ndarray:
    """(n_periods, n_partners) bool: where the partner reported a value for ``metric``."""
    if inputs.reported is None:
        return np.ones((k, n), dtype=bool)
    mask = inputs.reported.get(metric)
    return np.zeros((k, n), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def carry_previous(own: np.ndarray, reported: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, source) with each unreported value replaced by the partner's own value of the most
    recent earlier period that has one, 0 if none (v2 §3.1 ``missing = "previous"``).

    ``source`` is the period index each value comes from (-1: none). Columnar: one running maximum.
    """
    k, n = own.shape
    source = np.maximum.accumulate(np.where(reported, np.arange(k)[:, None], -1), axis=0)
    values = np.where(source >= 0, own[np.maximum(source, 0), np.arange(n)[None, :]], 0.0)
    return values, source


def own_values(metric: Metric, inputs: Inputs, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A partner's own values of a declared metric, before any rollup, and where each comes from
    (the period index; -1: not reported, so 0). ``missing = "previous"`` carries values forward."""
    raw = inputs.metrics.get(metric.name)
    own = np.zeros((k, n)) if raw is None else np.asarray(raw, dtype=np.float64)
    if inputs.reported is None:  # every value reported: nothing to carry or clear
        return own, np.broadcast_to(np.arange(k)[:, None], (k, n))
    reported = reported_mask(inputs, metric.name, k, n)
    if metric.missing == "previous":
        return carry_previous(own, reported)
    source = np.where(reported, np.arange(k)[:, None], -1)
    return np.where(reported, own, 0.0), source


def remaining_people(program: Program, inputs: Inputs) -> dict[str, np.ndarray]:
    """``cert:<track>`` of a gate -> (n_periods, n_partners): of the people counted at each period's
    end, those who still hold the track at the end of the next period on the grid (v2 §3.8)."""
    gated = _gated_tracks(program)
    if not gated:
        return {}
    ends = [p.end for p in inputs.periods]
    next_ends = [next_period(p).end for p in inputs.periods]
    parent = inputs.partners.parent
    _, remaining = certified_people_remaining(
        inputs.certifications, gated, ends, next_ends, parent, len(inputs.partners)
    )
    return {CERT_PREFIX + t: v for t, v in remaining.items()}


# ------------------------------------------------------------------------ score (§3.3)


def component_points(program: Program, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Points of each score component: points * min(max(value, 0) / target, 1), where the
    ``>= target`` cap compares 6-decimal values (v2 §3.0)."""
    return _component_points6(program, values, {c.metric: round6(values[c.metric]) for c in program.score})


def components_points(components: Sequence[ScoreComponent], values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """:func:`component_points` for any components (a designation's own score, v2 §3.12)."""
    return _points6(components, values, {c.metric: round6(values[c.metric]) for c in components})


def _component_points6(program: Program, values, v6, memo: dict | None = None, at: tuple = ()) -> list[np.ndarray]:
    """:func:`component_points` with the values also given rounded to 6 decimals; ``memo``: each
    component's points remembered by its metric, points and target under ``at`` (the period and
    what its values depend on), so that an edit of one component computes that one alone."""
    return _points6(program.score, values, v6, memo, at)


def _points6(
    components: Sequence[ScoreComponent], values, v6, memo: dict | None = None, at: tuple = ()
) -> list[np.ndarray]:
    points = []
    for c in components:
        key = ("points", at, c.metric, c.points, c.target)
        if memo is not None and key in memo:
            points.append(memo[key])
            continue
        p = np.where(
            v6[c.metric] >= round6(c.target),
            float(c.points),
            c.points * np.clip(values[c.metric] / c.target, 0.0, 1.0),
        )
        if memo is not None:
            memo[key] = p
        points.append(p)
    return points


def total_score(points: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    """The score, rounded to 6 decimals half away from zero (v2 §3.0)."""
    total = np.zeros_like(like, dtype=np.float64)
    for p in points:
        total = total + p
    return np.asarray(round6(total), dtype=np.float64)


# ------------------------------------------------------------- tier requirements (§3.4)


@dataclass
class Thresholds:
    """One tier's resolved requirements, one element per partner (NaN: not required)."""

    min_score: np.ndarray
    gates: dict[str, np.ndarray]
    maxima: dict[str, np.ndarray]
    variant: np.ndarray  # 0: base rule, i: variant i
    flags: frozenset[str] = frozenset()  # yes/no metrics: never within an at-risk margin (v2 §3.8)


def kinds_of_partner(regions: Sequence[str], types: Sequence[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The distinct (region, partner type) pairs, and each partner's index into them."""
    if not len(regions):
        return [], np.zeros(0, dtype=np.int64)
    region_names, region_code = np.unique(np.asarray(regions, dtype=str), return_inverse=True)
    type_names, type_code = np.unique(np.asarray(types, dtype=str), return_inverse=True)
    pairs, inverse = np.unique(region_code * len(type_names) + type_code, return_inverse=True)
    kinds = [(str(region_names[c // len(type_names)]), str(type_names[c % len(type_names)])) for c in pairs.tolist()]
    return kinds, inverse.reshape(-1)


def resolve(
    program: Program, regions: Sequence[str], types: Sequence[str], kinds_cache: dict | None = None
) -> dict[int, Thresholds]:
    """Each tier's requirements merged with each partner's first matching variant.

    ``kinds_cache``: a dict kept by the caller across calls on the same partners (what-if)."""
    if kinds_cache is not None and "kinds" in kinds_cache:
        kinds, kind_of = kinds_cache["kinds"]
    else:
        kinds, kind_of = kinds_of_partner(regions, types)
        if kinds_cache is not None:
            kinds_cache["kinds"] = (kinds, kind_of)
    result = {}
    for tier, req in program.requirements.items():
        result[program.tier_index(tier)] = _resolve_tier(program, req, kinds, kind_of)
    return result


def _resolve_tier(program: Program, req: Requirement, kinds, kind_of) -> Thresholds:
    if True:  # one tier of :func:`resolve`
        options = req.options()
        variant = (
            np.array([req.variant_index(r, t) for r, t in kinds], dtype=np.int64)[kind_of]
            if kinds
            else (np.zeros(0, dtype=np.int64))
        )
        gate_metrics = {m: None for rule in options for m in rule.gates}
        max_metrics = {m: None for rule in options for m in rule.maxima}
        return Thresholds(
            _column(options, variant, lambda r: r.min_score),
            {m: _column(options, variant, lambda r, m=m: r.gates.get(m)) for m in gate_metrics},
            {m: _column(options, variant, lambda r, m=m: r.maxima.get(m)) for m in max_metrics},
            variant,
            frozenset(m for m in (*gate_metrics, *max_metrics) if program.is_flag(m)),
        )


def _column(options: list[Rule], variant: np.ndarray, get) -> np.ndarray:
    """One threshold per partner: the value in the partner's resolved rule, NaN where absent."""
    table = np.array([np.nan if get(rule) is None else get(rule) for rule in options], dtype=np.float64)
    return table[variant]


# Every comparison rounds both sides to 6 decimals, half away from zero (v2 §3.0).


def gate_met(value, gate):
    return np.isnan(gate) | (round6(value) >= round6(gate))


def maximum_met(value, maximum):
    return np.isnan(maximum) | (round6(value) <= round6(maximum))


def score_met(score, min_score):
    return np.isnan(min_score) | (round6(score) >= round6(min_score))


def gate_close(value, gate, margin):
    """Below the band edge ``gate * (1 + margin)`` (met or not)."""
    return ~np.isnan(gate) & (round6(value) < round6(gate * (1 + margin)))


def maximum_close(value, maximum, margin):
    return ~np.isnan(maximum) & (round6(value) > round6(maximum * (1 - margin)))


def score_close(score, min_score, margin):
    return ~np.isnan(min_score) & (round6(score) < round6(min_score * (1 + margin)))


def lapse_close(value, remaining, gate):
    """(v2 §3.8) a ``cert:<track>`` gate met now that the people remaining at the next period's end miss."""
    return ~np.isnan(gate) & gate_met(value, gate) & ~gate_met(remaining, gate)


def meets(th: Thresholds, score: np.ndarray, values: Mapping[str, np.ndarray]) -> np.ndarray:
    ok = score_met(score, th.min_score)
    for m, gate in th.gates.items():
        ok = ok & gate_met(values[m], gate)
    for m, maximum in th.maxima.items():
        ok = ok & maximum_met(values[m], maximum)
    return ok


def close_to_losing(
    th: Thresholds, score, values, margin: float, remaining: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """Within the margin of a threshold (flags never are), or (v2) at lapse risk on a cert gate."""
    risky = score_close(score, th.min_score, margin)
    for m, gate in th.gates.items():
        if m not in th.flags:
            risky = risky | gate_close(values[m], gate, margin)
        if remaining is not None and m in remaining:
            risky = risky | lapse_close(values[m], remaining[m], gate)
    for m, maximum in th.maxima.items():
        if m not in th.flags:
            risky = risky | maximum_close(values[m], maximum, margin)
    return risky


def qualified_tier(thresholds: Mapping[int, Thresholds], score, values) -> np.ndarray:
    """The highest tier whose requirements are met; the entry tier (0) if none (§3.5)."""
    tier = np.zeros(np.shape(score), dtype=np.int64)
    for t in sorted(thresholds):
        tier = np.where(meets(thresholds[t], score, values), t, tier)
    return tier


def step_protected(qualified, earned, below, grace: int, floor):
    """One protected period of §3.11: a partner at or below its floor keeps its tier (``protected``);
    above it, §3.6 with the demotion target raised to the floor. Returns (earned, below, event)."""
    up = qualified > earned
    down = qualified < earned
    below = np.where(down, below + 1, 0)
    keep = down & (earned <= floor)
    demote = down & ~keep & (below > grace)
    event = np.select([up, keep, demote, down], [PROMOTED, PROTECTED, DEMOTED, GRACE], HELD)
    earned = np.where(up, qualified, np.where(demote, np.maximum(qualified, floor), earned))
    below = np.where(demote, 0, below)
    return earned, below, event


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


def at_risk(thresholds, score, values, earned, event, margin: float, remaining=None) -> np.ndarray:
    """§3.8: in grace, or close to a threshold of the earned tier, or (v2) at lapse risk.

    ``remaining``: cert:<track> -> people remaining at the next period's end; None: no lapse risk.
    """
    risky = (event == GRACE) | (event == PROTECTED)
    for t, th in thresholds.items():
        mine = earned == t
        if mine.any():
            risky = risky | (mine & close_to_losing(th, score, values, margin, remaining))
    return risky


def badge_flags(program: Program, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """§3.9: the badge's metric >= min, on 6-decimal values (v2 §3.0)."""
    if not program.badges:
        return np.zeros((0, n), dtype=bool)
    return np.stack([round6(values[b.metric]) >= round6(b.min) for b in program.badges])


def _badges6(program: Program, v6: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """:func:`badge_flags` on values already rounded to 6 decimals."""
    if not program.badges:
        return np.zeros((0, n), dtype=bool)
    return np.stack([v6[b.metric] >= round6(b.min) for b in program.badges])


@dataclass
class _Limits6:
    """One tier's thresholds and at-risk band edges, rounded to 6 decimals once per run.

    The hot path of :func:`level_values`: the same comparisons as :func:`meets` and
    :func:`close_to_losing` (which round both sides every time), on values rounded once per period.
    NaN (not required) compares false, so "met" tests ``~(value < threshold)``.
    """

    min_score: np.ndarray
    score_edge: np.ndarray
    gates: dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (gate, band edge)
    maxima: dict[str, tuple[np.ndarray, np.ndarray]]
    flags: frozenset[str]

    def meets_values(self, v6: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The gates and maxima met, as :func:`meets` tests them; the score's part,
        ``~(score6 < min_score)``, is the caller's (a what-if edit of the score leaves these as
        they were)."""
        ok = np.ones(n, dtype=bool)
        for m, (gate, _) in self.gates.items():
            ok &= ~(v6[m] < gate)
        for m, (maximum, _) in self.maxima.items():
            ok &= ~(v6[m] > maximum)
        return ok

    def close_values(self, v6, left6, n: int) -> np.ndarray:
        """Close to losing a gate or a maximum, as :func:`close_to_losing` tests them; the score's
        part, ``score6 < score_edge``, is the caller's."""
        risky = np.zeros(n, dtype=bool)
        for m, (gate, edge) in self.gates.items():
            if m not in self.flags:
                risky |= v6[m] < edge
            if left6 is not None and m in left6:
                risky |= (v6[m] >= gate) & (left6[m] < gate)
        for m, (_, edge) in self.maxima.items():
            if m not in self.flags:
                risky |= v6[m] > edge
        return risky


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
    return level_timeline([program], inputs)


def value_sources(program: Program, inputs: Inputs) -> dict[str, np.ndarray]:
    """Declared used metric -> (n_periods, n_partners) index of the period each own value comes from."""
    return _inputs_values(program, inputs, extras=False)[1]


def level_values(
    program: Program,
    inputs: Inputs,
    values: Mapping[str, np.ndarray],
    upto: int | None = None,
    remaining: Mapping[str, np.ndarray] | None = None,
    sources: Mapping[str, np.ndarray] | None = None,
) -> list[PeriodResult]:
    """§3.3 to §3.9 on precomputed group values (metric -> (n_periods, n_partners)).

    Group values depend only on the data and on which metrics a program uses, not on its
    thresholds, so a what-if scenario computes them once and re-evaluates after every edit.
    ``upto`` stops after that many periods. ``remaining`` (:func:`remaining_people`) gives the
    lapse risk of §3.8; without it, no partner is at lapse risk. ``sources`` (as
    :func:`value_sources`) is passed through to :attr:`PeriodResult.sources`.
    """
    return level_timeline([program], inputs, [values], upto, remaining, sources)


# --------------------------------------------------------- versions over time (v2 §3.11)


def version_of_periods(timeline: Sequence[Program], periods: Sequence[Period]) -> np.ndarray:
    """For each period, the index into ``timeline`` (sorted by date) of the version in force at its
    end: the latest one dated on or before it, or undated; -1 when none is (not evaluated)."""
    result = np.full(len(periods), -1, dtype=np.int64)
    for i, prog in enumerate(timeline):
        start = prog.effective_from or date.min
        for k, p in enumerate(periods):
            if p.end >= start:
                result[k] = i
    return result


def tier_map(old: Program, new: Program, strict: bool = True) -> np.ndarray:
    """Old tier index -> new tier index: ``new``'s ``[transition] tiers`` map, else the same name.

    A tier that neither maps nor exists in ``new`` raises :class:`EvaluationError` (``strict``) or
    maps to -1."""
    table = np.full(len(old.tiers), -1, dtype=np.int64)
    for i, name in enumerate(old.tiers):
        target = new.transition.carry(name) if new.transition is not None else name
        if target in new.tiers:
            table[i] = new.tier_index(target)
        elif strict:
            raise EvaluationError(
                f"tier {name!r} of {old.name!r} has no place in {new.name!r}"
                f"{_from(new)}: map it in [transition] tiers (tiers: {', '.join(new.tiers)})"
            )
    return table


def _carry(old: Program, new: Program, earned: np.ndarray, partners: Partners) -> np.ndarray:
    """Earned tiers of ``old`` carried into ``new`` (§3.11); a tier held by partners that ``new``
    neither has nor maps raises, naming the tier and how many partners hold it."""
    table = tier_map(old, new, strict=False)
    carried = table[earned]
    if (carried < 0).any():
        lost = int(earned[carried < 0][0])
        count = int((earned == lost).sum())
        first = partners.ids[int(np.flatnonzero(earned == lost)[0])]
        raise EvaluationError(
            f"tier {old.tiers[lost]!r} of {old.name!r} has no place in {new.name!r}{_from(new)}: "
            f"{count:,} partner{'s hold' if count != 1 else ' holds'} it (first {first}); "
            f"map it in [transition] tiers (tiers: {', '.join(new.tiers)})"
        )
    return carried


def unmapped_tiers(old: Program, new: Program) -> list[str]:
    """(v2 §3.11) The tiers of ``old`` that ``new`` neither maps nor has: loading ``new`` after
    ``old`` is refused while partners hold them."""
    return [old.tiers[i] for i in np.flatnonzero(tier_map(old, new, strict=False) < 0).tolist()]


def _from(prog: Program) -> str:
    return f" (effective {prog.effective_from.isoformat()})" if prog.effective_from else ""


def timeline_values(
    timeline: Sequence[Program], inputs: Inputs, extras: bool = True
) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Group values for every version of a timeline, each metric computed once over all periods:
    (per version: input metric -> (n_periods, n_partners), sources, remaining people for lapse risk).

    Two versions that declare a metric alike share its array; one that changes its rollup or
    ``missing`` gets its own."""
    if len(timeline) == 1:
        values, sources, remaining = _inputs_values(timeline[0], inputs, extras)
        return [values], sources, remaining
    merged_metrics: dict[str, Metric] = {}
    conflicts: list[int] = []
    for i, prog in enumerate(timeline):
        for m in prog.input_metrics():
            if m in prog.metrics:
                if m in merged_metrics and merged_metrics[m] != prog.metrics[m]:
                    conflicts.append(i)
                merged_metrics.setdefault(m, prog.metrics[m])
    union = _union_program(timeline, merged_metrics)
    values, sources, remaining = _inputs_values(union, inputs, extras)
    per_version = []
    for i, prog in enumerate(timeline):
        if i in conflicts:
            own, own_sources, own_remaining = _inputs_values(prog, inputs, extras)
            per_version.append(own)
            remaining = {**own_remaining, **remaining}
        else:
            per_version.append({m: values[m] for m in prog.input_metrics()})
    return per_version, sources, remaining


def _union_program(timeline: Sequence[Program], metrics: Mapping[str, Metric]) -> Program:
    """A program that reads every input metric of the timeline (for :func:`timeline_values`)."""
    gates = {CERT_PREFIX + t: 0.0 for prog in timeline for t in _gated_tracks(prog)}
    read = {m: None for prog in timeline for m in prog.input_metrics() if m not in gates}
    first = timeline[0]
    return Program(
        name="timeline",
        frequency=first.frequency,
        grace_periods=0,
        at_risk_margin=0.0,
        tiers=("a", "b"),
        metrics=dict(metrics),
        score=tuple(ScoreComponent(m, 1.0, 1.0) for m in read),
        requirements={"b": Requirement("b", Rule(None, gates, {}))},
        badges=(),
    )


@dataclass
class _Version:
    """One version's resolved thresholds, cached for a run."""

    program: Program
    values: Mapping[str, np.ndarray]
    limits: dict[int, _Limits6]
    overrides: list[ApprovedOverride]
    designations: list[tuple]  # (designation, min6, gates6, maxima6)
    tier_keys: dict[int, tuple] = field(default_factory=dict)  # tier -> its memo key (with a memo)


def _prepare(program: Program, values, inputs: Inputs, named: bool, memo: dict | None = None) -> _Version:
    partners = inputs.partners
    key = ("limits", program.source)
    tier_keys: dict[int, tuple] = {}
    if memo is not None and key in memo:
        limits, designations, tier_keys = memo[key]
    else:
        if memo is None:
            kinds, kind_of = kinds_of_partner(partners.regions, partners.types)
            limits = {
                program.tier_index(tier): _limits_of_tier(program, req, kinds, kind_of)
                for tier, req in program.requirements.items()
            }
        else:  # one tier at a time: an edit of one tier's rules leaves the others' limits as they were
            if "kinds" not in memo:
                memo["kinds"] = kinds_of_partner(partners.regions, partners.types)
            kinds, kind_of = memo["kinds"]
            limits = {}
            for tier, req in program.requirements.items():
                flags = tuple(m for r in req.options() for m in (*r.gates, *r.maxima) if program.is_flag(m))
                tkey = ("tier", repr(req), program.at_risk_margin, flags)
                if tkey not in memo:
                    memo[tkey] = _limits_of_tier(program, req, kinds, kind_of)
                limits[program.tier_index(tier)] = memo[tkey]
                tier_keys[program.tier_index(tier)] = tkey
        designations = [
            (
                d,
                None if d.rule.min_score is None else float(round6(d.rule.min_score)),
                {m: float(round6(g)) for m, g in d.rule.gates.items()},
                {m: float(round6(x)) for m, x in d.rule.maxima.items()},
            )
            for d in program.designations
        ]
        if memo is not None:
            memo[key] = (limits, designations, tier_keys)
    overrides = []
    for o in inputs.overrides:
        if o.tier_name is not None:
            name = program.carried_tier(o.tier_name)
            if name is None:
                continue  # §3.11: a tier this version does not have, even through its map
            overrides.append(
                ApprovedOverride(o.id, o.partner, program.tier_index(name), o.starts_on, o.expires_on, o.order)
            )
        elif not named:
            overrides.append(o)
    return _Version(program, values, limits, overrides, designations, tier_keys)


def record_tiers(program: Program, partners: Partners) -> np.ndarray:
    """Tiers on record as indices of ``program``: by name (read through its map) when the
    partners carry names, else ``tier_on_record`` as it is."""
    if partners.record_names is None:
        return np.asarray(partners.tier_on_record, dtype=np.int64).copy()
    names = np.asarray(list(partners.record_names), dtype=object)
    if not len(names):
        return np.zeros(0, dtype=np.int64)
    distinct, inverse = np.unique(names.astype(str), return_inverse=True)
    table = np.zeros(len(distinct), dtype=np.int64)
    for i, name in enumerate(distinct.tolist()):
        if not name:
            continue
        tier = program.carried_tier(name)
        if tier is None:
            count = int((inverse == i).sum())
            raise EvaluationError(
                f"{count:,} partner{'s' if count != 1 else ''} ha{'ve' if count != 1 else 's'} tier {name!r} "
                f"on record, which {program.name!r}{_from(program)} neither has nor maps "
                f"(tiers: {', '.join(program.tiers)})"
            )
        table[i] = program.tier_index(tier)
    return table[inverse.reshape(-1)]


def _designations(ver: _Version, v, v6, k: int, last: dict[str, np.ndarray], n: int):
    """§3.12 for one period: each designation met now, held (met within ``keep_periods`` evaluated
    periods), its flag and the count written into ``v``/``v6``. Returns met per designation."""
    met_now = {}
    count = np.zeros(n)
    for d, min6, gates6, maxima6 in ver.designations:
        ok = np.ones(n, dtype=bool)
        if d.score:
            dscore = total_score(_points6(d.score, v, v6), count)
            if min6 is not None:
                ok &= dscore >= min6
        for m, g in gates6.items():
            ok &= v6[m] >= g
        for m, x in maxima6.items():
            ok &= v6[m] <= x
        seen = last.get(d.name)
        if seen is None:
            seen = np.full(n, -1, dtype=np.int64)
        seen = np.where(ok, k, seen)
        last[d.name] = seen
        held = (seen >= 0) & (k - seen <= d.keep_periods)
        flag = held.astype(np.float64)
        v[d.flag] = flag
        v6[d.flag] = flag
        count = count + flag
        met_now[d.name] = ok
    if ver.designations:
        v[DESIGNATIONS] = count
        v6[DESIGNATIONS] = count
    return met_now


def level_timeline(
    timeline: Sequence[Program],
    inputs: Inputs,
    values: Sequence[Mapping[str, np.ndarray]] | None = None,
    upto: int | None = None,
    remaining: Mapping[str, np.ndarray] | None = None,
    sources: Mapping[str, np.ndarray] | None = None,
    memo: dict | None = None,
) -> list[PeriodResult]:
    """Evaluate every period with the version in force at its end (v2 §3.11), oldest first.

    ``timeline``: the versions in force (any order; sorted by ``effective_from`` here). Periods
    before the earliest version are not evaluated (no result). ``values``: per version (in sorted
    order), its input metrics -> (n_periods, n_partners) over ``inputs.periods``, as
    :func:`timeline_values` gives; None computes them (with lapse risk). ``upto`` stops after that
    many of ``inputs.periods``.

    ``memo``: a dict the caller keeps across runs on the same inputs and values (a what-if session).
    A period whose versions so far (rules and transitions) equal an earlier run's is taken from
    it whole; one whose rules so far are equal reuses its designations, score and qualified tier.
    """
    order = sorted(range(len(timeline)), key=lambda i: timeline[i].effective_from or date.min)
    timeline = sort_timeline(timeline)
    if values is None:
        values, sources, remaining = timeline_values(timeline, inputs, extras=True)
    else:
        values = [values[i] for i in order]
    periods = list(inputs.periods)[:upto]
    assign = version_of_periods(timeline, periods)
    for k, p in enumerate(periods):
        if assign[k] >= 0:
            check_periods(timeline[assign[k]], [p])
    partners = inputs.partners
    n = len(partners)
    named = partners.record_names is not None or any(o.tier_name is not None for o in inputs.overrides)
    prepared: dict[int, _Version] = {}
    earned = np.zeros(n, dtype=np.int64)
    below = np.zeros(n, dtype=np.int64)
    zeros = np.zeros(n)
    history: list[tuple[int, np.ndarray]] = []  # (version, earned) per evaluated period
    last_met: dict[str, np.ndarray] = {}
    floor: np.ndarray | None = None
    through: date | None = None
    results: list[PeriodResult] = []
    state_key: tuple = ()
    rules_key: tuple = ()  # what designations and values depend on, period by period
    described: dict[int, tuple] = {}  # version -> its rules, state, score and badges as memo keys
    for k, period in enumerate(periods):
        vi = int(assign[k])
        if vi < 0:
            continue
        if vi not in described:  # each version's parts as memo keys, once a run (not once a period)
            this = timeline[vi]
            described[vi] = (
                (repr(this.designations), tuple(this.input_metrics())),
                (this.source, repr(this.transition)),
                repr(this.score),
                repr(this.badges),
            )
        if memo is not None:
            rules_key += (described[vi][0],)
        state_key += (described[vi][1],)
        if memo is not None and ("state", k, state_key) in memo:
            r, earned, below, floor, through, last_met = memo[("state", k, state_key)]
            last_met = dict(last_met)
            history.append((vi, earned))
            results.append(r)
            continue
        if vi not in prepared:
            prepared[vi] = _prepare(timeline[vi], values[vi], inputs, named, memo)
        ver = prepared[vi]
        program = ver.program
        if not history:
            earned = record_tiers(program, partners)
        elif history[-1][0] != vi:  # the change into a new version
            earned = _carry(timeline[history[-1][0]], program, earned, partners)
            below = np.zeros(n, dtype=np.int64)
            floor, through = None, None
            tr = program.transition
            if tr is not None and tr.protect_through is not None:
                floor = earned.copy()
                if tr.protect == "highest":
                    for hv, he in history[-tr.lookback_periods :]:
                        mapped = tier_map(timeline[hv], program, strict=False)[he]
                        floor = np.maximum(floor, mapped)
                earned = np.maximum(earned, floor)
                through = tr.protect_through
        if floor is not None and through is not None and period.end > through:
            floor, through = None, None
        e = len(results)
        left = {m: r[k] for m, r in remaining.items()} if remaining is not None else None
        desig = ("designations", k, rules_key)
        if memo is not None and desig in memo:
            v, v6, met_now, saved = memo[desig]
            last_met = dict(saved)
        else:
            v = {m: ver.values[m][k] for m in program.input_metrics()}
            # rounded once; every comparison below uses these (people counts are whole: already exact)
            v6 = {m: x if m.startswith(CERT_PREFIX) else _round6_memo(memo, x) for m, x in v.items()}
            met_now = _designations(ver, v, v6, e, last_met, n)
            if memo is not None:
                memo[desig] = (v, v6, met_now, dict(last_met))
        skey = ("score", k, described[vi][2], desig)
        if memo is not None and skey in memo:
            score = memo[skey]
        else:
            score = total_score(_component_points6(program, v, v6, memo, desig), zeros)
            if memo is not None:
                memo[skey] = score
        qualified = np.zeros(n, dtype=np.int64)
        for t in sorted(ver.limits):
            lim = ver.limits[t]
            # the gates and maxima by the period's values alone, the score's part apart: an edit of
            # the score re-compares the scores only
            values_met = _tier_part(memo, ver, t, "meets", desig, lim.meets_values, v6, n)
            qualified = np.where(~(score < lim.min_score) & values_met, t, qualified)
        if floor is not None:
            earned, below, event = step_protected(qualified, earned, below, program.grace_periods, floor)
        else:
            earned, below, event = step_earned(qualified, earned, below, program.grace_periods)
        risky = (event == GRACE) | (event == PROTECTED)
        for t, lim in ver.limits.items():
            mine = earned == t
            if mine.any():
                close = (score < lim.score_edge) | _tier_part(
                    memo, ver, t, "close", desig, lim.close_values, v6, left, n
                )
                risky = risky | (mine & close)
        effective, chosen = apply_overrides(ver.overrides, period.end, earned)
        history.append((vi, earned))
        results.append(
            result := PeriodResult(
                period=period,
                values=v,
                score=score,
                qualified=qualified,
                earned=earned,
                effective=effective,
                override=chosen,
                event=event,
                below=below,
                at_risk=risky,
                badges=_badges_memo(memo, program, v6, n, desig, described[vi][3]),
                sources={m: s[k] for m, s in (sources or {}).items() if m in program.metrics},
                remaining=left or {},
                program=program,
                floor=floor,
                protected_through=through,
                designation_met=met_now,
                designation_last={d.name: last_met[d.name] for d in program.designations},
            )
        )
        if memo is not None:
            memo[("state", k, state_key)] = (result, earned, below, floor, through, dict(last_met))
    return results


def _limits_of_tier(program: Program, req: Requirement, kinds, kind_of) -> _Limits6:
    """The tier's thresholds and band edges of ``_resolve_tier(...)`` rounded to 6 decimals, rounding
    each rule's few thresholds before spreading them
    over the partners (the same numbers, computed on the small tables).

    A threshold equal for every partner (no variant changes it: the usual case) is one number
    broadcast over the partners, not an array per threshold: at 100,000 partners a timeline's
    limits otherwise held ~70 MiB of repeated numbers."""
    options = req.options()
    variant = (
        np.array([req.variant_index(r, t) for r, t in kinds], dtype=np.int64)[kind_of]
        if kinds
        else np.zeros(0, dtype=np.int64)
    )
    used = np.unique(variant)
    m = program.at_risk_margin

    def col(get, factor: float) -> np.ndarray:
        table = round6(np.array([np.nan if get(r) is None else get(r) for r in options], dtype=np.float64) * factor)
        seen = table[used]
        if len(seen) and (np.all(seen == seen[0]) or np.all(np.isnan(seen))):
            return np.broadcast_to(seen[0], variant.shape)  # read-only, one element in memory
        return table[variant]

    gate_metrics = list(dict.fromkeys(g for r in options for g in r.gates))
    max_metrics = list(dict.fromkeys(x for r in options for x in r.maxima))
    return _Limits6(
        col(lambda r: r.min_score, 1.0),
        col(lambda r: r.min_score, 1 + m),
        {g: (col(lambda r, g=g: r.gates.get(g), 1.0), col(lambda r, g=g: r.gates.get(g), 1 + m)) for g in gate_metrics},
        {
            x: (col(lambda r, x=x: r.maxima.get(x), 1.0), col(lambda r, x=x: r.maxima.get(x), 1 - m))
            for x in max_metrics
        },
        frozenset(a for a in (*gate_metrics, *max_metrics) if program.is_flag(a)),
    )


def _badges_memo(memo: dict | None, program: Program, v6, n: int, desig: tuple, badges: str) -> np.ndarray:
    """:func:`_badges6`, remembered by the badges' rules (``badges``: their repr) and the values."""
    if memo is None:
        return _badges6(program, v6, n)
    key = ("badges", badges, desig)
    if key not in memo:
        memo[key] = _badges6(program, v6, n)
    return memo[key]


def _tier_part(memo: dict | None, ver: _Version, t: int, part: str, skey: tuple, compute, *args) -> np.ndarray:
    """One tier's ``meets`` or ``close`` for a period, remembered in ``memo`` by the tier's rules
    and the period's score and values (``skey``)."""
    if memo is None or t not in ver.tier_keys:
        return compute(*args)
    key = (part, ver.tier_keys[t], skey)
    if key not in memo:
        memo[key] = compute(*args)
    return memo[key]


def _round6_memo(memo: dict | None, x: np.ndarray) -> np.ndarray:
    """round6, remembered by the array's identity in ``memo`` (the arrays outlive the memo)."""
    if memo is None:
        return round6(x)
    key = ("round6", id(x.base) if x.base is not None else id(x), x.__array_interface__["data"][0])
    if key not in memo:
        memo[key] = (x, round6(x))
    return memo[key][1]
