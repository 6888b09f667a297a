"""Re-evaluation: a program's periods replayed on data loaded once, caching what an edit leaves unchanged.

:meth:`Replay.run` is ``evaluate.level_values(..., upto=P+1)`` step for step, with the scoring
module's own functions, but caches each score component's points and each tier's
gates-and-maxima verdict over all periods, and resolves variants once per (region, partner_type),
so that re-evaluating 100,000 partners after an edit takes milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ...scoring import EvaluationError, Inputs, Program
from ...scoring import evaluate as ev
from ...scoring.program import CERT_PREFIX
from ..errors import ServiceError


class Replay:
    """The replay half of :class:`~.session.ScenarioSession`: what it needs of the session is declared here."""

    inputs: Inputs
    n: int
    periods: list[str]
    _combo: np.ndarray
    _combo_regions: list
    _combo_types: list
    _scores: dict[tuple, np.ndarray]
    _points: dict[tuple, np.ndarray]
    _limits: dict[tuple, np.ndarray]

    def values_for(self, program: Program) -> dict[str, np.ndarray]:
        """Group values of every metric ``program`` uses (the session loads them)."""
        raise NotImplementedError

    def thresholds(self, program: Program) -> dict[int, ev.Thresholds]:
        """Each tier's resolved requirements per partner (as ``evaluate.resolve``), resolved per combination."""
        small = ev.resolve(program, self._combo_regions, self._combo_types)
        c = self._combo
        return {
            t: ev.Thresholds(
                th.min_score[c],
                {m: g[c] for m, g in th.gates.items()},
                {m: x[c] for m, x in th.maxima.items()},
                th.variant[c],
            )
            for t, th in small.items()
        }

    def run(self, program: Program, upto: int) -> Run:
        """Periods ``0 .. upto-1`` of §3.3 to §3.7 with ``program``, on the cached group values.

        The steps of ``evaluate.level_values`` (score, tiers met, qualified tier, earned tier with
        grace, overrides), with its functions, without the at-risk flags and badges a what-if does
        not show. To re-evaluate within milliseconds after one edit, the parts an edit rarely
        touches are cached over all periods: the score per set of score components, and per tier
        whether the partner meets its gates and maxima. Variants are resolved once per
        (region, partner_type) rather than once per partner.
        """
        values = self.values_for(program)
        used = program.used_metrics()
        periods = list(self.inputs.periods)[:upto]
        try:
            ev.check_periods(program, periods)
        except EvaluationError as exc:
            raise ServiceError(str(exc)) from None
        small = ev.resolve(program, self._combo_regions, self._combo_types)
        score = self._score(program, values)
        qualified_all = np.zeros(score.shape, dtype=np.int8 if len(program.tiers) < 128 else np.int64)
        for t in sorted(small):
            met = ev.score_met(score, small[t].min_score[self._combo]) & self._limits_met(program, t, small[t], values)
            qualified_all = np.where(met, t, qualified_all)
        earned = np.asarray(self.inputs.partners.tier_on_record, dtype=np.int64).copy()
        below = np.zeros(self.n, dtype=np.int64)
        steps = []
        for k, period in enumerate(periods):
            qualified = qualified_all[k]
            earned, below, event = ev.step_earned(qualified, earned, below, program.grace_periods)
            effective, _ = ev.apply_overrides(self.inputs.overrides, period.end, earned)
            steps.append(Step({m: values[m][k] for m in used}, score[k], qualified, earned, effective, event, below))
        return Run(program, steps, lambda: self.thresholds(program))

    def _score(self, program: Program, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """(periods, partners) scores: each component's points cached, summed in file order as
        ``evaluate.total_score`` sums them, so an edit of one component recomputes only that one."""
        key = tuple((c.metric, cache_key(program, c.metric)[1], c.points, c.target) for c in program.score)
        hit = lru_get(self._scores, key)
        if hit is None:
            parts = []
            for c, part_key in zip(program.score, key):
                part = lru_get(self._points, part_key)
                if part is None:
                    part = ev.component_points(dataclasses.replace(program, score=(c,)), values)[0]
                    lru_put(self._points, part_key, part, 2 * len(program.score) + 8)
                parts.append(part)
            hit = ev.total_score(parts, np.zeros((len(self.periods), self.n)))
            lru_put(self._scores, key, hit, 4)
        return hit

    def _limits_met(self, program: Program, t: int, th: ev.Thresholds, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """(periods, partners): every gate and maximum of tier ``t`` met (cached per rule set)."""
        req = program.requirements[program.tiers[t]]
        key = (
            t,
            tuple(req.base.gates.items()),
            tuple(req.base.maxima.items()),
            tuple(
                (v.region, v.partner_type, tuple(v.rule.gates.items()), tuple(v.rule.maxima.items()))
                for v in req.variants
            ),
            tuple(cache_key(program, m) for m in (*th.gates, *th.maxima)),
        )
        hit = lru_get(self._limits, key)
        if hit is None:
            hit = np.ones((len(self.periods), self.n), dtype=bool)
            for m, gate in th.gates.items():
                hit &= ev.gate_met(values[m], gate[self._combo])
            for m, maximum in th.maxima.items():
                hit &= ev.maximum_met(values[m], maximum[self._combo])
            lru_put(self._limits, key, hit, 48)
        return hit


@dataclass
class Step:
    """One period of one program's run (the columns a what-if needs)."""

    values: dict[str, np.ndarray]
    score: np.ndarray
    qualified: np.ndarray
    earned: np.ndarray
    effective: np.ndarray
    event: np.ndarray
    below: np.ndarray


class Run:
    """One program's run over periods ``0 .. k``; per-partner thresholds computed when asked."""

    def __init__(self, program: Program, steps: list[Step], thresholds: Callable[[], dict[int, ev.Thresholds]]):
        self.program = program
        self.steps = steps
        self._thresholds = thresholds
        self._resolved: dict[int, ev.Thresholds] | None = None

    @property
    def thresholds(self) -> dict[int, ev.Thresholds]:
        if self._resolved is None:
            self._resolved = self._thresholds()
        return self._resolved


def lru_get(cache: dict, key):
    value = cache.pop(key, None)
    if value is not None:
        cache[key] = value
    return value


def lru_put(cache: dict, key, value, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        del cache[next(iter(cache))]


def cache_key(program: Program, metric: str) -> tuple[str, str]:
    if metric.startswith(CERT_PREFIX):
        return (metric, "cert")
    return (metric, program.metrics[metric].rollup)
