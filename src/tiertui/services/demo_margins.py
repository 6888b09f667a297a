"""Margins for the demo's Gold and Platinum partners, so that "at risk" is a signal (issue 11).

Generated data puts most Gold and Platinum partners just at a gate: satisfaction a point above
it, exactly the certified people a gate asks for. Real partners that hold a tier keep some
headroom, so after generation most of the near-gate partners get a margin above their gates in
the latest period (one more recently certified person than the gate, satisfaction a few points
above the band) while a chosen share stays near the line. Who is near a gate is found with the
shared scoring module (the same rules as levelling); no change may alter any partner's
qualified tier, which is checked by levelling again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..scoring import Certifications, Inputs, Partners, Program, level_timeline
from ..scoring.evaluate import GRACE, PROTECTED, gate_close, gate_met, maximum_close, maximum_met, resolve

if TYPE_CHECKING:  # pragma: no cover
    from .demo import DemoData

KEEP_NEAR = 0.04  # share of the near-gate partners left as they are: the demo's "at risk" signal
CERT_PREFIX = "cert:"
KEEP_LAPSE = 0.35  # share of the rest with certifications lapsing on a gated track, kept as they are
MAX_ADDED = 2  # at most this many newly certified people per partner and track
CSAT_ABOVE_BAND = (0.5, 4.0)  # satisfaction set this many points above the band edge (uniform)
MONEY_ABOVE_BAND = (0.01, 0.08)  # revenue set this share of the gate above the band edge (uniform)


@dataclass
class _Change:
    values: dict[tuple[str, int], float] = field(default_factory=dict)  # (metric, period index) -> value
    people: list[str] = field(default_factory=list)  # tracks, one entry per person added


def with_margins(data: DemoData, timeline: list[Program], tiers: tuple[str, ...], seed: int) -> int:
    """Give most near-gate Gold and Platinum partners of the latest period a margin; returns how many.

    ``tiers``: the tiers that get margins (by name, in the latest version). ``data`` is changed in
    place: csat, revenue and escalation values (of the latest quarter, or of the survey a carried
    csat comes from) and new certification rows (people certified in the latest quarter).
    """
    rng = np.random.default_rng(seed + 7)  # its own stream: the rest of the demo stays as it was
    before = _level(data, timeline)
    last = before[-1]
    program = last.program
    assert program is not None
    n, k = len(data.ids), len(data.periods) - 1
    wanted = {program.tier_index(t) for t in tiers if t in program.tiers}
    thresholds = resolve(program, _regions(data), _types(data))
    margin = program.at_risk_margin
    candidates = np.isin(last.earned, list(wanted)) & (last.event != GRACE) & (last.event != PROTECTED) & last.at_risk
    keep = rng.random(n) < KEEP_NEAR
    changes: dict[int, _Change] = {}
    csat_source = last.sources.get("csat")
    for i in np.flatnonzero(candidates & ~keep).tolist():
        th = thresholds[int(last.earned[i])]
        change = _Change()
        for metric, gate in th.gates.items():
            g = gate[i]
            if math.isnan(g) or metric in th.flags:
                continue
            value = last.values[metric][i]
            if metric.startswith(CERT_PREFIX):
                remaining = last.remaining.get(metric)
                left = value if remaining is None else remaining[i]
                needed = max(0, math.floor(g * (1 + margin)) + 1 - int(value), math.ceil(g) - int(left))
                if left < g and rng.random() < KEEP_LAPSE:  # certifications lapsing: a reason kept more often
                    continue
                if gate_met(value, g) and 0 < needed <= MAX_ADDED:
                    change.people += [metric[len(CERT_PREFIX) :]] * needed
            elif metric == "csat" and gate_met(value, g) and gate_close(value, g, margin):
                source = k if csat_source is None else int(csat_source[i])  # carried: the survey it came from
                if source >= 0:
                    band = g * (1 + margin)
                    change.values["csat", source] = float(min(100.0, round(band + rng.uniform(*CSAT_ABOVE_BAND), 1)))
            elif program.metrics.get(metric) is not None and program.metrics[metric].unit == "USD":
                reported = metric in last.sources and int(last.sources[metric][i]) == k
                if reported and gate_met(value, g) and gate_close(value, g, margin):  # a deal closed
                    lift = g * (1 + margin) - value + g * rng.uniform(*MONEY_ABOVE_BAND)
                    change.values[metric, k] = float(round(data.metrics[metric][k, i] + lift))
        for metric, maximum in th.maxima.items():  # a count just under a maximum: a quieter quarter
            top = maximum[i]
            if math.isnan(top) or metric in th.flags or program.metrics[metric].rollup != "none":
                continue
            value = last.values[metric][i]
            edge = math.ceil(top * (1 - margin)) - 1  # the largest whole count clear of the band
            if maximum_met(value, top) and maximum_close(value, top, margin) and edge >= 0:
                source = int(last.sources[metric][i]) if metric in last.sources else k
                if source >= 0:
                    change.values[metric, source] = float(rng.integers(max(0, edge - 2), edge + 1))
        _score_margin(program, last, i, float(th.min_score[i]), margin, change)
        if change.values or change.people:
            changes[i] = change
    accepted = set(changes)
    for _ in range(5):  # a change that alters anyone's qualified tier is dropped, then checked again
        trial = _applied(data, {i: changes[i] for i in accepted}, rng_seed=seed)
        after = _level(trial, timeline)
        moved = np.zeros(n, dtype=bool)
        for b, a in zip(before, after):
            moved |= b.qualified != a.qualified
        if not moved.any():
            break
        dropped = {i for i in accepted if moved[i] or (data.parent[i] >= 0 and moved[_ancestors(data, i)].any())}
        accepted -= dropped or accepted
    else:
        accepted = set()
    final = _applied(data, {i: changes[i] for i in accepted}, rng_seed=seed)
    for name in ("metrics", "cert_partner", "cert_person", "cert_name", "cert_track"):
        setattr(data, name, getattr(final, name))
    data.cert_earned, data.cert_expires, data.cert_renewed = final.cert_earned, final.cert_expires, final.cert_renewed
    return len(accepted)


def _score_margin(program: Program, last, i: int, min_score: float, margin: float, change: _Change) -> None:
    """A score within the band: people newly certified on the tracks that still earn points, up to
    MAX_ADDED in all, until the score clears the band edge (nothing when that is not enough)."""
    if math.isnan(min_score) or last.score[i] >= min_score * (1 + margin) or last.score[i] < min_score:
        return
    short = min_score * (1 + margin) - float(last.score[i]) + 0.25
    counts = {t: change.people.count(t) for t in set(change.people)}
    gains: list[tuple[float, str]] = []
    for component in program.score:
        if not component.metric.startswith(CERT_PREFIX):
            continue
        track = component.metric[len(CERT_PREFIX) :]
        have = float(last.values[component.metric][i]) + counts.get(track, 0)
        room = int(max(0.0, component.target - have))
        gains += [(component.points / component.target, track)] * room
    gains.sort(key=lambda g: -g[0])
    added: list[str] = []
    for gain, track in gains:
        if short <= 0 or len(change.people) + len(added) >= MAX_ADDED + 1:
            break
        added.append(track)
        short -= gain
    if short <= 0:
        change.people += added


def _ancestors(data: DemoData, i: int) -> list[int]:
    out, p = [], int(data.parent[i])
    while p >= 0:
        out.append(p)
        p = int(data.parent[p])
    return out


def _applied(data: DemoData, changes: dict[int, _Change], rng_seed: int) -> DemoData:
    """A copy of ``data`` with ``changes``: csat set, new people certified in the latest quarter."""
    from .demo import CERT_VALIDITY_DAYS, INITIALS, PERSON_FIRST, PERSON_LAST, TRACKS

    rng = np.random.default_rng(rng_seed + 11)
    metrics = {m: v.copy() for m, v in data.metrics.items()}
    partners, people, names, tracks, earned = [], [], [], [], []
    last = data.periods[-1]
    # names already used in each top-level group: a new person must be new to the whole group
    root = np.arange(len(data.ids))
    for _ in range(4):
        root = np.where(data.parent[root] >= 0, data.parent[root], root)
    used: dict[int, set[str]] = {}
    wanted_roots = {int(root[i]) for i in changes}
    for p, person in zip(data.cert_partner.tolist(), data.cert_person):
        r = int(root[p])
        if r in wanted_roots:
            used.setdefault(r, set()).add(person.casefold())
    for i in sorted(changes):
        change = changes[i]
        for (metric, period), value in change.values.items():
            metrics[metric][period, i] = value
        taken = used.setdefault(int(root[i]), set())
        for track in change.people:
            while True:
                name = (
                    f"{PERSON_FIRST[rng.integers(len(PERSON_FIRST))]} {INITIALS[rng.integers(len(INITIALS))]}. "
                    f"{PERSON_LAST[rng.integers(len(PERSON_LAST))]}"
                )
                if name.casefold() not in taken:
                    break
            taken.add(name.casefold())
            partners.append(i)
            people.append(name)
            names.append(TRACKS[track][0][int(rng.integers(2))])
            tracks.append(track)
            earned.append(last.start.toordinal() + int(rng.integers(0, (last.end - last.start).days - 5)))
    earned_a = np.array(earned, dtype=np.int64)
    return replace(
        data,
        metrics=metrics,
        cert_partner=np.concatenate([data.cert_partner, np.array(partners, dtype=np.int64)]),
        cert_person=[*data.cert_person, *people],
        cert_name=[*data.cert_name, *names],
        cert_track=[*data.cert_track, *tracks],
        cert_earned=np.concatenate([data.cert_earned, earned_a]),
        cert_expires=np.concatenate([data.cert_expires, earned_a + CERT_VALIDITY_DAYS]),
        cert_renewed=np.concatenate([data.cert_renewed, np.zeros(len(earned), dtype=bool)]),
    )


def _regions(data: DemoData) -> list[str]:
    from .demo import REGIONS

    return [REGIONS[r] for r in data.region.tolist()]


def _types(data: DemoData) -> list[str]:
    from .demo import PARTNER_TYPES

    return [PARTNER_TYPES[t] for t in data.ptype.tolist()]


def _level(data: DemoData, timeline: list[Program]):
    """Level the generated data as the database will (without overrides)."""
    from .demo import _codes

    n = len(data.ids)
    inputs = Inputs(
        partners=Partners(
            data.ids,
            _regions(data),
            _types(data),
            data.parent,
            np.zeros(n, np.int64),
            record_names=[t or "" for t in data.tier],
        ),
        periods=data.periods,
        metrics={m: np.nan_to_num(v) for m, v in data.metrics.items()},
        certifications=Certifications(
            data.cert_partner, _codes(data.cert_person), data.cert_track, data.cert_earned, data.cert_expires
        ),
        reported={m: ~np.isnan(v) for m, v in data.metrics.items()},
    )
    return level_timeline(timeline, inputs)
